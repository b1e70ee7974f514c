import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// The TEST-ONLY `failpoint` setting of each service (docs/operations.md, "Failpoints") against the real
    /// executables: the armed process dies by SIGKILL at exactly its point, is started again without it, and
    /// the end state is right. Checkout's points are exercised by `CheckoutProcessTests`.
    @Suite(.serialized) struct FailpointProcessTests {
        /// Calls `call`, which the armed point should cut off, and expects `service` to die by SIGKILL.
        static func expectKilled(
            _ suite: TestSuite, _ service: String, sourceLocation: SourceLocation = #_sourceLocation,
            by call: () async throws -> Void
        ) async {
            do {
                try await call()
                Issue.record("oms-\(service) answered instead of dying", sourceLocation: sourceLocation)
            } catch {
                // The connection went down with the process.
            }
            await expectKilled(suite, service, sourceLocation: sourceLocation)
        }

        /// Waits for `service` to end and expects SIGKILL to have ended it.
        static func expectKilled(
            _ suite: TestSuite, _ service: String, sourceLocation: SourceLocation = #_sourceLocation
        ) async {
            let process = suite.processes[service]
            let ended = await eventually(timeout: .seconds(20)) { process?.isRunning == false }
            #expect(
                ended && process?.terminationSignal == SIGKILL,
                "oms-\(service) did not die by SIGKILL at its failpoint:\n\(logs(suite, [service]))",
                sourceLocation: sourceLocation)
            #expect(process?.logTail(lines: 200).contains("TEST-ONLY failpoint set") == true, sourceLocation: sourceLocation)
        }

        /// Starts `service` again with its failpoint unset (an empty variable counts as unset).
        static func restartUnarmed(_ suite: TestSuite, _ service: String) async throws {
            try await suite.restartProcess(service, environment: ["OMS_\(service.uppercased())_FAILPOINT": ""])
        }

        static func stock(_ suite: TestSuite, _ sku: String) async throws -> InventoryV1.StockLevel? {
            try await suite.clients.inventory.getStock(InventoryV1.GetStockRequest(skus: [sku], consistent: true))
                .levels.first
        }

        static func addProduct(_ suite: TestSuite, _ sku: String, price: Int64, units: Int64) async throws {
            _ = try await suite.clients.inventory.upsertProduct(
                InventoryV1.UpsertProductRequest(
                    product: InventoryV1.Product(sku: sku, name: sku, price: money(price), attributesJson: "{}", active: true)))
            _ = try await suite.clients.inventory.adjustStock(
                InventoryV1.AdjustStockRequest(sku: sku, kind: .receive, quantity: units, reason: "initial", reference: "initial-\(sku)"))
        }

        /// A relay of `service` wrote two messages and died after delivering the first: at the crash both rows
        /// are unmarked and one effect exists; restarted, the relay delivers both again and the end is `settled`
        /// with every row marked and each effect applied once (the receivers absorbed the repeat).
        static func expectRedelivery(
            _ suite: TestSuite, _ service: String, services: [String], unmarked: () async throws -> Int64,
            effects: () async throws -> Int64, settled: () async throws -> Bool,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            await expectKilled(suite, service, sourceLocation: sourceLocation)
            let (rows, applied) = (try await unmarked(), try await effects())
            #expect(rows == 2 && applied == 1, "at the crash: \(rows) rows unmarked, \(applied) applied", sourceLocation: sourceLocation)
            try await restartUnarmed(suite, service)
            let done = await eventually(timeout: .seconds(20)) {
                guard try await unmarked() == 0 else { return false }
                return try await settled()
            }
            #expect(done, "oms-\(service)'s outbox not settled:\n\(logs(suite, services))", sourceLocation: sourceLocation)
            let after = try await effects()
            #expect(after == 2, "\(after) effects applied for 2 messages", sourceLocation: sourceLocation)
        }

        static let oneShot = CallOptions(timeout: .seconds(3), idempotent: false)

        // MARK: payments after-intent

        @Test func paymentsKilledAfterTheIntentSettlesIt() async throws {
            let settings = [
                "OMS_PAYMENTS_FAILPOINT": "crash-at:after-intent", "OMS_PAYMENTS_PROVIDER_TIMEOUT": "500ms",
                "OMS_PAYMENTS_RESOLVER_INTERVAL": "200ms",
            ]
            try await TestSuite.with(services: ["payments"], settings: settings) { suite in
                let key = unique("fp-pay")
                let request = authorizeRequest(key: key, orderID: unique("ord"), amount: 4200)
                await Self.expectKilled(suite, "payments") {
                    _ = try await suite.clients.payments.authorize(request, options: Self.oneShot)
                }
                try await withDatabase(suite, "payments") { db in
                    // Recorded before the provider was called, and nothing more.
                    let row = try await db.queryOne("SELECT status FROM payment_intents WHERE idempotency_key = ?", [.string(key)])
                    #expect(try row?.string("status") == "pending")
                }
                try await Self.restartUnarmed(suite, "payments")
                // The resolver settles the intent once its claim ran out: the provider never saw the key, so it
                // is withdrawn and the payment fails; a repeat of the call answers that, and charges nothing.
                var settled: PaymentsV1.Payment?
                let done = await eventually(timeout: .seconds(20)) {
                    let p = try await suite.clients.payments.getPayment(PaymentsV1.GetPaymentRequest(lookup: .idempotencyKey(key))).payment
                    settled = p
                    return p.map { $0.status != .pending } ?? false
                }
                #expect(done, "the intent stayed pending:\n\(logs(suite, ["payments"]))")
                #expect(settled?.status == .failed, "\(String(describing: settled))")
                let repeated = try await suite.clients.payments.authorize(request).payment
                #expect(repeated?.paymentID == settled?.paymentID && repeated?.status == settled?.status)
            }
        }

        // MARK: inventory after-commit

        @Test func inventoryKilledAfterCommitNeitherLosesNorDoublesAReservation() async throws {
            try await TestSuite.with(services: ["inventory"], settings: ["OMS_INVENTORY_FAILPOINT": "crash-at:after-commit"]) { suite in
                let sku = unique("SKU-FP")
                try await Self.addProduct(suite, sku, price: 500, units: 10)
                let id = unique("res")
                let reserve = InventoryV1.ReserveRequest(
                    reservationID: id, lines: [InventoryV1.ReservationLine(sku: sku, quantity: 3)], ttlMs: 600_000,
                    reference: "failpoint")
                await Self.expectKilled(suite, "inventory") {
                    _ = try await suite.clients.inventory.reserve(reserve, options: Self.oneShot)
                }
                try await Self.restartUnarmed(suite, "inventory")
                // Committed before the crash: held once, and the repeat answers that reservation.
                var level = try await Self.stock(suite, sku)
                #expect(level?.onHand == 10 && level?.reserved == 3, "\(String(describing: level))")
                guard case .reserved(let held)? = try await suite.clients.inventory.reserve(reserve).outcome else {
                    Issue.record("the repeated Reserve did not answer the reservation")
                    return
                }
                #expect(held.reservationID == id && held.state == .held)
                level = try await Self.stock(suite, sku)
                #expect(level?.reserved == 3, "reserved twice: \(String(describing: level))")

                // CommitReservation killed after its commit: sold once.
                try await suite.restartProcess("inventory", environment: ["OMS_INVENTORY_FAILPOINT": "crash-at:after-commit"])
                let commit = InventoryV1.CommitReservationRequest(reservationID: id, orderID: "fp-order")
                await Self.expectKilled(suite, "inventory") {
                    _ = try await suite.clients.inventory.commitReservation(commit, options: Self.oneShot)
                }
                try await Self.restartUnarmed(suite, "inventory")
                let committed = try await suite.clients.inventory.commitReservation(commit).reservation
                #expect(committed?.state == .committed)
                level = try await Self.stock(suite, sku)
                #expect(level?.onHand == 7 && level?.reserved == 0 && level?.available == 7, "\(String(describing: level))")
            }
        }

        // MARK: orders after-create

        @Test func ordersKilledAfterCreateKeepsOneOrder() async throws {
            try await TestSuite.with(services: ["orders"], settings: ["OMS_ORDERS_FAILPOINT": "crash-at:after-create"]) { suite in
                let request = orderRequest()
                await Self.expectKilled(suite, "orders") {
                    _ = try await suite.clients.orders.createOrder(request, options: Self.oneShot)
                }
                try await Self.restartUnarmed(suite, "orders")
                let found = try await suite.clients.orders.getOrder(OrdersV1.GetOrderRequest(checkoutID: request.checkoutID)).order
                #expect(found?.status == .pendingPayment, "the committed order was lost: \(String(describing: found))")
                let repeated = try await suite.clients.orders.createOrder(request).order
                #expect(repeated?.orderID == found?.orderID)
                try await withDatabase(suite, "orders") { db in
                    let orders = try await count(db, "SELECT COUNT(*) AS n FROM orders")
                    #expect(orders == 1, "\(orders) orders for one checkout")
                }
            }
        }

        // MARK: shipments and orders outbox-after-delivery

        /// Both relays die right after their first delivery, before marking it: at the crash exactly one effect
        /// exists and no row is marked; after the restart every row is delivered again and each receiver applies
        /// its key once (one capture, one shipment record, one refund, one restock).
        @Test func outboxRelaysKilledAfterDeliveryApplyEachMessageOnce() async throws {
            let settings = [
                "OMS_SHIPMENTS_FAILPOINT": "crash-at:outbox-after-delivery", "OMS_SHIPMENTS_OUTBOX_INTERVAL": "100ms",
                "OMS_SHIPMENTS_OUTBOX_LEASE": "1s", "OMS_SHIPMENTS_OUTBOX_MAX_BACKOFF": "1s",
                "OMS_ORDERS_FAILPOINT": "crash-at:outbox-after-delivery", "OMS_ORDERS_OUTBOX_INTERVAL": "100ms",
                "OMS_ORDERS_OUTBOX_LEASE": "1s",
            ]
            let services = fulfilmentServices + ["inventory"]
            try await TestSuite.with(services: services, settings: settings) { suite in
                let sku = unique("SKU-FP")
                try await Self.addProduct(suite, sku, price: 1000, units: 10)
                let paid = try await placePaidOrder(suite, lines: [LineSpec(sku: sku, name: "Lamp", quantity: 2, unitPrice: 1000)])
                let orderID = paid.order.orderID
                let line = paid.lineIDs[0]
                try await withDatabases(suite, services) { dbs in
                    let (payments, orders, shipments, inventory) = (dbs["payments"]!, dbs["orders"]!, dbs["shipments"]!, dbs["inventory"]!)
                    let captures = "SELECT COUNT(*) AS n FROM payment_operations WHERE kind = 'capture'"
                    let records = "SELECT COUNT(*) AS n FROM order_shipments"

                    // Shipments: MarkShipped writes a capture and an order record; the relay dies after the first.
                    _ = try await shipLines(suite, orderID: orderID, [(line, 2)])
                    try await Self.expectRedelivery(
                        suite, "shipments", services: services,
                        unmarked: { try await count(shipments, "SELECT COUNT(*) AS n FROM outbox WHERE status <> 'done'") },
                        effects: { try await count(payments, captures) + count(orders, records) },
                        settled: { try await getPayment(suite, paid.payment.paymentID).captured?.amountMinor == 2000 })
                    #expect(try await count(payments, captures) == 1)
                    #expect(try await count(orders, records) == 1)
                    #expect(try await getOrder(suite, orderID).order?.status == .shipped)

                    // Orders: a return writes a refund and a restock; the relay dies after the first.
                    let ret = OrdersV1.RequestReturnRequest(
                        orderID: orderID, returnID: unique("ret"), lines: [OrdersV1.ReturnLine(lineID: line, quantity: 1)],
                        reason: "failpoint")
                    _ = try? await suite.clients.orders.requestReturn(ret, options: Self.oneShot)
                    let refunds = "SELECT COUNT(*) AS n FROM payment_operations WHERE kind = 'refund'"
                    let restocks = "SELECT COUNT(*) AS n FROM stock_ledger WHERE reference LIKE 'oms-orders:return:%'"
                    try await Self.expectRedelivery(
                        suite, "orders", services: services,
                        unmarked: { try await count(orders, "SELECT COUNT(*) AS n FROM order_outbox WHERE delivered_at IS NULL") },
                        effects: { try await count(payments, refunds) + count(inventory, restocks) },
                        settled: { try await getPayment(suite, paid.payment.paymentID).refunded?.amountMinor == 1000 })
                    #expect(try await suite.clients.orders.requestReturn(ret).orderReturn?.refundAmount == money(1000))
                    #expect(try await count(payments, refunds) == 1)
                    #expect(try await count(inventory, restocks) == 1)
                    #expect(try await Self.stock(suite, sku)?.onHand == 11)
                }
            }
        }
    }
}
