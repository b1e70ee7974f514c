import OMSLoadgenCore
import Testing

/// Every rule fed crafted facts: a consistent world passes; each kind of damage fails the matching rule and
/// no other.
@Suite struct AuditRulesTests {
    /// A consistent world: one SKU (10 stocked, 3 sold, 1 held), a placed checkout, a declined one, an out-of-stock
    /// one, and one still running inside the recovery window with a hold that has not lapsed beyond the grace.
    static func clean() -> AuditSnapshot {
        AuditSnapshot(
            skus: [
                SkuFacts(
                    sku: "lg-hot", onHand: 7, reserved: 1, ledgerStocked: 10, ledgerSold: 3, committedUnits: 3,
                    heldUnits: 1, orderedUnits: 3, expectedStocked: 10, redisUnits: 5, redisHeldUnits: 1),
                // A SKU whose gate is cold: no Redis key, so the Redis rule does not look at it.
                SkuFacts(
                    sku: "lg-cold", onHand: 4, reserved: 0, ledgerStocked: 4, ledgerSold: 0, committedUnits: 0,
                    heldUnits: 0, orderedUnits: 0, expectedStocked: 4, redisUnits: nil),
            ],
            checkouts: [
                CheckoutFacts(
                    checkoutID: "c1", idempotencyKey: "k1", isOpen: false, phase: "done", outcome: "placed",
                    ageSeconds: 9),
                CheckoutFacts(
                    checkoutID: "c2", idempotencyKey: "k2", isOpen: false, phase: "done", outcome: "payment_declined",
                    ageSeconds: 8),
                CheckoutFacts(
                    checkoutID: "c3", idempotencyKey: "k3", isOpen: false, phase: "done", outcome: "out_of_stock",
                    ageSeconds: 7),
                CheckoutFacts(
                    checkoutID: "c4", idempotencyKey: "k4", isOpen: true, phase: "authorize", outcome: nil,
                    ageSeconds: 59),
            ],
            orders: [
                OrderFacts(orderID: "o1", checkoutID: "c1", status: "confirmed"),
                OrderFacts(orderID: "o2", checkoutID: "c2", status: "cancelled"),
            ],
            payments: [
                PaymentFacts(
                    paymentID: "p1", idempotencyKey: "c1", orderID: "o1", status: "authorized", capturedMinor: 0,
                    refundedMinor: 0),
                PaymentFacts(
                    paymentID: "p2", idempotencyKey: "c2", orderID: "o2", status: "failed", capturedMinor: 0,
                    refundedMinor: 0),
            ],
            reservations: [
                ReservationFacts(reservationID: "c1", state: "committed", secondsPastExpiry: -300),
                ReservationFacts(reservationID: "c2", state: "released", secondsPastExpiry: -300),
                ReservationFacts(reservationID: "c4", state: "held", secondsPastExpiry: 12),
            ],
            lapsedHolds: [ReservationFacts(reservationID: "c4", state: "held", secondsPastExpiry: 12)],
            clientOutcomes: [
                "k1": .placed(orderID: "o1"), "k2": .rejected(reason: "payment_declined"),
                "k3": .rejected(reason: "out_of_stock"), "k4": .unknown(detail: "deadline exceeded"),
            ],
            redisChecked: true, recoveryWindowSeconds: 60, expiryGraceSeconds: 30)
    }

    static let allRules: Set<String> = [
        "stock-conserved", "stock-non-negative", "redis-matches-mysql", "placed-orders-confirmed",
        "rejected-checkouts-clean", "checkouts-finished", "client-agrees", "no-lapsed-reservations",
    ]

    /// Names of the rules that failed.
    func failed(_ s: AuditSnapshot) -> Set<String> {
        Set(AuditRules.evaluate(s).checks.filter { !$0.passed }.map(\.name))
    }

    /// The violations of one rule.
    func violations(_ s: AuditSnapshot, _ rule: String) -> [String] {
        AuditRules.evaluate(s).checks.first { $0.name == rule }?.violations ?? []
    }

