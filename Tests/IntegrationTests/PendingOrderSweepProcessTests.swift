import Foundation
import OMSAPI
import OMSClient
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// The pending-order sweep of the real `oms-orders` asking the real `oms-checkout` (docs/orders.md,
    /// "Pending-order sweep"), with a one-second grace.
    @Suite(.serialized) struct PendingOrderSweepProcessTests {
        func order(_ suite: TestSuite, checkoutID: String) async throws -> OrdersV1.Order? {
            try await suite.clients.orders.getOrder(OrdersV1.GetOrderRequest(checkoutID: checkoutID)).order
        }

        @Test func ordersOfEndedOrUnknownCheckoutsAreSweptOpenOnesLeft() async throws {
            let settings = [
                "OMS_ORDERS_PENDING_ORDER_GRACE": "1s", "OMS_ORDERS_PENDING_ORDER_SWEEP_INTERVAL": "300ms",
                // The checkout left open below is not taken over by recovery while the test runs.
                "OMS_CHECKOUT_LEASE": "10m",
            ]
            try await TestSuite.with(settings: settings) { suite in
                let h = CheckoutHarness(suite: suite)
                let sku = CheckoutHarness.sku("SWEEP")
                let soldOut = CheckoutHarness.sku("SWEEP-NONE")
                try await h.addProduct(sku, priceMinor: 900, stock: 10)
                try await h.addProduct(soldOut, priceMinor: 900, stock: 0)

                // An open checkout with a pending order: the coordinator dies right after CreateOrder.
                try await suite.restartProcess("checkout", environment: ["OMS_CHECKOUT_FAILPOINT": "crash-after:create-order"])
                let openKey = CheckoutHarness.key("sweep-open")
                _ = try? await h.place(CheckoutHarness.request(key: openKey, lines: [.init(sku, 1)]), timeout: .seconds(15))
                let died = await CheckoutHarness.eventually(timeout: .seconds(20)) {
                    !(suite.processes["checkout"]?.isRunning ?? true)
                }
                #expect(died, "oms-checkout did not die at the failpoint\n\(h.logs(["checkout"]))")
                try await suite.restartProcess("checkout")
                let open = try #require(try await h.checkout(key: openKey))
                #expect(open.result == nil, "\(open)")
                let openOrder = try #require(try await order(suite, checkoutID: open.checkoutID))
                #expect(openOrder.status == .pendingPayment)

                // A checkout that ended rejected, and an order created for it afterwards.
                let rejected = try await h.place(
                    CheckoutHarness.request(key: CheckoutHarness.key("sweep-rejected"), lines: [.init(soldOut, 1)]))
                guard case .rejected? = rejected.outcome else {
                    Issue.record("expected a rejection: \(rejected)")
                    return
                }
                let late = orderRequest(checkoutID: rejected.checkoutID)
                let lateOrder = try #require(try await suite.clients.orders.createOrder(late).order)
                // An order whose checkout id the coordinator never issued.
                let strayID = String(UInt64.random(in: 1 << 40...1 << 50))
                let strayOrder = try #require(try await suite.clients.orders.createOrder(orderRequest(checkoutID: strayID)).order)
                #expect(lateOrder.status == .pendingPayment && strayOrder.status == .pendingPayment)

                let swept = await eventually {
                    let a = try await order(suite, checkoutID: rejected.checkoutID)
                    let b = try await order(suite, checkoutID: strayID)
                    return a?.status == .cancelled && b?.status == .cancelled
                }
                #expect(swept, "not swept\n\(logs(suite, ["orders", "checkout"]))")
                #expect(try await order(suite, checkoutID: rejected.checkoutID)?.cancelReason.hasPrefix("swept:") == true)

                // The same pass asked about the older open checkout first and left its order alone.
                #expect(try await order(suite, checkoutID: open.checkoutID)?.status == .pendingPayment)
                // Nothing revives a swept order: CreateOrder answers it cancelled, ConfirmOrder is refused.
                #expect(try await suite.clients.orders.createOrder(late).order?.status == .cancelled)
                await expectCode([9], "confirm after the sweep") {
                    try await suite.clients.orders.confirmOrder(
                        OrdersV1.ConfirmOrderRequest(orderID: lateOrder.orderID, paymentID: "pay-late"))
                }
                let log = suite.processes["orders"]?.logTail(lines: 100_000) ?? ""
                #expect(log.contains("checkout_ended") && log.contains("checkout_unknown"))
            }
        }
    }
}
