import Foundation
import OMSAPI
import OMSClient
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

/// With MariaDB unreachable, every method that needs storage answers 14 UNAVAILABLE (the code
/// clients retry), never 13; health says NOT_SERVING with a fixed reason; and once the database is
/// back every service serves again without a restart.
@Suite("Storage outage through the real processes", .serialized)
struct StorageOutageTests {
    /// One call of the outage matrix.
    struct Call: Sendable {
        var name: String
        var run: @Sendable (OMSClients) async throws -> Void
    }

    /// Entities made while the database is up, so the calls name things that exist.
    struct Fixture: Sendable {
        var sku: String
        var orderID: String
        var lineID: String
        var paymentID: String
        var shipmentID: String
        var reservationID: String
    }

    static let options = CallOptions(timeout: .seconds(10))

    static func fixture(_ suite: TestSuite) async throws -> Fixture {
        let harness = CheckoutHarness(suite: suite)
        let sku = CheckoutHarness.sku("OUT")
        try await harness.addProduct(sku, priceMinor: 1500, stock: 50)
        let paid = try await placePaidOrder(suite, lines: [LineSpec(sku: sku, name: "Outage Mug", quantity: 2, unitPrice: 1500)])
        let shipment = try #require(
            try await suite.clients.shipments.createShipment(
                ShipmentsV1.CreateShipmentRequest(
                    idempotencyKey: unique("shp"), orderID: paid.order.orderID, warehouse: "wh-1",
                    lines: [ShipmentsV1.ShipmentLine(lineID: paid.lineIDs[0], quantity: 1)])
            ).shipment)
        let reservation = unique("res")
        _ = try await suite.clients.inventory.reserve(
            InventoryV1.ReserveRequest(
                reservationID: reservation, lines: [InventoryV1.ReservationLine(sku: sku, quantity: 1)], ttlMs: 60_000,
                reference: "outage"))
        return Fixture(
            sku: sku, orderID: paid.order.orderID, lineID: paid.lineIDs[0], paymentID: paid.payment.paymentID,
            shipmentID: shipment.shipmentID, reservationID: reservation)
    }

    /// Every storage-touching method of every service, with a request that passes validation.
    static func calls(_ f: Fixture) -> [Call] {
        let o = options
        let fresh = unique("new")
        var product = InventoryV1.Product()
        product.sku = "OUT-\(fresh)"
        product.name = "New product"
        product.price = money(900)
        product.attributesJson = "{}"
        product.active = true
        let upsert = InventoryV1.UpsertProductRequest(product: product)
        return [
            // Inventory
            Call(name: "Inventory.UpsertProduct") { c in
                _ = try await c.inventory.upsertProduct(upsert, options: o)
            },
            Call(name: "Inventory.GetProduct") { c in
                _ = try await c.inventory.getProduct(InventoryV1.GetProductRequest(sku: "OUT-never-read-\(fresh)"), options: o)
            },
            Call(name: "Inventory.ListProducts") { c in
                _ = try await c.inventory.listProducts(InventoryV1.ListProductsRequest(pageSize: 10), options: o)
            },
            Call(name: "Inventory.AdjustStock") { c in
                _ = try await c.inventory.adjustStock(
                    InventoryV1.AdjustStockRequest(
                        sku: f.sku, kind: .receive, quantity: 5, reason: "outage", reference: unique("adj")), options: o)
            },
            Call(name: "Inventory.GetStock") { c in
                _ = try await c.inventory.getStock(InventoryV1.GetStockRequest(skus: [f.sku], consistent: true), options: o)
            },
            Call(name: "Inventory.Reserve") { c in
                _ = try await c.inventory.reserve(
                    InventoryV1.ReserveRequest(
                        reservationID: unique("res"), lines: [InventoryV1.ReservationLine(sku: f.sku, quantity: 1)],
                        ttlMs: 60_000, reference: "outage"), options: o)
            },
            Call(name: "Inventory.CommitReservation") { c in
                _ = try await c.inventory.commitReservation(
                    InventoryV1.CommitReservationRequest(reservationID: f.reservationID, orderID: "1"), options: o)
            },
            Call(name: "Inventory.ReleaseReservation") { c in
                _ = try await c.inventory.releaseReservation(
                    InventoryV1.ReleaseReservationRequest(reservationID: f.reservationID, reason: "outage"), options: o)
            },
            Call(name: "Inventory.ExtendReservation") { c in
                _ = try await c.inventory.extendReservation(
                    InventoryV1.ExtendReservationRequest(reservationID: f.reservationID, ttlMs: 120_000), options: o)
            },
            Call(name: "Inventory.Reconcile") { c in
                _ = try await c.inventory.reconcile(InventoryV1.ReconcileRequest(skus: [f.sku], dryRun: true), options: o)
            },
            // Orders
            Call(name: "Orders.CreateOrder") { c in
                _ = try await c.orders.createOrder(orderRequest(), options: o)
            },
            Call(name: "Orders.ConfirmOrder") { c in
                _ = try await c.orders.confirmOrder(
                    OrdersV1.ConfirmOrderRequest(orderID: f.orderID, paymentID: f.paymentID, paid: money(3000)), options: o)
            },
            Call(name: "Orders.CancelOrder") { c in
                _ = try await c.orders.cancelOrder(OrdersV1.CancelOrderRequest(orderID: f.orderID, reason: "outage"), options: o)
            },
            Call(name: "Orders.GetOrder") { c in
                _ = try await c.orders.getOrder(OrdersV1.GetOrderRequest(orderID: f.orderID), options: o)
            },
            Call(name: "Orders.ListOrders") { c in
                _ = try await c.orders.listOrders(OrdersV1.ListOrdersRequest(customerID: "cust-outage", pageSize: 10), options: o)
            },
            Call(name: "Orders.SearchOrders") { c in
                _ = try await c.orders.searchOrders(OrdersV1.SearchOrdersRequest(query: "mug", pageSize: 10), options: o)
            },
            Call(name: "Orders.RequestReturn") { c in
                _ = try await c.orders.requestReturn(
                    OrdersV1.RequestReturnRequest(
                        orderID: f.orderID, returnID: unique("ret"), lines: [OrdersV1.ReturnLine(lineID: f.lineID, quantity: 1)],
                        reason: "outage"), options: o)
            },
            Call(name: "Orders.RecordShipment") { c in
                _ = try await c.orders.recordShipment(
                    OrdersV1.RecordShipmentRequest(
                        orderID: f.orderID, shipmentID: f.shipmentID, kind: .shipped,
                        lines: [OrdersV1.ShippedLine(lineID: f.lineID, quantity: 1)]), options: o)
            },
            // Payments
            Call(name: "Payments.Authorize") { c in
                _ = try await c.payments.authorize(
                    authorizeRequest(key: unique("auth"), orderID: f.orderID, amount: 3000), options: o)
            },
            Call(name: "Payments.Capture") { c in
                _ = try await c.payments.capture(
                    PaymentsV1.CaptureRequest(paymentID: f.paymentID, amount: money(1500), idempotencyKey: unique("cap")),
                    options: o)
            },
            Call(name: "Payments.VoidAuthorization") { c in
                _ = try await c.payments.voidAuthorization(
                    PaymentsV1.VoidAuthorizationRequest(paymentID: f.paymentID, reason: "outage", idempotencyKey: unique("void")),
                    options: o)
            },
            Call(name: "Payments.Refund") { c in
                _ = try await c.payments.refund(
                    PaymentsV1.RefundRequest(
                        paymentID: f.paymentID, amount: money(100), idempotencyKey: unique("ref"), reason: "outage"),
                    options: o)
            },
            Call(name: "Payments.GetPayment") { c in
                _ = try await c.payments.getPayment(PaymentsV1.GetPaymentRequest(lookup: .paymentID(f.paymentID)), options: o)
            },
            Call(name: "Payments.CancelAuthorization") { c in
                _ = try await c.payments.cancelAuthorization(
                    PaymentsV1.CancelAuthorizationRequest(idempotencyKey: unique("auth"), reason: "outage"), options: o)
            },
            // Shipments
            Call(name: "Shipments.CreateShipment") { c in
                _ = try await c.shipments.createShipment(
                    ShipmentsV1.CreateShipmentRequest(
                        idempotencyKey: unique("shp"), orderID: f.orderID, warehouse: "wh-1",
                        lines: [ShipmentsV1.ShipmentLine(lineID: f.lineID, quantity: 1)]), options: o)
            },
            Call(name: "Shipments.MarkLabelCreated") { c in
                _ = try await c.shipments.markLabelCreated(ShipmentsV1.MarkLabelCreatedRequest(shipmentID: f.shipmentID), options: o)
            },
            Call(name: "Shipments.MarkShipped") { c in
                _ = try await c.shipments.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: f.shipmentID), options: o)
            },
            Call(name: "Shipments.MarkDelivered") { c in
                _ = try await c.shipments.markDelivered(ShipmentsV1.MarkDeliveredRequest(shipmentID: f.shipmentID), options: o)
            },
            Call(name: "Shipments.CancelShipment") { c in
                _ = try await c.shipments.cancelShipment(
                    ShipmentsV1.CancelShipmentRequest(shipmentID: f.shipmentID, reason: "outage"), options: o)
            },
            Call(name: "Shipments.GetShipment") { c in
                _ = try await c.shipments.getShipment(ShipmentsV1.GetShipmentRequest(shipmentID: f.shipmentID), options: o)
            },
            Call(name: "Shipments.ListShipments") { c in
                _ = try await c.shipments.listShipments(ShipmentsV1.ListShipmentsRequest(orderID: f.orderID, pageSize: 10), options: o)
            },
            // Checkout
            Call(name: "Checkout.PlaceOrder") { c in
                _ = try await c.checkout.placeOrder(
                    CheckoutHarness.request(key: unique("key"), lines: [.init(f.sku, 1)]),
                    options: CallOptions(timeout: .seconds(10), idempotent: false))
            },
            Call(name: "Checkout.GetCheckout") { c in
                _ = try await c.checkout.getCheckout(
                    CheckoutV1.GetCheckoutRequest(lookup: .idempotencyKey(unique("key"))), options: o)
            },
        ]
    }

    @Test(
        "MariaDB unreachable: every storage-touching method of the service answers 14; it recovers",
        arguments: ["Inventory", "Orders", "Payments", "Shipments", "Checkout"])
    func everyMethodAnswersUnavailable(_ service: String) async throws {
        try await TestSuite.with(databaseProxy: true) { suite in
            let proxy = try #require(suite.databaseProxy)
            let fixture = try await Self.fixture(suite)
            let calls = Self.calls(fixture).filter { $0.name.hasPrefix(service + ".") }
            #expect(!calls.isEmpty)

            await proxy.cut()
            for call in calls {
                let code = await statusCode { try await call.run(suite.clients) }
                #expect(code == .unavailable, "\(call.name) answered \(code.map { "\($0)" } ?? "a non-RPC error")")
            }
            let name = service.lowercased()
            let answer = try #require(await suite.clients.checkHealth([name], timeout: .seconds(5))[name]).get()
            #expect(answer.status == .notServing, "\(service) health")
            let mysql = answer.dependencies.first { $0.name == "mysql" }
            #expect(mysql?.detail == "unavailable", "\(service) mysql detail: \(mysql?.detail ?? "-")")

            try await proxy.restore()
            for other in TestSuite.allServices { try await suite.waitHealthy(other, timeout: .seconds(60)) }
            let harness = CheckoutHarness(suite: suite)
            let placed = try await harness.place(CheckoutHarness.request(key: unique("after"), lines: [.init(fixture.sku, 1)]))
            guard case .placed? = placed.outcome else {
                Issue.record("PlaceOrder after the outage: \(placed)")
                return
            }
        }
    }
}
