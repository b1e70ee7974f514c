import Foundation
import OMSAPI
import OMSCore
import OMSRPCCore
import Testing

@testable import Checkout

@Suite("Checkout coordinator against MariaDB with fake services", .serialized)
struct CheckoutCoordinatorTests {
    @Test func happyPathPlacesTheOrderWithCatalogPrices() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let r = try await service.placeOrder(placeOrderRequest(lines: [("A", 2)]), context: CheckoutHarness.context())
            let placed = try #require(r.placed)
            #expect(placed.total == CommonV1.Money(amountMinor: 2500, currency: "USD"))
            #expect(placed.status == .confirmed)
            #expect(placed.reservationID == r.checkoutID)
            #expect(h.services.whole(checkoutID: r.checkoutID).isEmpty)
            #expect(h.services.available("A") == 98)
            #expect(h.services.stockConserved())

            // The log: intent before every step's result.
            let log = try await h.coordinator().log(checkoutID: Int64(r.checkoutID)!)
            let kinds = log.map { "\($0.kind):\($0.step?.rawValue ?? "-")" }
            #expect(kinds == [
                "recorded:-", "intent:reserve", "result:reserve", "intent:createOrder", "result:createOrder",
                "intent:authorize", "result:authorize", "intent:confirmOrder", "result:confirmOrder",
                "intent:commitReservation", "result:commitReservation", "finished:-",
            ])
        }
    }

    @Test func getCheckoutByKeyAndID() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let request = placeOrderRequest()
            let r = try await service.placeOrder(request, context: CheckoutHarness.context())
            let byKey = try #require(
                try await service.getCheckout(
                    CheckoutV1.GetCheckoutRequest(lookup: .idempotencyKey(request.idempotencyKey)),
                    context: CheckoutHarness.context()
                ).checkout)
            #expect(byKey.checkoutID == r.checkoutID)
            #expect(byKey.state == .completed && byKey.phase == "completed")
            #expect(byKey.result == r)
            let byID = try await service.getCheckout(
                CheckoutV1.GetCheckoutRequest(lookup: .checkoutID(r.checkoutID)), context: CheckoutHarness.context())
            #expect(byID.checkout == byKey)
            let missing = await #expect(throws: RPCError.self) {
                try await service.getCheckout(
                    CheckoutV1.GetCheckoutRequest(lookup: .idempotencyKey("nope")), context: CheckoutHarness.context())
            }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func multiLineCart() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let r = try await service.placeOrder(
                placeOrderRequest(lines: [("A", 1), ("B", 3), ("C", 10)]), context: CheckoutHarness.context())
            let expected: Int64 = 1250 + 3 * 799 + 10 * 5
            let total = try #require(r.placed?.total)
            #expect(total.amountMinor == expected)
            #expect(h.services.available("B") == 97 && h.services.available("C") == 90)
            #expect(h.services.whole(checkoutID: r.checkoutID).isEmpty)
        }
    }

    @Test func declinedCardIsCompensatedAndNothingIsLeft() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let r = try await service.placeOrder(
                placeOrderRequest(lines: [("A", 5)], card: FakeServices.decliningCard), context: CheckoutHarness.context())
            guard case .paymentDeclined(let d)? = r.rejection else {
                Issue.record("expected a decline, got \(r)")
                return
            }
            #expect(d.code == .genericDecline)
            #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty)
            #expect(h.services.available("A") == 100)
            #expect(h.services.stockConserved())
            #expect(h.services.callCount("void") == 0)  // nothing was authorized
            #expect(try await h.openCount() == 0)
        }
    }

    @Test func outOfStockIsARejectionWithTheSKUs() async throws {
        try await CheckoutHarness.run { h in
            h.services.addProduct("LAST", price: 100, stock: 1)
            let service = h.service(h.coordinator())
            let r = try await service.placeOrder(
                placeOrderRequest(lines: [("A", 1), ("LAST", 2)]), context: CheckoutHarness.context())
            guard case .outOfStock(let o)? = r.rejection else {
                Issue.record("expected out of stock, got \(r)")
                return
            }
            #expect(o.skus == ["LAST"])
            #expect(h.services.callCount("createOrder") == 0)
            #expect(h.services.available("LAST") == 1 && h.services.available("A") == 100)
            #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty)
        }
    }

    @Test func soldOutIsAnsweredBeforeAnythingIsReservedAndRecordedForTheKey() async throws {
        try await CheckoutHarness.run { h in
            h.services.addProduct("GONE", price: 100, stock: 0)
            let service = h.service(h.coordinator())
            let request = placeOrderRequest(lines: [("A", 1), ("GONE", 1)])
            let r = try await service.placeOrder(request, context: CheckoutHarness.context())
            guard case .outOfStock(let o)? = r.rejection else {
                Issue.record("expected out of stock, got \(r)")
                return
            }
            #expect(o.skus == ["GONE"])
            // No step ran: one row, final at once, with the priced lines kept.
            #expect(h.services.callCount("reserve") == 0 && h.services.callCount("release") == 0)
            let log = try await h.coordinator().log(checkoutID: Int64(r.checkoutID)!)
            #expect(log.map(\.kind) == ["finished"])
            let stored = try #require(try await h.coordinator().checkout(id: Int64(r.checkoutID)!))
            #expect(stored.request.draft.lines.map(\.sku) == ["A", "GONE"])
            #expect(h.services.available("A") == 100)
            // The same key answers the same rejection, even after a restock.
            h.services.addProduct("GONE", price: 100, stock: 10)
            let again = try await service.placeOrder(request, context: CheckoutHarness.context())
            #expect(again == r)
        }
    }

    @Test func aFailedStockPrecheckFallsBackToReserve() async throws {
        try await CheckoutHarness.run { h in
            h.services.addProduct("LAST", price: 100, stock: 1)
            h.services.inject("availability", [.unavailable, .unavailable])
            let service = h.service(h.coordinator())
            let short = try await service.placeOrder(placeOrderRequest(lines: [("LAST", 2)]), context: CheckoutHarness.context())
            guard case .outOfStock? = short.rejection else {
                Issue.record("expected out of stock, got \(short)")
                return
            }
            #expect(h.services.callCount("reserve") == 1)
            let placed = try await service.placeOrder(placeOrderRequest(lines: [("LAST", 1)]), context: CheckoutHarness.context())
            #expect(placed.placed != nil)
            #expect(h.services.stockConserved())
        }
    }

    @Test func unknownAndInactiveSKUsAreInvalidRequestResults() async throws {
        try await CheckoutHarness.run { h in
            h.services.addProduct("OFF", price: 100, stock: 5, active: false)
            let service = h.service(h.coordinator())
            let request = placeOrderRequest(lines: [("NOPE", 1), ("OFF", 1)])
            let r = try await service.placeOrder(request, context: CheckoutHarness.context())
            guard case .invalidRequest(let inv)? = r.rejection else {
                Issue.record("expected invalid_request, got \(r)")
                return
            }
            #expect(inv.violations.map(\.field) == ["lines[0].sku", "lines[1].sku"])
            #expect(h.services.callCount("reserve") == 0)
            // A stored result: replayed for the same key.
            #expect(try await service.placeOrder(request, context: CheckoutHarness.context()) == r)
        }
    }

    @Test func malformedRequestsAreCode3AndRecordNothing() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            var cases: [(String, CheckoutV1.PlaceOrderRequest)] = []
            var r = placeOrderRequest(lines: [])
            cases.append(("lines", r))
            r = placeOrderRequest(lines: [("A", 0)])
            cases.append(("lines[0].quantity", r))
            r = placeOrderRequest(lines: [("A", 1_000_001)])
            cases.append(("lines[0].quantity", r))
            r = placeOrderRequest(lines: [("A", 1), ("A", 2)])
            cases.append(("lines[1].sku", r))
            r = placeOrderRequest(lines: (0..<101).map { ("S\($0)", 1) })
            cases.append(("lines", r))
            r = placeOrderRequest(metadata: "[1,2]")
            cases.append(("metadata_json", r))
            r = placeOrderRequest(metadata: "{oops")
            cases.append(("metadata_json", r))
            r = placeOrderRequest(card: "4242424242424241")
            cases.append(("payment_method.card.number", r))
            r = placeOrderRequest(key: "")
            cases.append(("idempotency_key", r))
            r = placeOrderRequest(key: String(repeating: "k", count: 256))
            cases.append(("idempotency_key", r))
            r = placeOrderRequest()
            r.customer = nil
            cases.append(("customer", r))
            r = placeOrderRequest()
            r.shippingAddress?.country = "gbr"
            cases.append(("shipping_address.country", r))
            r = placeOrderRequest()
            r.lines[0].attributesJson = "\"x\""
            cases.append(("lines[0].attributes_json", r))
            for (field, request) in cases {
                let error = await #expect(throws: RPCError.self, "\(field)") {
                    try await service.placeOrder(request, context: CheckoutHarness.context())
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.hasPrefix(field) == true, "\(error?.message ?? "") should name \(field)")
                #expect(error?.message.contains("4242424242424241") == false)
            }
            let rows = try await h.database.write { c in try await c.queryOne("SELECT COUNT(*) AS n FROM checkouts")?.int("n") }
            #expect(rows == 0)
            #expect(h.services.callCount("prices") == 0)
        }
    }

    @Test func sameKeyThreeTimesGivesOneOrderOneAuthorizationIdenticalResults() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let request = placeOrderRequest()
            let a = try await service.placeOrder(request, context: CheckoutHarness.context())
            let b = try await service.placeOrder(request, context: CheckoutHarness.context())
            let c = try await h.service(h.coordinator()).placeOrder(request, context: CheckoutHarness.context())
            #expect(a.placed != nil)
            #expect(a == b && b == c)
            #expect(h.services.callCount("createOrder") == 1)
            #expect(h.services.callCount("authorize") == 1)
            #expect(h.services.callCount("reserve") == 1)
        }
    }

    @Test func sameKeyDifferentBodyIsRefusedWith9() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let request = placeOrderRequest(lines: [("A", 1)])
            _ = try await service.placeOrder(request, context: CheckoutHarness.context())
            var other = request
            other.lines[0].quantity = 2
            let error = await #expect(throws: RPCError.self) {
                try await service.placeOrder(other, context: CheckoutHarness.context())
            }
            #expect(error?.code == .failedPrecondition)
            var otherCard = request
            otherCard.paymentMethod = placeOrderRequest(card: "5555555555554444").paymentMethod
            await #expect(throws: RPCError.self) {
                try await service.placeOrder(otherCard, context: CheckoutHarness.context())
            }
            // Line order is not part of the request's identity.
            #expect(h.services.callCount("createOrder") == 1)
        }
    }

    @Test func twentyConcurrentCallsWithOneKeyMakeOneOrder() async throws {
        try await CheckoutHarness.run { h in
            let coordinators = (0..<2).map { _ in h.coordinator() }
            let request = placeOrderRequest(lines: [("A", 1), ("B", 1)])
            let results = try await withThrowingTaskGroup(of: CheckoutV1.PlaceOrderResponse.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try await h.service(coordinators[i % 2]).placeOrder(request, context: CheckoutHarness.context())
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(Set(results).count == 1, "all answers identical")
            #expect(results.first?.placed != nil)
            #expect(h.services.callCount("createOrder") == 1)
            #expect(h.services.callCount("authorize") == 1)
            #expect(h.services.available("A") == 99)
        }
    }

    @Test func concurrentCheckoutsForTheLastUnitsNeverOversell() async throws {
        try await CheckoutHarness.run { h in
            h.services.addProduct("HOT", price: 999, stock: 5)
            let service = h.service(h.coordinator())
            let results = try await withThrowingTaskGroup(of: CheckoutV1.PlaceOrderResponse.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await service.placeOrder(placeOrderRequest(lines: [("HOT", 1)]), context: CheckoutHarness.context())
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let placed = results.filter { $0.placed != nil }
            let sold = results.filter {
                if case .outOfStock? = $0.rejection { return true }
                return false
            }
            #expect(placed.count == 5 && sold.count == 7)
            #expect(h.services.available("HOT") == 0 && h.services.committedUnits("HOT") == 5)
            for r in sold { #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty) }
            #expect(h.services.stockConserved())
        }
    }

    // MARK: Unknown outcomes and unavailability

    @Test func unknownOutcomesAreResolvedByAsking() async throws {
        for step in ["reserve", "createOrder", "authorize", "confirmOrder", "commit"] {
            try await CheckoutHarness.run { h in
                h.services.inject(step, [.timeoutAfterEffect])
                let r = try await h.service(h.coordinator()).placeOrder(placeOrderRequest(), context: CheckoutHarness.context())
                #expect(r.placed != nil, "\(step): \(r)")
                #expect(h.services.whole(checkoutID: r.checkoutID).isEmpty, "\(step)")
                // Asking never re-did the effect.
                #expect(h.services.stockConserved())
                if step == "createOrder" { #expect(h.services.callCount("findOrder") >= 1) }
                if step == "authorize" {
                    #expect(h.services.callCount("lookup") >= 1)
                    #expect(h.services.callCount("authorize") == 1)
                }
            }
        }
    }

    @Test func timeoutBeforeTheEffectIsResolvedAsNotHappenedAndRetried() async throws {
        for step in ["createOrder", "authorize"] {
            try await CheckoutHarness.run { h in
                h.services.inject(step, [.timeoutBeforeEffect])
                let r = try await h.service(h.coordinator()).placeOrder(placeOrderRequest(), context: CheckoutHarness.context())
                #expect(r.placed != nil, "\(step): \(r)")
                #expect(h.services.callCount(step) == 2)
                #expect(h.services.whole(checkoutID: r.checkoutID).isEmpty)
            }
        }
    }

    @Test func pendingAuthorizationIsAskedAgainUntilItSettles() async throws {
        try await CheckoutHarness.run { h in
            h.services.nextAuthorizationPending = true
            h.services.pendingLookupsBeforeSettling = 3
            let r = try await h.service(h.coordinator()).placeOrder(placeOrderRequest(), context: CheckoutHarness.context())
            #expect(r.placed != nil, "\(r)")
            #expect(h.services.callCount("lookup") >= 4)
            #expect(h.services.callCount("authorize") == 1)
        }
    }

    @Test func unavailableIsRetriedWithBackoff() async throws {
        try await CheckoutHarness.run { h in
            h.services.inject("reserve", [.unavailable, .unavailable])
            h.services.inject("createOrder", [.unavailable])
            h.services.inject("authorize", [.unavailable, .unavailable, .unavailable])
            let r = try await h.service(h.coordinator()).placeOrder(placeOrderRequest(), context: CheckoutHarness.context())
            #expect(r.placed != nil)
            #expect(h.services.callCount("reserve") == 3 && h.services.callCount("authorize") == 4)
        }
    }

    @Test func definiteFailureAfterAuthorizationCompensatesEverything() async throws {
        try await CheckoutHarness.run { h in
            h.services.inject("commit", [.refuse(.failedPrecondition)])
            let r = try await h.service(h.coordinator()).placeOrder(placeOrderRequest(), context: CheckoutHarness.context())
            guard case .failed(let f)? = r.rejection else {
                Issue.record("expected failed, got \(r)")
                return
            }
            #expect(f.step == "commitReservation" && f.code == 9)
            #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty)
            #expect(h.services.callCount("void") == 1)
            #expect(h.services.stockConserved() && h.services.available("A") == 100)
        }
    }

    @Test func servicesDownDuringCompensationAreFinishedByTheSweeper() async throws {
        try await CheckoutHarness.run { h in
            // Orders refuses to cancel for a while: the decline's compensation cannot finish.
            h.services.inject("cancelOrder", Array(repeating: .unavailable, count: 10_000))
            let coordinator = h.coordinator(stepTimeout: .milliseconds(200))
            let r = try await h.service(coordinator).placeOrder(
                placeOrderRequest(card: FakeServices.decliningCard), context: CheckoutHarness.context(deadline: .seconds(5)))
            #expect(r.isInProgress, "\(r)")
            #expect(try await h.openCount() == 1)
            // Orders comes back; the sweeper finishes the compensation.
            h.services.clearFaults()
            try await h.recoverAll(h.coordinator())
            let again = try await h.service(coordinator).placeOrder(
                placeOrderRequest(key: (try await coordinator.checkout(id: Int64(r.checkoutID)!))!.idempotencyKey,
                                  card: FakeServices.decliningCard),
                context: CheckoutHarness.context())
            guard case .paymentDeclined? = again.rejection else {
                Issue.record("expected the decline after recovery, got \(again)")
                return
            }
            #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty)
        }
    }

    @Test func recoveryBacksOffThenParksTheCheckoutAndAnOperatorResumesIt() async throws {
        try await CheckoutHarness.run { h in
            // Orders never lets the compensation cancel: every pass is deferred.
            h.services.inject("cancelOrder", Array(repeating: .unavailable, count: 100_000))
            let coordinator = h.coordinator(stepTimeout: .milliseconds(200), maxAttempts: 4)
            let service = h.service(coordinator)
            let r = try await service.placeOrder(
                placeOrderRequest(card: FakeServices.decliningCard), context: CheckoutHarness.context(deadline: .seconds(5)))
            #expect(r.isInProgress, "\(r)")
            var report = RecoveryReport()
            for _ in 0..<300 where report.parked == 0 {
                report = try await coordinator.recoverOnce()
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(report.parked == 1 && report.open == 1)
            let listed = try await service.listParkedCheckouts(.init(), context: CheckoutHarness.context())
            #expect(listed.checkouts.map(\.checkoutID) == [r.checkoutID])
            #expect(listed.checkouts.first?.attempts == 4)
            #expect(listed.checkouts.first?.parkedReason.contains("4 passes") == true)
            // Parked means left alone: further passes claim nothing and call nothing.
            let calls = h.services.callCount("cancelOrder")
            for _ in 0..<5 {
                #expect(try await coordinator.recoverOnce().claimed == 0)
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(h.services.callCount("cancelOrder") == calls)

            // The operator fixes orders and resumes it: recovery finishes the compensation.
            h.services.clearFaults()
            let resumed = try await service.resumeCheckout(.init(checkoutID: r.checkoutID), context: CheckoutHarness.context())
            #expect(resumed.checkout?.parkedAtUs == 0)
            try await h.recoverAll(coordinator)
            #expect(h.services.nothingLeft(checkoutID: r.checkoutID).isEmpty)
            #expect(try await service.listParkedCheckouts(.init(), context: CheckoutHarness.context()).checkouts.isEmpty)
            do {
                _ = try await service.resumeCheckout(.init(checkoutID: "12345"), context: CheckoutHarness.context())
                Issue.record("resuming an unknown checkout succeeded")
            } catch let e as RPCError {
                #expect(e.code == .notFound)
            }
        }
    }

    @Test func recoveryExtendsTheReservationOfACheckoutThatStillGoesForward() async throws {
        try await CheckoutHarness.run { h in
            // Orders cannot confirm for a while after the payment was authorized.
            h.services.inject("confirmOrder", Array(repeating: .unavailable, count: 100_000))
            let coordinator = h.coordinator(stepTimeout: .milliseconds(200))
            let r = try await h.service(coordinator).placeOrder(
                placeOrderRequest(), context: CheckoutHarness.context(deadline: .seconds(5)))
            #expect(r.isInProgress, "\(r)")
            for _ in 0..<100 where h.services.callCount("extend") < 2 {
                _ = try await coordinator.recoverOnce()
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(h.services.callCount("extend") >= 2, "every pass over it extends the reservation")
            h.services.clearFaults()
            try await h.recoverAll(coordinator)
            let snapshot = try #require(try await coordinator.checkout(id: Int64(r.checkoutID)!))
            guard case .placed? = snapshot.outcome else {
                Issue.record("expected the checkout to be placed, got \(String(describing: snapshot.outcome))")
                return
            }
            // A checkout that is compensating does not keep its reservation alive.
            let before = h.services.callCount("extend")
            h.services.inject("cancelOrder", Array(repeating: .unavailable, count: 100_000))
            let declined = try await h.service(coordinator).placeOrder(
                placeOrderRequest(card: FakeServices.decliningCard), context: CheckoutHarness.context(deadline: .seconds(5)))
            #expect(declined.isInProgress, "\(declined)")
            for _ in 0..<5 {
                _ = try await coordinator.recoverOnce()
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(h.services.callCount("extend") == before)
        }
    }

    @Test func retryDelaysDoubleUpToTheCapWithJitter() {
        var c = CheckoutConfiguration()
        c.deferDelay = .seconds(1)
        c.maxDeferDelay = .seconds(60)
        for (attempts, base) in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (50, 60.0), (1_000, 60.0)] {
            let delay = CheckoutCoordinator.retryDelay(attempts: attempts, configuration: c).inSeconds
            #expect(delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9, "attempt \(attempts): \(delay) s")
        }
    }

    // MARK: Crashes

    /// The coordinator "dies" at a step (before the call or after the effect, without recording the
    /// result); a fresh coordinator's recovery drives every checkout to an end. Ten times per point.
    @Test(arguments: [
        ("reserve", Fault.crashBefore), ("reserve", .crashAfter), ("createOrder", .crashBefore),
        ("createOrder", .crashAfter), ("authorize", .crashBefore), ("authorize", .crashAfter),
        ("confirmOrder", .crashAfter), ("commit", .crashBefore), ("commit", .crashAfter),
        ("cancelOrder", .crashAfter), ("release", .crashBefore),
    ])
    func crashAtAnyStepIsFinishedByRecovery(step: String, fault: Fault) async throws {
        try await CheckoutHarness.run { h in
            var ids: [String] = []
            for i in 0..<10 {
                h.services.inject(step, [fault])
                let crashing = h.coordinator(name: "crashing-\(i)", lease: .milliseconds(150))
                let decline = step == "cancelOrder" || step == "release"
                let request = placeOrderRequest(card: decline ? FakeServices.decliningCard : "4242424242424242")
                let error = await #expect(throws: RPCError.self) {
                    try await h.service(crashing).placeOrder(request, context: CheckoutHarness.context())
                }
                #expect(error?.code == .unavailable)
                let snapshot = try #require(try await crashing.checkout(idempotencyKey: request.idempotencyKey))
                ids.append(snapshot.checkoutIDString)
                #expect(snapshot.outcome == nil)
            }
            #expect(try await h.openCount() == 10)
            let recovering = h.coordinator(name: "recovering")
            try await h.recoverAll(recovering)
            for id in ids {
                let s = try #require(try await recovering.checkout(id: Int64(id)!))
                let authorizationHeld = ["confirmOrder", "commit"].contains(step) || (step == "authorize" && fault == .crashAfter)
                switch s.outcome {
                case .placed?:
                    #expect(authorizationHeld, "\(step) \(fault): placed unexpectedly")
                    #expect(h.services.whole(checkoutID: id).isEmpty, "\(step) \(fault)")
                case .rejected?:
                    #expect(!authorizationHeld, "\(step) \(fault): rejected although the authorization held")
                    #expect(h.services.nothingLeft(checkoutID: id).isEmpty, "\(step) \(fault): \(h.services.nothingLeft(checkoutID: id))")
                case nil:
                    Issue.record("\(id) still open")
                }
                #expect(s.attempts >= 2)
            }
            #expect(h.services.stockConserved())
        }
    }

    @Test func recoveryNeverTakesALiveLease() async throws {
        try await CheckoutHarness.run { h in
            h.services.inject("authorize", [.crashBefore])
            let crashing = h.coordinator(name: "crashing", lease: .seconds(60))
            let request = placeOrderRequest()
            await #expect(throws: RPCError.self) {
                try await h.service(crashing).placeOrder(request, context: CheckoutHarness.context())
            }
            let report = try await h.coordinator().recoverOnce()
            #expect(report.claimed == 0 && report.open == 1)
        }
    }
}
