/// The rules across services and over the recorded history: nothing orphaned, every restock applied once,
/// every outbox delivered, replays answered like the first call.
extension AuditRules {
    /// Nothing is left behind in any service by a checkout that did not place: no live order (pending_payment
    /// included) whose checkout is unknown or rejected, no payment with a net charge whose checkout is not placed,
    /// no held reservation of a finished checkout, no shipment (not cancelled) of a cancelled or unknown order.
    /// Open checkouts are left to `checkoutsFinished`.
    public static func noOrphans(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let checkouts = Dictionary(s.checkouts.map { ($0.checkoutID, $0) }, uniquingKeysWith: { a, _ in a })
        let orders = Dictionary(s.orders.map { ($0.orderID, $0) }, uniquingKeysWith: { a, _ in a })
        /// Why a checkout leaves nothing live behind (unknown, or its rejection), nil when placed or still open.
        func ended(_ checkoutID: String?) -> String? {
            guard let checkoutID, let co = checkouts[checkoutID] else { return "unknown" }
            return co.isOpen || co.isPlaced ? nil : (co.outcome ?? "rejected")
        }
        for o in s.orders where o.isLive {
            if let why = ended(o.checkoutID) {
                c.add("order \(o.orderID) is \(o.status), its checkout \(o.checkoutID) is \(why)")
            }
        }
        for p in s.payments where p.hasNetCharge {
            // The Authorize key is the checkout id; an intent keyed otherwise is judged by its order's checkout.
            let checkoutID = checkouts[p.idempotencyKey] != nil ? p.idempotencyKey : orders[p.orderID]?.checkoutID
            if let why = ended(checkoutID) {
                c.add("payment \(p.paymentID) is \(p.status) (captured \(p.capturedMinor), refunded "
                    + "\(p.refundedMinor)), its checkout \(checkoutID ?? p.idempotencyKey) is \(why)")
            }
        }
        for r in s.reservations where r.state == "held" {
            if let co = checkouts[r.reservationID], !co.isOpen {
                c.add("reservation \(r.reservationID) still held, its checkout ended \(co.outcome ?? "?")")
            }
        }
        for sh in s.shipments where sh.status != "cancelled" {
            guard let o = orders[sh.orderID] else {
                c.add("shipment \(sh.shipmentID) is \(sh.status), its order \(sh.orderID) is unknown")
                continue
            }
            if o.status == "cancelled" {
                c.add("shipment \(sh.shipmentID) is \(sh.status), its order \(o.orderID) is cancelled")
            }
        }
        return check(
            "no-orphans",
            "no live order, net charge or held stock of a checkout that did not place; no shipment of a "
                + "cancelled or unknown order",
            examined: s.orders.count + s.payments.count + s.reservations.count + s.shipments.count, c)
    }

    /// Per SKU: the ledger put back exactly the units of the audited orders' returns (a restock delivered twice
    /// is phantom stock; one never applied is stock lost).
    public static func restocksAppliedOnce(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for k in s.skus where k.ledgerRestocked != k.returnedUnits {
            if k.ledgerRestocked > k.returnedUnits {
                c.add("\(k.sku): PHANTOM STOCK: restocked \(k.ledgerRestocked) for \(k.returnedUnits) returned units")
            } else {
                c.add("\(k.sku): restocked \(k.ledgerRestocked) of \(k.returnedUnits) returned units")
            }
        }
        return check(
            "restocks-applied-once", "per SKU: units restocked by the ledger = units returned", examined: s.skus.count,
            c)
    }

    /// Every refund, restock, capture and order record the outboxes owe was delivered within the window.
    public static func outboxesDrained(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for row in s.undeliveredOutbox {
            c.add("\(row.service) outbox row \(row.rowID) (\(row.kind)) is \(row.state)")
        }
        return check(
            "outboxes-drained", "no outbox row of the audited orders and shipments left undelivered",
            examined: s.undeliveredOutbox.count, c)
    }

    /// Every checkout sent again after the recovery window (same key, same request) got the checkout's final
    /// outcome: the same order for placed, the same rejection otherwise, and the same answer as the first call
    /// when that one was known.
    public static func replaysAgree(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let byKey = Dictionary(s.checkouts.map { ($0.idempotencyKey, $0) }, uniquingKeysWith: { a, _ in a })
        let orderByCheckout = Dictionary(s.orders.map { ($0.checkoutID, $0.orderID) }, uniquingKeysWith: { a, _ in a })
        for r in s.replays.sorted(by: { $0.idempotencyKey < $1.idempotencyKey }) {
            let key = r.idempotencyKey
            guard r.replay.isKnown else {
                c.add("key \(key): the replay got no final answer: \(r.replay)")
                continue
            }
            guard let co = byKey[key], !co.isOpen else {
                c.add("key \(key): the replay answered \(r.replay), the log has no finished checkout")
                continue
            }
            let final: ClientOutcome =
                co.isPlaced
                ? .placed(orderID: orderByCheckout[co.checkoutID] ?? "none") : .rejected(reason: co.outcome ?? "?")
            if r.replay != final { c.add("key \(key): the replay answered \(r.replay), the final outcome is \(final)") }
            if r.first.isKnown && r.first != r.replay {
                c.add("key \(key): the first call answered \(r.first), the replay \(r.replay)")
            }
        }
        return check(
            "replays-agree", "checkouts sent again after the window answer their final outcome",
            examined: s.replays.count, c)
    }
}