    @Test func aConsistentWorldPassesEveryRule() {
        let report = AuditRules.evaluate(Self.clean())
        #expect(report.passed)
        #expect(Set(report.checks.map(\.name)) == Self.allRules)
        #expect(report.checks.count == Self.allRules.count)
        for c in report.checks {
            #expect(c.violations.isEmpty && c.violationCount == 0 && c.skipped == nil, "\(c.name): \(c.violations)")
        }
        let examined = Dictionary(uniqueKeysWithValues: report.checks.map { ($0.name, $0.examined) })
        #expect(examined["stock-conserved"] == 2)
        #expect(examined["redis-matches-mysql"] == 1, "the cold SKU is not compared")
        #expect(examined["placed-orders-confirmed"] == 1)
        #expect(examined["rejected-checkouts-clean"] == 2)
        #expect(examined["checkouts-finished"] == 4)
        #expect(examined["client-agrees"] == 4)
        #expect(examined["no-lapsed-reservations"] == 1)
        #expect(AuditRules.evaluate(AuditSnapshot()).passed, "an empty suite passes")
    }

    // MARK: Stock

    @Test func anOversoldSkuFailsStockConserved() {
        var s = Self.clean()
        // 12 sold of 10 stocked, everything else agreeing (on hand 0, nothing held).
        s.skus[0] = SkuFacts(
            sku: "lg-hot", onHand: 0, reserved: 0, ledgerStocked: 10, ledgerSold: 12, committedUnits: 12, heldUnits: 0,
            orderedUnits: 12, expectedStocked: 10, redisUnits: 0, redisHeldUnits: 0)
        #expect(failed(s) == ["stock-conserved"])
        #expect(violations(s, "stock-conserved").contains("lg-hot: OVERSOLD 12 of 10"))
    }

    @Test func ledgerReservationsAndOrdersMustAgreeOnUnitsSold() {
        var s = Self.clean()
        s.skus[0].ledgerSold = 4
        #expect(failed(s) == ["stock-conserved"])
        s = Self.clean()
        s.skus[0].orderedUnits = 2
        #expect(failed(s) == ["stock-conserved"])
        s = Self.clean()
        s.skus[0].expectedStocked = 11
        #expect(failed(s) == ["stock-conserved"])
        // A standalone audit does not know what was stocked: nothing to compare.
        s.skus[0].expectedStocked = nil
        #expect(failed(s).isEmpty)
    }

    @Test func negativeAvailableStockFailsStockNonNegative() {
        var s = Self.clean()
        // 3 reserved of 2 on hand: available −1; stocked = on hand + sold still holds.
        s.skus[1] = SkuFacts(
            sku: "lg-cold", onHand: 2, reserved: 3, ledgerStocked: 2, ledgerSold: 0, committedUnits: 0, heldUnits: 3,
            orderedUnits: 0, expectedStocked: 2, redisUnits: nil)
        #expect(failed(s) == ["stock-non-negative"])
        #expect(violations(s, "stock-non-negative") == ["lg-cold: on hand 2, reserved 3, available -1"])
    }

    @Test func negativeOnHandIsAlsoAnOversell() {
        var s = Self.clean()
        // On hand −1 with the ledger balanced means 1 unit more sold than stocked: two rules see it.
        s.skus[1] = SkuFacts(
            sku: "lg-cold", onHand: -1, reserved: 0, ledgerStocked: 4, ledgerSold: 5, committedUnits: 5, heldUnits: 0,
            orderedUnits: 5, expectedStocked: 4, redisUnits: nil)
        #expect(failed(s) == ["stock-non-negative", "stock-conserved"])
    }

    @Test func reservedMustEqualTheUnitsOfHeldReservations() {
        var s = Self.clean()
        s.skus[0].heldUnits = 2
        #expect(failed(s) == ["stock-non-negative"])
    }

    @Test func redisDifferentFromMySQLFailsRedisMatchesMySQL() {
        var s = Self.clean()
        s.skus[0].redisUnits = 6  // MySQL available 6 − 1 held in the gate = 5
        #expect(failed(s) == ["redis-matches-mysql"])
        #expect(violations(s, "redis-matches-mysql") == ["lg-hot: Redis 6, MySQL available 6 − holds 1"])
    }

    @Test func redisNotReadSkipsTheRedisRuleWithoutFailing() {
        var s = Self.clean()
        s.skus[0].redisUnits = 99
        s.redisChecked = false
        let check = AuditRules.redisMatchesMySQL(s)
        #expect(check.passed && check.examined == 0)
        #expect(check.skipped == "Redis was not read")
        #expect(AuditRules.evaluate(s).passed)
    }

