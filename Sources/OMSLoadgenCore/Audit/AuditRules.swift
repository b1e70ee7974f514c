/// The invariants of the suite, judged over an `AuditSnapshot` (plain data, no I/O).
public enum AuditRules {
    /// Violations listed per rule; the rest are only counted.
    public static let maxListedViolations = 20

    /// Runs every rule.
    /// - Parameter s: the facts.
    /// - Returns: one check per rule, in a fixed order.
    public static func evaluate(_ s: AuditSnapshot) -> AuditReport {
        AuditReport(checks: [
            stockConserved(s), stockNonNegative(s), redisMatchesMySQL(s), placedOrdersConfirmed(s),
            rejectedCheckoutsClean(s), checkoutsFinished(s), clientAgrees(s), noLapsedReservations(s),
            authorizationIsOrderTotal(s), noDoubleCharge(s), noOrphans(s), chargesFollowFulfilment(s),
            restocksAppliedOnce(s), outboxesDrained(s), replaysAgree(s),
        ])
    }

    /// Violation lines of one rule: the first `maxListedViolations` kept, all counted.
    struct Collector {
        var lines: [String] = []
        var count = 0
        mutating func add(_ line: String) {
            count += 1
            if lines.count < AuditRules.maxListedViolations { lines.append(line) }
        }
    }

    static func check(
        _ name: String, _ summary: String, examined: Int, _ c: Collector, skipped: String? = nil
    ) -> AuditCheck {
        AuditCheck(
            name: name, summary: summary, examined: examined, violations: c.lines, violationCount: c.count,
            skipped: skipped)
    }

    /// Per SKU: units stocked = on hand + units sold, nothing oversold; the ledger, the committed reservations
    /// and the paid orders agree on the units sold (a return does not undo a sale: the order keeps its lines and
    /// the reservation stays committed); stocked = what setup put in + the units returned (when setup is known),
    /// so a restock applied twice shows as phantom stock.
    public static func stockConserved(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for k in s.skus {
            let sold = k.committedUnits
            if k.ledgerStocked != k.onHand + sold {
                c.add("\(k.sku): stocked \(k.ledgerStocked) != on hand \(k.onHand) + sold \(sold)")
            }
            if k.ledgerSold != sold {
                c.add("\(k.sku): ledger says \(k.ledgerSold) sold, committed reservations \(sold)")
            }
            if k.orderedUnits != sold {
                c.add("\(k.sku): \(k.orderedUnits) units in paid orders, \(sold) sold")
            }
            if let expected = k.expectedStocked, expected + k.returnedUnits != k.ledgerStocked {
                c.add(
                    "\(k.sku): setup stocked \(expected) + returned \(k.returnedUnits), ledger says \(k.ledgerStocked)")
            }
            if sold > k.ledgerStocked {
                c.add("\(k.sku): OVERSOLD \(sold) of \(k.ledgerStocked)")
            }
        }
        return check(
            "stock-conserved",
            "per SKU: stocked = on hand + sold = setup + returned; ledger, reservations and orders agree; no oversell",
            examined: s.skus.count, c)
    }

    /// Per SKU: on hand, reserved and available never negative; reserved equals the units in held reservations.
    public static func stockNonNegative(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for k in s.skus {
            if k.onHand < 0 || k.reserved < 0 || k.onHand - k.reserved < 0 {
                c.add("\(k.sku): on hand \(k.onHand), reserved \(k.reserved), available \(k.onHand - k.reserved)")
            }
            if k.reserved != k.heldUnits {
                c.add("\(k.sku): reserved \(k.reserved) but held reservations hold \(k.heldUnits)")
            }
        }
        return check(
            "stock-non-negative", "per SKU: on hand, reserved, available ≥ 0; reserved = units in held reservations",
            examined: s.skus.count, c)
    }

    /// Per SKU with a warm gate key: Redis units = MySQL available − in-flight gate holds (after reconciliation).
    public static func redisMatchesMySQL(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        var examined = 0
        guard s.redisChecked else {
            return check(
                "redis-matches-mysql", "per SKU: Redis gate units = MySQL available − in-flight holds", examined: 0, c,
                skipped: "Redis was not read")
        }
        for k in s.skus {
            guard let units = k.redisUnits else { continue }
            examined += 1
            let expected = k.onHand - k.reserved - k.redisHeldUnits
            if units != expected {
                c.add("\(k.sku): Redis \(units), MySQL available \(k.onHand - k.reserved) − holds \(k.redisHeldUnits)")
            }
        }
        return check(
            "redis-matches-mysql", "per SKU: Redis gate units = MySQL available − in-flight holds (after Reconcile)",
            examined: examined, c)
    }

