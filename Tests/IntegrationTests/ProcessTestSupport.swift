import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

/// Process-level tests of orders, payments and shipments: every test starts the real `oms-*`
/// executables through `TestSuite` on fresh schemas. The suites below are nested in this one so that
/// they run one after another (two cores; several suites of processes at once would only make every
/// test slower and the timing-free assertions no stronger).
@Suite(.serialized) enum ProcessIntegration {}

/// The three services these tests need (inventory is not started: see `OutboxCrashTests`).
let fulfilmentServices = ["orders", "payments", "shipments"]

// MARK: Errors

/// The status code a call ended with: `.ok` when it returned, the server's code for an `RPCError`,
/// nil for anything else (the error is recorded).
func statusCode<T>(
    _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
) async -> RPCStatusCode? {
    do {
        _ = try await body()
        return .ok
    } catch let e as RPCError {
        return e.code
    } catch {
        Issue.record("not an RPCError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `body` to fail with one of `codes`; returns the error's message.
@discardableResult
func expectCode<T>(
    _ codes: Set<Int32>, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> String {
    do {
        let answer = try await body()
        Issue.record("\(what): expected code \(codes.sorted()), got an answer: \(answer)", sourceLocation: sourceLocation)
    } catch let e as RPCError {
        #expect(codes.contains(e.code.rawValue), "\(what): expected \(codes.sorted()), got \(e.code): \(e.message)",
                sourceLocation: sourceLocation)
        return e.message
    } catch {
        Issue.record("\(what): not an RPCError: \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

// MARK: Waiting

/// Polls `condition` every 200 ms until it holds or `timeout` passes (a generous bound for background
/// work; nothing is asserted about how fast it happens). Errors of the condition count as "not yet".
/// - Returns: whether it held.
func eventually(
    timeout: Duration = .seconds(60), _ condition: () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if (try? await condition()) == true { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(200))
    }
}

/// The last `lines` lines of every process's log, for failure messages.
func logs(_ suite: TestSuite, _ services: [String], lines: Int = 30) -> String {
    services.map { "--- oms-\($0) ---\n\(suite.processes[$0]?.logTail(lines: lines) ?? "(not running)")" }
        .joined(separator: "\n")
}

// MARK: Databases

/// Runs `body` with a pool on one service's schema and shuts the pool down afterwards.
func withDatabase<R>(
    _ suite: TestSuite, _ service: String, _ body: (MySQLConnectionPool) async throws -> R
) async throws -> R {
    let pool = try suite.database(service)
    do {
        let r = try await body(pool)
        await pool.shutdown()
        return r
    } catch {
        await pool.shutdown()
        throw error
    }
}

/// Runs `body` with one pool per named service and shuts them down afterwards.
func withDatabases<R>(
    _ suite: TestSuite, _ services: [String], _ body: ([String: MySQLConnectionPool]) async throws -> R
) async throws -> R {
    var pools: [String: MySQLConnectionPool] = [:]
    for s in services { pools[s] = try suite.database(s) }
    do {
        let r = try await body(pools)
        for p in pools.values { await p.shutdown() }
        return r
    } catch {
        for p in pools.values { await p.shutdown() }
        throw error
    }
}

/// `SELECT COUNT(*) AS n …` on a pool.
func count(_ pool: MySQLConnectionPool, _ sql: String, _ binds: [MySQLValue] = []) async throws -> Int64 {
    try await pool.queryOne(sql, binds)?.int64("n") ?? -1
}

// MARK: Builders

func money(_ minor: Int64, _ currency: String = "USD") -> CommonV1.Money {
    CommonV1.Money(amountMinor: minor, currency: currency)
}

/// A unique-enough suffix for ids and keys.
func unique(_ prefix: String) -> String {
    "\(prefix)-\(UInt64.random(in: 1...UInt64.max) % 1_000_000_000_000)"
}

struct LineSpec: Sendable {
    var sku: String
    var name: String
    var quantity: Int64
    var unitPrice: Int64
    var attributes: String = "{}"
}

/// A valid CreateOrder request.
func orderRequest(
    customerID: String = unique("cust"), name: String = "Ada Lovelace", email: String = "ada@example.org",
    lines: [LineSpec] = [LineSpec(sku: "SKU-MUG", name: "Enamel Mug", quantity: 3, unitPrice: 1250)],
    metadata: String = #"{"gift": false, "delivery_preference": "standard"}"#, currency: String = "USD",
    checkoutID: String = unique("chk")
) -> OrdersV1.CreateOrderRequest {
    OrdersV1.CreateOrderRequest(
        checkoutID: checkoutID,
        customer: CommonV1.Customer(customerID: customerID, name: name, email: email),
        lines: lines.map {
            OrdersV1.CreateOrderRequest.Line(
                sku: $0.sku, productName: $0.name, quantity: $0.quantity, unitPrice: money($0.unitPrice, currency),
                attributesJson: $0.attributes)
        },
        shippingAddress: CommonV1.Address(
            name: name, line1: "1 Analytical Row", city: "London", postalCode: "N1 1AA", country: "GB"),
        metadataJson: metadata)
}

/// A valid Authorize request with the sandbox's always-approved card.
func authorizeRequest(
    key: String, orderID: String, amount: Int64, currency: String = "USD", card: String = "4242424242424242"
) -> PaymentsV1.AuthorizeRequest {
    let year = UInt32(Calendar(identifier: .gregorian).component(.year, from: Date()) + 3)
    return PaymentsV1.AuthorizeRequest(
        idempotencyKey: key, orderID: orderID, amount: money(amount, currency),
        paymentMethod: PaymentsV1.PaymentMethod(
            kind: .card(PaymentsV1.Card(number: card, expMonth: 12, expYear: year, cvc: "123", holderName: "Ada Lovelace"))))
}

/// An order created in orders, authorized in payments for its total, and confirmed with that payment.
struct PaidOrder: Sendable {
    var order: OrdersV1.Order
    var payment: PaymentsV1.Payment
    var lineIDs: [String] { order.lines.map(\.lineID) }
    var total: Int64 { order.total?.amountMinor ?? 0 }
}

func placePaidOrder(_ suite: TestSuite, lines: [LineSpec]) async throws -> PaidOrder {
    let request = orderRequest(lines: lines)
    let created = try #require(try await suite.clients.orders.createOrder(request).order)
    #expect(created.status == .pendingPayment)
    let total = try #require(created.total?.amountMinor)
    let auth = try await suite.clients.payments.authorize(
        authorizeRequest(key: request.checkoutID, orderID: created.orderID, amount: total))
    let payment = try #require(auth.payment)
    #expect(payment.status == .authorized, "authorization: \(payment)")
    let confirmed = try #require(
        try await suite.clients.orders.confirmOrder(
            OrdersV1.ConfirmOrderRequest(orderID: created.orderID, paymentID: payment.paymentID, paid: money(total))
        ).order)
    #expect(confirmed.status == .confirmed)
    #expect(confirmed.paymentID == payment.paymentID)
    return PaidOrder(order: confirmed, payment: payment)
}

func getOrder(_ suite: TestSuite, _ id: String, events: Bool = false) async throws -> OrdersV1.GetOrderResponse {
    try await suite.clients.orders.getOrder(OrdersV1.GetOrderRequest(orderID: id, includeEvents: events))
}

func getPayment(_ suite: TestSuite, _ id: String) async throws -> PaymentsV1.Payment {
    try #require(try await suite.clients.payments.getPayment(PaymentsV1.GetPaymentRequest(lookup: .paymentID(id))).payment)
}

/// CreateShipment → MarkLabelCreated (sandbox carrier) → MarkShipped.
func shipLines(
    _ suite: TestSuite, orderID: String, _ lines: [(String, Int64)], key: String = unique("shp")
) async throws -> ShipmentsV1.Shipment {
    let s = suite.clients.shipments
    let created = try #require(
        try await s.createShipment(
            ShipmentsV1.CreateShipmentRequest(
                idempotencyKey: key, orderID: orderID, warehouse: "wh-1",
                lines: lines.map { ShipmentsV1.ShipmentLine(lineID: $0.0, quantity: $0.1) })
        ).shipment)
    #expect(created.status == .pending)
    let labelled = try #require(
        try await s.markLabelCreated(ShipmentsV1.MarkLabelCreatedRequest(shipmentID: created.shipmentID)).shipment)
    #expect(labelled.status == .labelCreated)
    #expect(labelled.trackingNumber.hasPrefix("SBX"))
    let shipped = try #require(
        try await s.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: created.shipmentID)).shipment)
    #expect(shipped.status == .shipped)
    return shipped
}

/// Σ quantity × unit price of `lines` in `order`.
func share(_ order: OrdersV1.Order, _ lines: [(String, Int64)]) -> Int64 {
    lines.reduce(0) { sum, l in
        sum + l.1 * (order.lines.first { $0.lineID == l.0 }?.unitPrice?.amountMinor ?? 0)
    }
}
