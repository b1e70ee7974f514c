/// The rules about money: what was authorized, what the provider holds, and captures and refunds against
/// shipments and returns.
extension AuditRules {
    /// Every successful authorization of a placed checkout's order is for the order's total.
    public static func authorizationIsOrderTotal(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        var examined = 0
        let ordersByCheckout = Dictionary(grouping: s.orders, by: \.checkoutID)
        let paymentsByOrder = Dictionary(grouping: s.payments, by: \.orderID)
        for co in s.checkouts where co.isPlaced {
            for order in ordersByCheckout[co.checkoutID] ?? [] {
                for p in paymentsByOrder[order.orderID] ?? [] where p.isAuthorization {
                    examined += 1
                    if p.amountMinor != order.totalMinor {
                        c.add("order \(order.orderID): payment \(p.paymentID) authorized \(p.amountMinor), "
                            + "order total \(order.totalMinor)")
                    }
                }
            }
        }
        return check(
            "authorization-is-total", "every placed order's authorization is for the order's total",
            examined: examined, c)
    }

    /// Nobody is charged twice: per order at most one intent that holds or took money; per intent captured ≤
    /// authorized and refunded ≤ captured; every authorization the provider approved belongs to an intent that
    /// sent exactly that key, is for its amount and agrees on captures and refunds, and no Authorize key has two.
    public static func noDoubleCharge(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let charging = Dictionary(grouping: s.payments.filter(\.isAuthorization), by: \.orderID)
        for (orderID, intents) in charging.sorted(by: { $0.key < $1.key }) where intents.count > 1 {
            c.add("order \(orderID): \(intents.count) intents hold or took money "
                + "(\(intents.map(\.paymentID).sorted().joined(separator: ", ")))")
        }
        for p in s.payments {
            if p.capturedMinor < 0 || p.capturedMinor > p.amountMinor {
                c.add("payment \(p.paymentID): captured \(p.capturedMinor) of \(p.amountMinor) authorized")
            }
            if p.refundedMinor < 0 || p.refundedMinor > p.capturedMinor {
                c.add("payment \(p.paymentID): refunded \(p.refundedMinor) of \(p.capturedMinor) captured")
            }
        }
        let intents = Dictionary(s.payments.map { ($0.paymentID, $0) }, uniquingKeysWith: { a, _ in a })
        var approvedPerKey: [String: Int] = [:]
        for a in s.providerAuthorizations where a.approved {
            guard let id = ProviderAuthorizationFacts.paymentID(fromProviderKey: a.providerKey), let p = intents[id] else {
                c.add("provider authorization \(a.providerKey) of \(a.amountMinor) belongs to no payment intent")
                continue
            }
            approvedPerKey[p.idempotencyKey, default: 0] += 1
            providerAgrees(a, p, &c)
        }
        for (key, n) in approvedPerKey.sorted(by: { $0.key < $1.key }) where n > 1 {
            c.add("Authorize key \(key): \(n) provider authorizations")
        }
        return check(
            "no-double-charge",
            "per order ≤ 1 charging intent; captured ≤ authorized, refunded ≤ captured; the provider's records "
                + "match the intents, ≤ 1 provider authorization per key",
            examined: s.payments.count + s.providerAuthorizations.count, c)
    }

    /// One approved provider authorization against the intent its key names.
    private static func providerAgrees(_ a: ProviderAuthorizationFacts, _ p: PaymentFacts, _ c: inout Collector) {
        let id = p.paymentID
        if let sent = p.providerKey, sent != a.providerKey {
            c.add("payment \(id): provider authorization under \(a.providerKey), the intent sent \(sent)")
        }
        // The intent's ledger moves first and the provider confirms after; once nothing is pending they agree.
        let settled = p.pendingOperations == 0
        if p.status == "voided" {
            if !a.voided && settled { c.add("payment \(id) is voided, the provider still holds \(a.amountMinor)") }
        } else if !p.isAuthorization {
            c.add("payment \(id) is \(p.status), the provider approved \(a.amountMinor)")
        }
        if a.amountMinor != p.amountMinor {
            c.add("payment \(id): provider authorized \(a.amountMinor), the intent \(p.amountMinor)")
        }
        if let mine = p.providerReference, let theirs = a.reference, mine != theirs {
            c.add("payment \(id): provider reference \(theirs), the intent has \(mine)")
        }
        if a.capturedMinor > p.capturedMinor || (settled && a.capturedMinor != p.capturedMinor) {
            c.add("payment \(id): provider captured \(a.capturedMinor), the intent \(p.capturedMinor)")
        }
        if a.refundedMinor > p.refundedMinor || (settled && a.refundedMinor != p.refundedMinor) {
            c.add("payment \(id): provider refunded \(a.refundedMinor), the intent \(p.refundedMinor)")
        }
    }

    /// Per authorization of a placed checkout's order: captured = the shipped share (Σ of its shipped and
    /// delivered shipments), refunded = the returned share (Σ of its returns' refunds). (What a checkout that did
    /// not place may keep is `noOrphans`' and `rejectedCheckoutsClean`'s business: nothing.)
    public static func chargesFollowFulfilment(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        var examined = 0
        let placed = Set(s.checkouts.filter(\.isPlaced).map(\.checkoutID))
        let known = Set(s.orders.filter { placed.contains($0.checkoutID) }.map(\.orderID))
        var shipped: [String: Int64] = [:]
        for sh in s.shipments where sh.hasShipped { shipped[sh.orderID, default: 0] += sh.amountMinor }
        var refunded: [String: Int64] = [:]
        for r in s.returns { refunded[r.orderID, default: 0] += r.refundMinor }
        for p in s.payments where p.isAuthorization && known.contains(p.orderID) {
            examined += 1
            let share = shipped[p.orderID] ?? 0
            if p.capturedMinor != share {
                c.add("payment \(p.paymentID) (order \(p.orderID)): captured \(p.capturedMinor), shipped share \(share)")
            }
            let back = refunded[p.orderID] ?? 0
            if p.refundedMinor != back {
                c.add("payment \(p.paymentID) (order \(p.orderID)): refunded \(p.refundedMinor), returns refund \(back)")
            }
        }
        return check(
            "charges-follow-fulfilment", "per authorization: captured = shipped share, refunded = returned share",
            examined: examined, c)
    }
}
