import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

/// Helpers of `CheckoutProcessTests`: catalog and stock set-up through the inventory API, PlaceOrder
/// requests, polling a checkout to its end, and the invariants every ended checkout must satisfy,
/// checked against the services' APIs and their own schemas.
struct CheckoutHarness {
    let suite: TestSuite

    static let approvedCard = "4242424242424242"
    static let declinedCard = "4000000000000002"

    /// One cart line: SKU and quantity.
    struct Line: Sendable, Hashable {
        var sku: String
        var quantity: Int64
        init(_ sku: String, _ quantity: Int64) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    /// What a verified checkout ended as.
    enum End: Sendable, Equatable {
        case placed(orderID: String, total: Int64)
        case rejected(CheckoutV1.PlaceOrderResponse.Rejected.Reason?)

        var isPlaced: Bool { if case .placed = self { true } else { false } }
    }

    // MARK: Set-up

    /// A SKU unique to this run.
    static func sku(_ prefix: String) -> String {
        "\(prefix)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// Creates (or updates) a product priced `priceMinor` USD and receives `stock` units of it.
    func addProduct(_ sku: String, priceMinor: Int64, stock: Int64) async throws {
        var product = InventoryV1.Product()
        product.sku = sku
        product.name = "Product \(sku)"
        product.price = CommonV1.Money(amountMinor: priceMinor, currency: "USD")
        product.attributesJson = "{}"
        product.active = true
        var upsert = InventoryV1.UpsertProductRequest()
        upsert.product = product
        _ = try await suite.clients.inventory.upsertProduct(upsert)
        guard stock > 0 else { return }
        var adjust = InventoryV1.AdjustStockRequest()
        adjust.sku = sku
        adjust.kind = .receive
        adjust.quantity = stock
        adjust.reason = "checkout process test"
        adjust.reference = "receive-\(sku)"
        _ = try await suite.clients.inventory.adjustStock(adjust)
    }

    /// Stock levels by SKU; `consistent` reads MySQL, otherwise the Redis gate where it has the SKU.
    func stock(_ skus: [String], consistent: Bool = true) async throws -> [String: InventoryV1.StockLevel] {
        var request = InventoryV1.GetStockRequest()
        request.skus = skus
        request.consistent = consistent
        let response = try await suite.clients.inventory.getStock(request)
        var out: [String: InventoryV1.StockLevel] = [:]
        for level in response.levels { out[level.sku] = level }
        return out
    }

    // MARK: Requests

    static func request(
        key: String, lines: [Line], card: String = approvedCard, customer: String = "cust-1", metadata: String = "{}"
    ) -> CheckoutV1.PlaceOrderRequest {
        var r = CheckoutV1.PlaceOrderRequest()
        r.idempotencyKey = key
        var c = CommonV1.Customer()
        c.customerID = customer
        c.name = "Test Customer"
        c.email = "customer@example.com"
        r.customer = c
        r.lines = lines.map { l in
            var line = CheckoutV1.PlaceOrderRequest.Line()
            line.sku = l.sku
            line.quantity = l.quantity
            line.attributesJson = "{}"
            return line
        }
        var wireCard = PaymentsV1.Card()
        wireCard.number = card
        wireCard.expMonth = 12
        wireCard.expYear = 2040
        wireCard.cvc = "123"
        wireCard.holderName = "Test Customer"
        r.paymentMethod = PaymentsV1.PaymentMethod(kind: .card(wireCard))
        var a = CommonV1.Address()
        a.name = "Test Customer"
        a.line1 = "1 Main Street"
        a.city = "Springfield"
        a.postalCode = "12345"
        a.country = "US"
        r.shippingAddress = a
        r.metadataJson = metadata
        return r
    }

    /// A key unique to this run.
    static func key(_ prefix: String) -> String {
        "\(prefix)-\(UInt64.random(in: 1...UInt64.max))"
    }

    /// PlaceOrder with a deadline (the client does not retry it).
    func place(_ request: CheckoutV1.PlaceOrderRequest, timeout: Duration = .seconds(30)) async throws
        -> CheckoutV1.PlaceOrderResponse
    {
        try await suite.clients.checkout.placeOrder(request, options: CallOptions(timeout: timeout, idempotent: false))
    }

    // MARK: Checkouts

    /// The checkout recorded under `key`, or nil when GetCheckout answers 5.
    func checkout(key: String) async throws -> CheckoutV1.CheckoutRecord? {
        do {
            let r = try await suite.clients.checkout.getCheckout(
                CheckoutV1.GetCheckoutRequest(lookup: .idempotencyKey(key)), options: CallOptions(timeout: .seconds(5)))
            return r.checkout
        } catch let e as RPCError where e.code == .notFound {
            return nil
        }
    }

    /// Polls GetCheckout until the checkout under `key` has a final result (errors count as "not yet":
    /// the coordinator may be restarting). Records an issue and returns nil after `timeout`.
    func waitFinished(
        key: String, timeout: Duration = .seconds(90), sourceLocation: SourceLocation = #_sourceLocation
    ) async -> CheckoutV1.CheckoutRecord? {
        let deadline = ContinuousClock.now + timeout
        var last: CheckoutV1.CheckoutRecord?
        while true {
            if let record = try? await checkout(key: key) {
                last = record
                if let result = record.result, let outcome = result.outcome {
                    if case .inProgress = outcome {} else { return record }
                }
            }
            if ContinuousClock.now >= deadline {
                Issue.record(
                    "checkout \(key) did not finish within \(timeout); last seen phase \(last?.phase ?? "none")\n\(logs(["checkout", "inventory", "orders", "payments"]))",
                    sourceLocation: sourceLocation)
                return nil
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Polls until `condition` holds or `timeout` passes; errors count as "not yet". No speed is asserted.
    static func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if (try? await condition()) == true { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The last log lines of some processes, for failure messages.
    func logs(_ services: [String], lines: Int = 25) -> String {
        IntegrationTests.logs(suite, services, lines: lines)
    }

    // MARK: Databases

    func withPool<R>(_ service: String, _ body: (MySQLConnectionPool) async throws -> R) async throws -> R {
        try await withDatabase(suite, service, body)
    }

    func scalar(_ service: String, _ sql: String, _ binds: [MySQLValue] = []) async throws -> Int64 {
        try await withPool(service) { try await $0.queryOne(sql, binds)?.int64("n") ?? -1 }
    }

    // MARK: Invariants

    /// Checks one ended checkout against every service:
    /// - placed → the order is confirmed with that payment and total, exactly one payment intent exists
    ///   for the checkout and it is authorized for the total, the reservation is committed;
    /// - rejected → the order is absent or cancelled, every payment intent is failed or voided (no net
    ///   charge), the reservation is absent, released or expired;
    /// - in both cases the checkout is closed and no compensation was refused.
    /// - Returns: what it ended as, or nil (with issues recorded) when it has not ended.
    @discardableResult
    func verify(_ record: CheckoutV1.CheckoutRecord, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> End?
    {
        let id = record.checkoutID
        let context = "checkout \(id) (key \(record.idempotencyKey), phase \(record.phase))"
        #expect(record.compensationFailures.isEmpty, "\(context): refused compensations \(record.compensationFailures)",
                sourceLocation: sourceLocation)
        let open = try await scalar(
            "checkout", "SELECT COUNT(*) AS n FROM checkouts WHERE checkout_id = ? AND is_open = 1", [.int64(Int64(id) ?? -1)])
        #expect(open == 0, "\(context): still open", sourceLocation: sourceLocation)

        let order = try await orderOf(checkoutID: id)
        let intents = try await withPool("payments") { pool in
            try await pool.query(
                "SELECT status, amount, currency FROM payment_intents WHERE idempotency_key = ? OR checkout_id = ?",
                [.string(id), .string(id)])
        }.map { (status: try $0.string("status"), amount: try $0.int64("amount")) }
        let reservation = try await withPool("inventory") { pool in
            try await pool.queryOne("SELECT state FROM reservations WHERE id = ?", [.string(id)])
        }.map { try $0.string("state") }
        let ordersForCheckout = try await scalar(
            "orders", "SELECT COUNT(*) AS n FROM orders WHERE checkout_id = ?", [.string(id)])
        #expect(ordersForCheckout <= 1, "\(context): \(ordersForCheckout) orders", sourceLocation: sourceLocation)

        switch record.result?.outcome {
        case .placed(let placed)?:
            #expect(record.phase == "completed", "\(context): placed but phase \(record.phase)", sourceLocation: sourceLocation)
            guard let order else {
                Issue.record("\(context): placed but no order", sourceLocation: sourceLocation)
                return .placed(orderID: placed.orderID, total: placed.total?.amountMinor ?? -1)
            }
            #expect(order.orderID == placed.orderID, "\(context): order \(order.orderID) vs \(placed.orderID)",
                    sourceLocation: sourceLocation)
            #expect(order.status == .confirmed, "\(context): order is \(order.status)", sourceLocation: sourceLocation)
            #expect(order.paymentID == placed.paymentID, "\(context): order payment \(order.paymentID) vs \(placed.paymentID)",
                    sourceLocation: sourceLocation)
            #expect(order.total?.amountMinor == placed.total?.amountMinor, sourceLocation: sourceLocation)
            #expect(intents.count == 1, "\(context): \(intents.count) payment intents \(intents)", sourceLocation: sourceLocation)
            #expect(intents.first?.status == "authorized", "\(context): payment \(intents)", sourceLocation: sourceLocation)
            #expect(intents.first?.amount == placed.total?.amountMinor, "\(context): authorized \(intents) vs total \(String(describing: placed.total))",
                    sourceLocation: sourceLocation)
            #expect(reservation == "committed", "\(context): reservation \(reservation ?? "absent")", sourceLocation: sourceLocation)
            return .placed(orderID: placed.orderID, total: placed.total?.amountMinor ?? -1)
        case .rejected(let rejected)?:
            #expect(record.phase == "compensated", "\(context): rejected but phase \(record.phase)", sourceLocation: sourceLocation)
            if let order {
                #expect(order.status == .cancelled, "\(context): rejected but order \(order.orderID) is \(order.status)",
                        sourceLocation: sourceLocation)
            }
            let charged = intents.filter { $0.status != "failed" && $0.status != "voided" }
            #expect(charged.isEmpty, "\(context): rejected but payments \(intents)", sourceLocation: sourceLocation)
            if let reservation {
                #expect(reservation == "released" || reservation == "expired",
                        "\(context): rejected but reservation \(reservation)", sourceLocation: sourceLocation)
            }
            return .rejected(rejected.reason)
        case .inProgress?, nil:
            Issue.record("\(context): has not ended (\(String(describing: record.result)))", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The order created for a checkout, or nil when orders answers 5.
    func orderOf(checkoutID: String) async throws -> OrdersV1.Order? {
        var request = OrdersV1.GetOrderRequest()
        request.checkoutID = checkoutID
        do {
            return try await suite.clients.orders.getOrder(request).order
        } catch let e as RPCError where e.code == .notFound {
            return nil
        }
    }

    /// Suite-wide invariants once every checkout has ended: nothing open, held, pending or orphaned;
    /// per SKU `on_hand == stocked − sold`, nothing reserved, available never negative, and the gate
    /// (when it has the SKU) equal to MySQL's available.
    func audit(stocked: [String: Int64], sold: [String: Int64], sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let open = try await scalar("checkout", "SELECT COUNT(*) AS n FROM checkouts WHERE is_open = 1")
        #expect(open == 0, "\(open) checkouts still open", sourceLocation: sourceLocation)
        let pendingOrders = try await scalar("orders", "SELECT COUNT(*) AS n FROM orders WHERE status = 'pending_payment'")
        #expect(pendingOrders == 0, "\(pendingOrders) orders left pending payment (orphaned)", sourceLocation: sourceLocation)
        let pendingPayments = try await scalar(
            "payments", "SELECT COUNT(*) AS n FROM payment_intents WHERE status = 'pending'")
        #expect(pendingPayments == 0, "\(pendingPayments) payments left pending", sourceLocation: sourceLocation)
        let authorized = try await scalar(
            "payments", "SELECT COUNT(*) AS n FROM payment_intents WHERE status = 'authorized'")
        let confirmed = try await scalar("orders", "SELECT COUNT(*) AS n FROM orders WHERE status = 'confirmed'")
        #expect(authorized == confirmed, "\(authorized) authorizations held vs \(confirmed) confirmed orders",
                sourceLocation: sourceLocation)
        let held = try await scalar("inventory", "SELECT COUNT(*) AS n FROM reservations WHERE state = 'held'")
        #expect(held == 0, "\(held) reservations still held", sourceLocation: sourceLocation)

        let skus = stocked.keys.sorted()
        let levels = try await stock(skus, consistent: true)
        let cached = try await stock(skus, consistent: false)
        for sku in skus {
            guard let level = levels[sku] else {
                Issue.record("no stock row for \(sku)", sourceLocation: sourceLocation)
                continue
            }
            let expected = stocked[sku, default: 0] - sold[sku, default: 0]
            #expect(level.onHand == expected, "\(sku): on hand \(level.onHand), expected \(expected)",
                    sourceLocation: sourceLocation)
            #expect(level.reserved == 0, "\(sku): \(level.reserved) still reserved", sourceLocation: sourceLocation)
            #expect(level.available >= 0 && level.available == level.onHand - level.reserved, "\(sku): \(level)",
                    sourceLocation: sourceLocation)
            if let gate = cached[sku], gate.source == .cache {
                #expect(gate.available == level.available, "\(sku): gate \(gate.available) vs MySQL \(level.available)",
                        sourceLocation: sourceLocation)
            }
        }
    }
}

/// Units per SKU of the placed carts.
func checkoutUnitsSold(_ carts: [(lines: [CheckoutHarness.Line], end: CheckoutHarness.End?)]) -> [String: Int64] {
    var sold: [String: Int64] = [:]
    for cart in carts where cart.end?.isPlaced == true {
        for line in cart.lines { sold[line.sku, default: 0] += line.quantity }
    }
    return sold
}