    // MARK: Placed checkouts

    @Test(arguments: [
        // No successful authorization: the only intent failed.
        [
            PaymentFacts(
                paymentID: "p1", idempotencyKey: "c1", orderID: "o1", status: "failed", capturedMinor: 0,
                refundedMinor: 0)
        ],
        // Two successful authorizations for one order.
        [
            PaymentFacts(
                paymentID: "p1", idempotencyKey: "c1", orderID: "o1", status: "authorized", capturedMinor: 0,
                refundedMinor: 0),
            PaymentFacts(
                paymentID: "p9", idempotencyKey: "c1-again", orderID: "o1", status: "captured", capturedMinor: 500,
                refundedMinor: 0),
        ],
        // None at all.
        [],
    ])
    func aPlacedOrderWithoutExactlyOneAuthorizationFailsPlacedOrdersConfirmed(payments: [PaymentFacts]) {
        var s = Self.clean()
        s.payments = payments + [Self.clean().payments[1]]
        #expect(failed(s) == ["placed-orders-confirmed"])
        #expect(
            violations(s, "placed-orders-confirmed").contains {
                $0.hasPrefix("order o1: ") && $0.contains("successful authorizations")
            })
    }

    @Test func aPlacedCheckoutNeedsOneConfirmedOrderAndACommittedReservation() {
        var s = Self.clean()
        s.orders[0].status = "pending_payment"
        #expect(failed(s) == ["placed-orders-confirmed"])

        s = Self.clean()
        s.orders.append(OrderFacts(orderID: "o1b", checkoutID: "c1", status: "confirmed"))
        #expect(failed(s).contains("placed-orders-confirmed"))
        #expect(violations(s, "placed-orders-confirmed") == ["checkout c1: 2 orders"])

        s = Self.clean()
        s.reservations[0].state = "released"
        #expect(failed(s) == ["placed-orders-confirmed"])

        s = Self.clean()
        s.reservations.removeFirst()
        #expect(failed(s) == ["placed-orders-confirmed"])
        #expect(violations(s, "placed-orders-confirmed") == ["checkout c1: no reservation"])
    }

    // MARK: Rejected checkouts

    @Test func aRejectedCheckoutWithALiveOrderFailsRejectedCheckoutsClean() {
        var s = Self.clean()
        s.orders[1].status = "pending_payment"
        #expect(failed(s) == ["rejected-checkouts-clean"])
        #expect(
            violations(s, "rejected-checkouts-clean") == [
                "rejected checkout c2 (payment_declined): order o2 is pending_payment"
            ])
    }

    @Test func aRejectedCheckoutWithHeldStockFailsRejectedCheckoutsClean() {
        var s = Self.clean()
        s.reservations[1].state = "held"
        #expect(failed(s) == ["rejected-checkouts-clean"])
        #expect(violations(s, "rejected-checkouts-clean") == ["rejected checkout c2: reservation still held"])
    }

    @Test(arguments: [
        ("authorized", Int64(0), Int64(0)), ("pending", 0, 0), ("captured", 4999, 0),
        ("partially_refunded", 4999, 1000),
    ])
    func aRejectedCheckoutWithANetChargeFailsRejectedCheckoutsClean(status: String, captured: Int64, refunded: Int64) {
        var s = Self.clean()
        s.payments[1] = PaymentFacts(
            paymentID: "p2", idempotencyKey: "c2", orderID: "o2", status: status, capturedMinor: captured,
            refundedMinor: refunded)
        #expect(failed(s) == ["rejected-checkouts-clean"])
        #expect(violations(s, "rejected-checkouts-clean").count == 1)
    }

    @Test(arguments: [("voided", Int64(0), Int64(0)), ("refunded", 4999, 4999), ("failed", 0, 0)])
    func paymentsWithoutANetChargeLeaveARejectedCheckoutClean(status: String, captured: Int64, refunded: Int64) {
        var s = Self.clean()
        s.payments[1] = PaymentFacts(
            paymentID: "p2", idempotencyKey: "c2", orderID: "o2", status: status, capturedMinor: captured,
            refundedMinor: refunded)
        #expect(failed(s).isEmpty)
    }

    @Test func aChargeFoundOnlyThroughTheRejectedCheckoutsOrderCounts() {
        var s = Self.clean()
        // Keyed by something else, but attached to the rejected checkout's order.
        s.payments.append(
            PaymentFacts(
                paymentID: "p7", idempotencyKey: "other", orderID: "o2", status: "authorized", capturedMinor: 0,
                refundedMinor: 0))
        #expect(failed(s) == ["rejected-checkouts-clean"])
    }

    // MARK: Time

    @Test func anUnfinishedCheckoutPastTheWindowFailsCheckoutsFinished() {
        var s = Self.clean()
        s.checkouts[3].ageSeconds = 61
        #expect(failed(s) == ["checkouts-finished"])
        #expect(violations(s, "checkouts-finished") == ["checkout c4 (key k4) open in phase authorize after 61 s"])
        // The same age inside a longer window is fine.
        s.recoveryWindowSeconds = 120
        #expect(failed(s).isEmpty)
    }

    @Test func aLapsedReservationFailsNoLapsedReservations() {
        var s = Self.clean()
        s.lapsedHolds[0].secondsPastExpiry = 31
        #expect(failed(s) == ["no-lapsed-reservations"])
        #expect(violations(s, "no-lapsed-reservations") == ["reservation c4 held 31 s past its expiry"])
        // Exactly the grace period is still within it; a reservation that left `held` is not lapsed.
        s.lapsedHolds[0].secondsPastExpiry = 30
        #expect(failed(s).isEmpty)
        s.lapsedHolds[0] = ReservationFacts(reservationID: "c4", state: "expired", secondsPastExpiry: 3600)
        #expect(failed(s).isEmpty)
    }

    // MARK: Client

    @Test func whatTheClientWasToldMustMatchTheLog() {
        var s = Self.clean()
        s.clientOutcomes["k2"] = .placed(orderID: "o2")
        #expect(failed(s) == ["client-agrees"])

        s = Self.clean()
        s.clientOutcomes["k1"] = .placed(orderID: "o-other")
        #expect(failed(s) == ["client-agrees"])
        #expect(violations(s, "client-agrees") == ["key k1: client was told order o-other, log has o1"])

        s = Self.clean()
        s.clientOutcomes["k1"] = .rejected(reason: "out_of_stock")
        #expect(failed(s) == ["client-agrees"])

        s = Self.clean()
        s.clientOutcomes["k-lost"] = .placed(orderID: "o5")
        #expect(failed(s) == ["client-agrees"])
        #expect(violations(s, "client-agrees") == ["key k-lost: client was told placed, no checkout recorded"])

        // An unknown answer is left to the other rules.
        s = Self.clean()
        s.clientOutcomes["k1"] = .unknown(detail: "timeout")
        #expect(failed(s).isEmpty)
    }

    // MARK: Report

    @Test func violationsAreListedUpToTheLimitAndAllCounted() {
        var s = Self.clean()
        s.lapsedHolds = (0..<25).map {
            ReservationFacts(reservationID: "r\($0)", state: "held", secondsPastExpiry: 100)
        }
        let check = AuditRules.noLapsedReservations(s)
        #expect(check.violationCount == 25)
        #expect(check.violations.count == AuditRules.maxListedViolations)
        #expect(check.examined == 25)
        #expect(AuditRules.evaluate(s).checks.count == Self.allRules.count)
        #expect(AuditRules.evaluate(s).text.contains("… and 5 more"))
    }

    @Test func reportTextNamesTheVerdictAndTheFailingRule() {
        #expect(AuditRules.evaluate(Self.clean()).text.hasPrefix("audit: PASSED\n"))
        var s = Self.clean()
        s.checkouts[3].ageSeconds = 100
        let text = AuditRules.evaluate(s).text
        #expect(text.hasPrefix("audit: FAILED\n"))
        let line = text.split(separator: "\n").first { $0.contains("checkouts-finished") }
        #expect(line?.contains("[FAIL]") == true && line?.contains("1 violation(s)") == true)
        #expect(text.contains("         - checkout c4 (key k4) open in phase authorize after 100 s"))
        s.redisChecked = false
        #expect(AuditRules.evaluate(s).text.contains("[skip] redis-matches-mysql"))
    }
}
