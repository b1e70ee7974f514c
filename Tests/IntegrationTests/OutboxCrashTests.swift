import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// kill -9 of the process that owns an outbox while (or before) its relay delivers: after a restart,
    /// exactly one capture per shipment and exactly one refund per return are in effect.
    ///
    /// The sandbox provider answers after `OMS_PAYMENTS_SANDBOX_LATENCY`, so a money movement is recorded by
    /// payments well before the relay hears back; the second kill of each test waits for that moment (the
    /// operation row exists in payments) and kills the relay's process then: delivered, not marked done.
    /// Short leases let the restarted relay take the row over quickly; every wait is a generous upper
    /// bound, nothing is asserted about speed.
    ///
    /// The returns test also runs `oms-inventory` and checks the restock half of the orders outbox
    /// (`AdjustStock` receive, applied once per return and SKU).
    @Suite(.serialized) struct OutboxCrashTests {
        static let settings = [
            "OMS_PAYMENTS_SANDBOX_LATENCY": "1500ms",
            "OMS_SHIPMENTS_OUTBOX_INTERVAL": "100ms",
            "OMS_SHIPMENTS_OUTBOX_LEASE": "2s",
            "OMS_SHIPMENTS_OUTBOX_MAX_BACKOFF": "1s",
            "OMS_ORDERS_OUTBOX_INTERVAL": "100ms",
            "OMS_ORDERS_OUTBOX_LEASE": "2s",
        ]

        /// Polls (every 10 ms, at most `timeout`) until `condition` holds.
        static func soon(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if (try? await condition()) == true { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }

        @Test func shipmentsKilledAroundMarkShippedStillCaptureExactlyOnce() async throws {
            try await TestSuite.with(services: fulfilmentServices, settings: Self.settings) { suite in
                let paid = try await placePaidOrder(
                    suite,
                    lines: [
                        LineSpec(sku: "SKU-KETTLE", name: "Copper Kettle", quantity: 2, unitPrice: 4200),
                        LineSpec(sku: "SKU-CUP", name: "Tea Cup", quantity: 4, unitPrice: 650),
                    ])
                let orderID = paid.order.orderID
                let paymentID = Int64(paid.payment.paymentID)!
                let (kettle, cup) = (paid.lineIDs[0], paid.lineIDs[1])
                try await withDatabases(suite, fulfilmentServices) { dbs in
                let payments = dbs["payments"]!
                let shipmentsDB = dbs["shipments"]!
                let ordersDB = dbs["orders"]!

                // 1. Killed right after MarkShipped answered (the relay may not have started).
                let firstLines: [(String, Int64)] = [(kettle, 1), (cup, 1)]
                let first = try await shipLines(suite, orderID: orderID, firstLines)
                await suite.crash("shipments")
                try await suite.startProcess("shipments")

                // 2. Killed while the capture is at payments (recorded there, not yet marked done here).
                let secondLines: [(String, Int64)] = [(kettle, 1), (cup, 3)]
                let second = try await shipLines(suite, orderID: orderID, secondLines)
                let atPayments = await Self.soon {
                    try await count(
                        payments, "SELECT COUNT(*) AS n FROM payment_operations WHERE idempotency_key = ?",
                        [.string("shipment:\(second.shipmentID)")]) == 1
                }
                await suite.crash("shipments")
                #expect(atPayments, "the capture of the second shipment never reached payments:\n\(logs(suite, fulfilmentServices))")
                let stateAtCrash = try await shipmentsDB.queryOne(
                    "SELECT status, attempts FROM outbox WHERE shipment_id = ? AND kind = 'capture'",
                    [.int64(Int64(second.shipmentID)!)])
                print("capture outbox row of the second shipment at the crash: \(String(describing: try stateAtCrash?.string("status"))), attempts \(String(describing: try stateAtCrash?.int64("attempts")))")
                try await suite.startProcess("shipments")

                let shares = [share(paid.order, firstLines), share(paid.order, secondLines)]
                let settled = await eventually {
                    let p = try await getPayment(suite, paid.payment.paymentID)
                    let o = try await getOrder(suite, orderID).order
                    let open = try await count(shipmentsDB, "SELECT COUNT(*) AS n FROM outbox WHERE status <> 'done'")
                    return p.captured?.amountMinor == shares.reduce(0, +) && o?.status == .shipped && open == 0
                }
                #expect(settled, "not settled after the crashes:\n\(logs(suite, fulfilmentServices))")

                // Payments: exactly one capture per shipment, for its share, and nothing else.
                let ops = try await payments.query(
                    "SELECT kind, idempotency_key, amount, state FROM payment_operations WHERE payment_id = ? ORDER BY id",
                    [.int64(paymentID)])
                // (In either order: the first shipment's row may wait for the dead relay's lease.)
                #expect(try ops.map { try $0.string("kind") } == ["capture", "capture"])
                let byKey = Dictionary(
                    try ops.map { (try $0.string("idempotency_key"), try $0.int64("amount")) }, uniquingKeysWith: +)
                #expect(byKey == ["shipment:\(first.shipmentID)": shares[0], "shipment:\(second.shipmentID)": shares[1]])
                let confirmed = await eventually {
                    try await count(payments, "SELECT COUNT(*) AS n FROM payment_operations WHERE payment_id = ? AND state = 'succeeded'",
                                    [.int64(paymentID)]) == 2
                }
                #expect(confirmed, "captures not confirmed by the provider:\n\(logs(suite, ["payments"]))")
                let intent = try #require(
                    try await payments.queryOne(
                        "SELECT captured_amount, status FROM payment_intents WHERE id = ?", [.int64(paymentID)]))
                #expect(try intent.int64("captured_amount") == shares.reduce(0, +))
                #expect(try intent.string("status") == "captured")
                #expect(try await count(payments, "SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND event = 'captured'",
                                        [.int64(paymentID)]) == 2)
                let payment = try await getPayment(suite, paid.payment.paymentID)
                #expect(payment.status == .captured)
                #expect(payment.captured == money(shares.reduce(0, +)))

                // Orders heard of each shipment exactly once.
                for s in [first, second] {
                    #expect(try await count(ordersDB, "SELECT COUNT(*) AS n FROM order_shipments WHERE shipment_id = ?",
                                            [.string(s.shipmentID)]) == 1)
                    #expect(try await count(
                        ordersDB,
                        "SELECT COUNT(*) AS n FROM order_events WHERE order_id = ? AND event = 'ship' AND JSON_UNQUOTE(JSON_EXTRACT(detail, '$.shipment_id')) = ?",
                        [.int64(Int64(orderID)!), .string(s.shipmentID)]) == 1)
                }
                let order = try await getOrder(suite, orderID, events: true)
                #expect(order.order?.lines.map(\.shippedQuantity) == [2, 4])
                #expect(order.events.map(\.toStatus) == [.pendingPayment, .confirmed, .partiallyShipped, .shipped])
                // Shipments' own view: two shipped shipments, each with one capture row done.
                #expect(try await count(shipmentsDB, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'capture' AND status = 'done'") == 2)
                #expect(try await count(shipmentsDB, "SELECT COUNT(*) AS n FROM shipments WHERE status = 'shipped'") == 2)
                }
            }
        }

        @Test func ordersKilledAfterRequestReturnStillRefundsAndRestocksExactlyOnce() async throws {
            let services = fulfilmentServices + ["inventory"]
            try await TestSuite.with(services: services, settings: Self.settings) { suite in
                // The catalog and 10 units of each SKU in inventory.
                for (sku, price) in [("SKU-SCARF", Int64(1000)), ("SKU-COAT", Int64(2500))] {
                    _ = try await suite.clients.inventory.upsertProduct(
                        InventoryV1.UpsertProductRequest(
                            product: InventoryV1.Product(sku: sku, name: sku, price: money(price), attributesJson: "{}", active: true)))
                    _ = try await suite.clients.inventory.adjustStock(
                        InventoryV1.AdjustStockRequest(sku: sku, kind: .receive, quantity: 10, reason: "initial", reference: "initial-\(sku)"))
                }
                let paid = try await placePaidOrder(
                    suite,
                    lines: [
                        LineSpec(sku: "SKU-SCARF", name: "Wool Scarf", quantity: 2, unitPrice: 1000),
                        LineSpec(sku: "SKU-COAT", name: "Rain Coat", quantity: 2, unitPrice: 2500),
                    ])
                let orderID = paid.order.orderID
                let paymentID = Int64(paid.payment.paymentID)!
                let (scarf, coat) = (paid.lineIDs[0], paid.lineIDs[1])
                try await withDatabases(suite, ["payments", "orders", "inventory"]) { dbs in
                let payments = dbs["payments"]!
                let ordersDB = dbs["orders"]!
                let inventoryDB = dbs["inventory"]!
                _ = try await shipLines(suite, orderID: orderID, [(scarf, 2), (coat, 2)])
                let shipped = await eventually {
                    let p = try await getPayment(suite, paid.payment.paymentID)
                    let o = try await getOrder(suite, orderID).order
                    return p.captured?.amountMinor == 7000 && o?.status == .shipped
                }
                try #require(shipped, "order not shipped and captured:\n\(logs(suite, fulfilmentServices))")

                // 1. Killed right after RequestReturn answered.
                let r1 = OrdersV1.RequestReturnRequest(
                    orderID: orderID, returnID: unique("ret"), lines: [OrdersV1.ReturnLine(lineID: scarf, quantity: 1)],
                    reason: "too warm")
                let first = try await suite.clients.orders.requestReturn(r1)
                #expect(first.orderReturn?.refundAmount == money(1000))
                #expect(first.order?.status == .partiallyReturned)
                await suite.crash("orders")
                try await suite.startProcess("orders")

                // 2. Killed while the refund is at payments (recorded there, not yet marked delivered here).
                let r2 = OrdersV1.RequestReturnRequest(
                    orderID: orderID, returnID: unique("ret"), lines: [OrdersV1.ReturnLine(lineID: coat, quantity: 1)],
                    reason: "wrong size")
                let second = try await suite.clients.orders.requestReturn(r2)
                #expect(second.orderReturn?.refundAmount == money(2500))
                let atPayments = await Self.soon {
                    try await count(
                        payments, "SELECT COUNT(*) AS n FROM payment_operations WHERE payment_id = ? AND kind = 'refund'",
                        [.int64(paymentID)]) == 2
                }
                await suite.crash("orders")
                #expect(atPayments, "the second refund never reached payments:\n\(logs(suite, fulfilmentServices))")
                let stateAtCrash = try await ordersDB.queryOne(
                    "SELECT delivered_at IS NOT NULL AS done, attempts FROM order_outbox WHERE kind = 'refund' ORDER BY id DESC LIMIT 1")
                print("second refund outbox row at the crash: delivered=\(String(describing: try stateAtCrash?.int64("done"))), attempts \(String(describing: try stateAtCrash?.int64("attempts")))")
                try await suite.startProcess("orders")

                let settled = await eventually {
                    let p = try await getPayment(suite, paid.payment.paymentID)
                    let open = try await count(ordersDB, "SELECT COUNT(*) AS n FROM order_outbox WHERE delivered_at IS NULL")
                    return p.refunded?.amountMinor == 3500 && open == 0
                }
                #expect(settled, "refunds/restocks not settled after the crashes:\n\(logs(suite, services))")

                // Repeating a return request changes nothing.
                let repeated = try await suite.clients.orders.requestReturn(r1)
                #expect(repeated.orderReturn?.refundAmount == money(1000))

                // Payments: exactly one refund per return, for its amount.
                let refunds = try await payments.query(
                    "SELECT idempotency_key, amount FROM payment_operations WHERE payment_id = ? AND kind = 'refund' ORDER BY id",
                    [.int64(paymentID)])
                #expect(try refunds.map { try $0.int64("amount") }.sorted() == [1000, 2500])
                #expect(Set(try refunds.map { try $0.string("idempotency_key") }).count == 2)
                #expect(try refunds.allSatisfy { try $0.string("idempotency_key").hasPrefix("oms-orders:return:\(orderID):") })
                #expect(try await count(payments, "SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND event = 'refunded'",
                                        [.int64(paymentID)]) == 2)
                let payment = try await getPayment(suite, paid.payment.paymentID)
                #expect(payment.refunded == money(3500))
                #expect(payment.captured == money(7000))
                #expect(payment.status == .partiallyRefunded)

                // Orders: two returns, refunded 3500, each refund row delivered.
                let order = try #require(try await getOrder(suite, orderID).order)
                #expect(order.status == .partiallyReturned)
                #expect(order.refunded == money(3500))
                #expect(order.lines.map(\.returnedQuantity) == [1, 1])
                #expect(try await count(ordersDB, "SELECT COUNT(*) AS n FROM order_returns WHERE order_id = ?",
                                        [.int64(Int64(orderID)!)]) == 2)
                #expect(try await count(ordersDB, "SELECT COUNT(*) AS n FROM order_outbox WHERE kind = 'refund'") == 2)

                // Inventory: one restock per return (one unit of each SKU back), whatever the relay repeated.
                let stock = try await suite.clients.inventory.getStock(
                    InventoryV1.GetStockRequest(skus: ["SKU-SCARF", "SKU-COAT"], consistent: true))
                #expect(stock.levels.map(\.onHand) == [11, 11], "stock after the returns: \(stock.levels)")
                let restocks = try await inventoryDB.query(
                    "SELECT sku, delta_on_hand, reference FROM stock_ledger WHERE reference LIKE ? ORDER BY id",
                    [.string("oms-orders:return:\(orderID):%")])
                #expect(try restocks.map { try $0.string("sku") }.sorted() == ["SKU-COAT", "SKU-SCARF"], "restock ledger rows")
                #expect(try restocks.allSatisfy { try $0.int64("delta_on_hand") == 1 })
                #expect(Set(try restocks.map { try $0.string("reference") }).count == 2)
                }
            }
        }
    }
}
