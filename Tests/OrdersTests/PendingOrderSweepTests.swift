import Foundation
import Logging
import OMSAPI
import OMSRPCCore
import Testing

@testable import Orders

/// The coordinator as the sweep sees it: a standing per checkout id, or unreachable.
actor FakeCheckoutLookup: CheckoutLookup {
    var standings: [String: CheckoutStanding] = [:]
    var unreachable = false
    var asked: [String] = []

    func set(_ checkoutID: String, _ standing: CheckoutStanding) { standings[checkoutID] = standing }
    func setUnreachable(_ on: Bool) { unreachable = on }

    func standing(ofCheckout checkoutID: String) async throws -> CheckoutStanding {
        asked.append(checkoutID)
        if unreachable { throw CheckoutLookupUnavailable("connection refused") }
        return standings[checkoutID] ?? .unknown
    }
}

@Suite("Pending-order sweep")
struct PendingOrderSweepDecisionTests {
    @Test func decisionPerStanding() {
        #expect(PendingOrderSweep.decide(.open) == .leave)
        #expect(PendingOrderSweep.decide(.ended) == .cancel(.checkoutEnded))
        #expect(PendingOrderSweep.decide(.unknown) == .cancel(.checkoutUnknown))
        #expect(PendingOrderSweep.decide(.placed) == .reportPlacedButPending)
    }

    @Test func checkoutRecordStanding() {
        var record = CheckoutV1.CheckoutRecord()
        #expect(CheckoutClientLookup.standing(of: record) == .open)
        var response = CheckoutV1.PlaceOrderResponse()
        response.outcome = .inProgress(CheckoutV1.PlaceOrderResponse.InProgress())
        record.result = response
        #expect(CheckoutClientLookup.standing(of: record) == .open)
        response.outcome = .placed(CheckoutV1.PlaceOrderResponse.Placed())
        record.result = response
        #expect(CheckoutClientLookup.standing(of: record) == .placed)
        response.outcome = .rejected(CheckoutV1.PlaceOrderResponse.Rejected())
        record.result = response
        #expect(CheckoutClientLookup.standing(of: record) == .ended)
    }
}

extension OrdersServiceTests {
    @Test func sweepCancelsOrdersOfEndedOrUnknownCheckoutsOnly() async throws {
        try await withService { s, _ in
            let ended = try await create(s, createRequest(checkout: "101"))
            let unknown = try await create(s, createRequest(checkout: "direct-\(UUID().uuidString.prefix(6))"))
            let open = try await create(s, createRequest(checkout: "103"))
            let placed = try await create(s, createRequest(checkout: "104"))
            let confirmed = try await create(s, createRequest(checkout: "105"))
            _ = try await confirm(s, confirmed.orderID)
            let lookup = FakeCheckoutLookup()
            await lookup.set("101", .ended)
            await lookup.set("103", .open)
            await lookup.set("104", .placed)
            await lookup.set("105", .ended)

            // Younger than the grace: nothing is asked.
            let patient = PendingOrderSweeper(core: s.core, checkouts: lookup, grace: .seconds(3600), logger: logger)
            #expect(try await patient.runOnce().examined == 0)
            #expect(await lookup.asked.isEmpty)

            // The coordinator down: the pass stops at the first order, nothing changes.
            let sweeper = PendingOrderSweeper(core: s.core, checkouts: lookup, grace: .zero, logger: logger)
            await lookup.setUnreachable(true)
            let skipped = try await sweeper.runOnce()
            #expect(skipped.coordinatorUnavailable && skipped.examined == 0)
            #expect(await lookup.asked.count == 1)
            await lookup.setUnreachable(false)

            let report = try await sweeper.runOnce()
            #expect(report.examined == 4, "the confirmed order is not pending: \(report)")
            #expect(report.cancelled == [.checkoutEnded: 1, .checkoutUnknown: 1])
            #expect(report.left == 1 && report.placedButPending == 1)
            for (order, status) in [
                (ended, OrdersV1.OrderStatus.cancelled), (unknown, .cancelled), (open, .pendingPayment),
                (placed, .pendingPayment), (confirmed, .confirmed),
            ] {
                let now = try #require(try await get(s, order.orderID).order)
                #expect(now.status == status, "order of checkout \(order.checkoutID)")
            }
            let swept = try #require(try await get(s, ended.orderID).order)
            #expect(swept.cancelReason == PendingOrderSweep.CancelReason.checkoutEnded.orderReason)

            // The fence: a repeated CreateOrder answers the cancelled order, a confirmation is refused.
            let again = try await create(s, createRequest(checkout: "101"))
            #expect(again.orderID == ended.orderID && again.status == .cancelled)
            await expectCode(.failedPrecondition) { _ = try await confirm(s, ended.orderID) }

            // The next pass asks only about what is still pending.
            let next = try await sweeper.runOnce()
            #expect(next.examined == 2 && next.cancelled.isEmpty)
        }
    }

    @Test func sweepLeavesAnOrderThatWasConfirmedAfterTheListing() async throws {
        try await withService { s, _ in
            let o = try await create(s, createRequest(checkout: "201"))
            _ = try await confirm(s, o.orderID)
            // As if the sweep had listed the order while pending and then heard "ended".
            await expectCode(.failedPrecondition) {
                _ = try await s.core.cancel(checkoutID: "201", reason: "swept", onlyIfPending: true)
            }
            #expect(try await get(s, o.orderID).order?.status == .confirmed)
        }
    }
}