    /// Every placed checkout has a confirmed order with exactly one successful authorization, and the
    /// reservation was committed.
    public static func placedOrdersConfirmed(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let ordersByCheckout = Dictionary(grouping: s.orders, by: \.checkoutID)
        let paymentsByOrder = Dictionary(grouping: s.payments, by: \.orderID)
        let reservations = Dictionary(s.reservations.map { ($0.reservationID, $0) }, uniquingKeysWith: { a, _ in a })
        let placed = s.checkouts.filter(\.isPlaced)
        for co in placed {
            let orders = ordersByCheckout[co.checkoutID] ?? []
            guard orders.count == 1, let order = orders.first else {
                c.add("checkout \(co.checkoutID): \(orders.count) orders")
                continue
            }
            if !order.isConfirmed {
                c.add("checkout \(co.checkoutID): order \(order.orderID) is \(order.status)")
            }
            let auths = (paymentsByOrder[order.orderID] ?? []).filter(\.isAuthorization)
            if auths.count != 1 {
                c.add("order \(order.orderID): \(auths.count) successful authorizations")
            }
            if let r = reservations[co.checkoutID], r.state != "committed" {
                c.add("checkout \(co.checkoutID): reservation is \(r.state), not committed")
            } else if reservations[co.checkoutID] == nil {
                c.add("checkout \(co.checkoutID): no reservation")
            }
        }
        return check(
            "placed-orders-confirmed",
            "every placed checkout: one confirmed order, exactly one authorization, reservation committed",
            examined: placed.count, c)
    }

    /// Every rejected checkout: no order in a live state, no held stock, no net charge.
    public static func rejectedCheckoutsClean(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let ordersByCheckout = Dictionary(grouping: s.orders, by: \.checkoutID)
        let paymentsByKey = Dictionary(grouping: s.payments, by: \.idempotencyKey)
        let paymentsByOrder = Dictionary(grouping: s.payments, by: \.orderID)
        let reservations = Dictionary(s.reservations.map { ($0.reservationID, $0) }, uniquingKeysWith: { a, _ in a })
        let rejected = s.checkouts.filter { !$0.isOpen && !$0.isPlaced }
        for co in rejected {
            let orders = ordersByCheckout[co.checkoutID] ?? []
            for o in orders where o.isLive {
                c.add("rejected checkout \(co.checkoutID) (\(co.outcome ?? "?")): order \(o.orderID) is \(o.status)")
            }
            if let r = reservations[co.checkoutID], r.state == "held" {
                c.add("rejected checkout \(co.checkoutID): reservation still held")
            }
            var payments = paymentsByKey[co.checkoutID] ?? []
            for o in orders { payments += paymentsByOrder[o.orderID] ?? [] }
            var seen = Set<String>()
            for p in payments where seen.insert(p.paymentID).inserted && p.hasNetCharge {
                c.add("rejected checkout \(co.checkoutID): payment \(p.paymentID) is \(p.status) "
                    + "(captured \(p.capturedMinor), refunded \(p.refundedMinor))")
            }
        }
        return check(
            "rejected-checkouts-clean", "every rejected checkout: no live order, no held stock, no net charge",
            examined: rejected.count, c)
    }

    /// No checkout is still open once the recovery window has passed.
    public static func checkoutsFinished(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for co in s.checkouts where co.isOpen && co.ageSeconds > s.recoveryWindowSeconds {
            c.add("checkout \(co.checkoutID) (key \(co.idempotencyKey)) open in phase \(co.phase) "
                + "after \(Int(co.ageSeconds)) s")
        }
        return check(
            "checkouts-finished",
            "no checkout unfinished after the recovery window (\(Int(s.recoveryWindowSeconds)) s)",
            examined: s.checkouts.count, c)
    }

    /// What the client was told matches the coordinator's log: every request the client sent has a checkout,
    /// a "placed" answer is placed in the log (same order), a rejection is not placed.
    public static func clientAgrees(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        let byKey = Dictionary(s.checkouts.map { ($0.idempotencyKey, $0) }, uniquingKeysWith: { a, _ in a })
        let orderByCheckout = Dictionary(s.orders.map { ($0.checkoutID, $0.orderID) }, uniquingKeysWith: { a, _ in a })
        for (key, outcome) in s.clientOutcomes.sorted(by: { $0.key < $1.key }) {
            let co = byKey[key]
            switch outcome {
            case .placed(let orderID):
                guard let co else {
                    c.add("key \(key): client was told placed, no checkout recorded")
                    continue
                }
                if !co.isPlaced { c.add("key \(key): client was told placed, log says \(co.outcome ?? "open")") }
                if orderByCheckout[co.checkoutID] != orderID {
                    c.add("key \(key): client was told order \(orderID), log has \(orderByCheckout[co.checkoutID] ?? "none")")
                }
            case .rejected(let reason):
                if let co, co.isPlaced { c.add("key \(key): client was told rejected (\(reason)), log says placed") }
            case .unknown:
                break  // Resolved by the suite; the other rules judge the end state.
            }
        }
        return check(
            "client-agrees", "the answers the load generator received match the coordinator's log",
            examined: s.clientOutcomes.count, c)
    }

    /// No held reservation outlives its expiry by more than the grace period.
    public static func noLapsedReservations(_ s: AuditSnapshot) -> AuditCheck {
        var c = Collector()
        for r in s.lapsedHolds where r.state == "held" && r.secondsPastExpiry > s.expiryGraceSeconds {
            c.add("reservation \(r.reservationID) held \(Int(r.secondsPastExpiry)) s past its expiry")
        }
        return check(
            "no-lapsed-reservations",
            "no reservation held past its expiry (grace \(Int(s.expiryGraceSeconds)) s)",
            examined: s.lapsedHolds.count, c)
    }
}
