import Foundation
import Logging
import OMSAPI
import OMSMySQL
import OMSProto
import OMSCore
import OMSRPCCore
import Testing

@testable import Orders

/// Counts effects by idempotency key / reference, like the real idempotent receivers.
actor RecordingReceiver: OrdersOutboxReceiver {
    var refundCalls = 0
    var restockCalls = 0
    var refunds: [String: Int64] = [:]
    var restocks: [String: [String: Int]] = [:]
    /// When set, the next delivery takes effect and then the relay "dies" before marking it.
    var crashAfterNextDelivery = false
    /// While set, every delivery fails (the receiving service refuses or is down).
    var refusing = false

    struct Refused: Error {}

    func setRefusing(_ on: Bool) { refusing = on }

    struct Crash: Error {}

    func armCrash() { crashAfterNextDelivery = true }

    nonisolated func refund(_ refund: OutboxRefund) async throws { try await record(refund) }
    nonisolated func restock(_ restock: OutboxRestock) async throws { try await record(restock) }

    private func record(_ r: OutboxRefund) throws {
        if refusing { throw Refused() }
        refundCalls += 1
        if refunds[r.idempotencyKey] == nil { refunds[r.idempotencyKey] = r.amount.minorUnits }
        try maybeCrash()
    }

    private func record(_ r: OutboxRestock) throws {
        if refusing { throw Refused() }
        restockCalls += 1
        if restocks[r.reference] == nil {
            restocks[r.reference] = Dictionary(r.lines.map { ($0.sku, $0.quantity) }, uniquingKeysWith: +)
        }
        try maybeCrash()
    }

    private func maybeCrash() throws {
        if crashAfterNextDelivery {
            crashAfterNextDelivery = false
            throw CancellationError()
        }
    }
}

let context = ServerContext(
    method: OrdersV1.Orders.Method.createOrder, metadata: [:], deadline: nil, peer: "test")

func money(_ minor: Int64, _ currency: String = "EUR") -> CommonV1.Money {
    var m = CommonV1.Money()
    m.amountMinor = minor
    m.currency = currency
    return m
}

func createRequest(
    checkout: String = "co-\(UUID().uuidString.prefix(8))", customer: String = "cust-1", name: String = "Ann Lee",
    email: String = "ann@example.org", lines: [(String, String, Int64, Int64, String)] = [
        ("SKU-1", "Blue Teapot", 2, 1500, #"{"size":"L","colour":"blue"}"#),
        ("SKU-2", "Green Mug", 1, 700, "{}"),
    ], metadata: String = #"{"gift":true,"delivery_preference":"evening"}"#
) -> OrdersV1.CreateOrderRequest {
    var r = OrdersV1.CreateOrderRequest()
    r.checkoutID = checkout
    var c = CommonV1.Customer()
    c.customerID = customer
    c.name = name
    c.email = email
    r.customer = c
    var a = CommonV1.Address()
    a.name = name
    a.line1 = "1 Rue de Rivoli"
    a.city = "Paris"
    a.country = "FR"
    r.shippingAddress = a
    r.metadataJson = metadata
    r.lines = lines.map { l in
        var line = OrdersV1.CreateOrderRequest.Line()
        line.sku = l.0
        line.productName = l.1
        line.quantity = l.2
        line.unitPrice = money(l.3)
        line.attributesJson = l.4
        return line
    }
    return r
}

func expectCode(_ code: RPCStatusCode, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation)
    async
{
    do {
        try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let e as RPCError {
        #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Orders service against MariaDB", .serialized)
struct OrdersServiceTests {
    let logger = Logger(label: "orders-test")

    func withService(
        replicaLagging: Bool = false, _ body: (OrdersService, OrdersTestDatabase) async throws -> Void
    ) async throws {
        let db = try await OrdersTestDatabase.make(replicaLagging: replicaLagging)
        do {
            let service = OrdersService(
                database: db.database, nodeID: Int.random(in: 0..<1024), recentWriteWindow: .seconds(0),
                logger: logger)
            try await body(service, db)
        } catch {
            await db.drop()
            throw error
        }
        await db.drop()
    }

    func create(_ s: OrdersService, _ r: OrdersV1.CreateOrderRequest = createRequest()) async throws -> OrdersV1.Order {
        try #require(try await s.createOrder(r, context: context).order)
    }

    func confirm(_ s: OrdersService, _ id: String, paid: Int64? = nil) async throws -> OrdersV1.Order {
        var r = OrdersV1.ConfirmOrderRequest()
        r.orderID = id
        r.paymentID = "pay-\(id)"
        if let paid { r.paid = money(paid) }
        return try #require(try await s.confirmOrder(r, context: context).order)
    }

    func cancel(_ s: OrdersService, _ id: String) async throws -> OrdersV1.Order {
        var r = OrdersV1.CancelOrderRequest()
        r.orderID = id
        r.reason = "customer asked"
        return try #require(try await s.cancelOrder(r, context: context).order)
    }

    func ship(_ s: OrdersService, _ id: String, _ shipment: String, _ lines: [(String, Int64)], delivered: Bool = false)
        async throws -> OrdersV1.Order
    {
        var r = OrdersV1.RecordShipmentRequest()
        r.orderID = id
        r.shipmentID = shipment
        r.kind = delivered ? .delivered : .shipped
        r.lines = lines.map {
            var l = OrdersV1.ShippedLine()
            l.lineID = $0.0
            l.quantity = $0.1
            return l
        }
        return try #require(try await s.recordShipment(r, context: context).order)
    }

    func returnUnits(_ s: OrdersService, _ id: String, _ key: String, _ lines: [(String, Int64)]) async throws
        -> OrdersV1.RequestReturnResponse
    {
        var r = OrdersV1.RequestReturnRequest()
        r.orderID = id
        r.returnID = key
        r.reason = "did not fit"
        r.lines = lines.map {
            var l = OrdersV1.ReturnLine()
            l.lineID = $0.0
            l.quantity = $0.1
            return l
        }
        return try await s.requestReturn(r, context: context)
    }

    func get(_ s: OrdersService, _ id: String, events: Bool = false) async throws -> OrdersV1.GetOrderResponse {
        var r = OrdersV1.GetOrderRequest()
        r.orderID = id
        r.includeEvents = events
        return try await s.getOrder(r, context: context)
    }

    // MARK: Create

    @Test func createIsIdempotentOnCheckoutID() async throws {
        try await withService { s, db in
            let req = createRequest(checkout: "co-idem")
            let a = try await create(s, req)
            let b = try await create(s, req)
            #expect(a.orderID == b.orderID)
            #expect(a.status == .pendingPayment)
            #expect(a.total?.amountMinor == 3700)
            #expect(try await db.count("SELECT COUNT(*) FROM orders") == 1)
            var other = req
            other.lines[0].quantity = 3
            await expectCode(.alreadyExists) { _ = try await create(s, other) }
            var byCheckout = OrdersV1.GetOrderRequest()
            byCheckout.checkoutID = "co-idem"
            #expect(try await s.getOrder(byCheckout, context: context).order?.orderID == a.orderID)
            byCheckout.checkoutID = "co-unknown"
            await expectCode(.notFound) { _ = try await s.getOrder(byCheckout, context: context) }
            // Concurrent repeats of one checkout create one order.
            let req2 = createRequest(checkout: "co-race")
            let ids = try await withThrowingTaskGroup(of: String.self) { g in
                for _ in 0..<6 { g.addTask { try await create(s, req2).orderID } }
                return try await g.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
        }
    }

    @Test func concurrentCreatesShareTransactionsAndEachKeepsItsOwnAnswer() async throws {
        try await withService { s, db in
            // A fence, and one order created before the burst.
            var fence = OrdersV1.CancelOrderRequest()
            fence.checkoutID = "co-fenced"
            fence.reason = "test"
            _ = try await s.cancelOrder(fence, context: context)
            let earlier = try await create(s, createRequest(checkout: "co-earlier"))
            var different = createRequest(checkout: "co-earlier")
            different.lines[0].quantity = 3
            // 60 at once: 56 new orders, a repeat of an earlier one, a different request with its key,
            // a fenced checkout, and two racing creates of one new checkout.
            enum Answer: Equatable { case order(String), code(RPCStatusCode) }
            var requests: [(String, OrdersV1.CreateOrderRequest)] = (0..<56).map { ("new-\($0)", createRequest(checkout: "co-new-\($0)")) }
            requests += [
                ("repeat", createRequest(checkout: "co-earlier")), ("different", different),
                ("fenced", createRequest(checkout: "co-fenced")),
                ("race-a", createRequest(checkout: "co-race2")), ("race-b", createRequest(checkout: "co-race2")),
            ]
            let answers = await withTaskGroup(of: (String, Answer).self) { g in
                for (name, request) in requests {
                    g.addTask {
                        do { return (name, .order(try await create(s, request).orderID)) } catch let e as RPCError {
                            return (name, .code(e.code))
                        } catch { return (name, .code(.unknown)) }
                    }
                }
                return await g.reduce(into: [String: Answer]()) { $0[$1.0] = $1.1 }
            }
            #expect(answers["repeat"] == .order(earlier.orderID))
            #expect(answers["different"] == .code(.alreadyExists))
            #expect(answers["fenced"] == .code(.failedPrecondition))
            #expect(answers["race-a"] != nil && answers["race-a"] == answers["race-b"])
            let created = Set((0..<56).compactMap { i -> String? in
                if case .order(let id) = answers["new-\(i)"] { return id }
                return nil
            })
            #expect(created.count == 56)
            #expect(try await db.count("SELECT COUNT(*) FROM orders") == 1 + 56 + 1)
            #expect(try await db.count("SELECT COUNT(*) FROM order_events") == 1 + 56 + 1)
            #expect(try await db.count("SELECT COUNT(*) FROM order_search") == 1 + 56 + 1)
        }
    }

    // MARK: Transitions

    @Test func lifecycleWritesOneEventPerTransition() async throws {
        try await withService { s, db in
            let o = try await create(s)
            let c1 = try await confirm(s, o.orderID)
            let c2 = try await confirm(s, o.orderID)
            #expect(c1.status == .confirmed && c2.status == .confirmed && c1.version == c2.version)
            _ = try await ship(s, o.orderID, "sh-1", [("1", 1)])
            #expect(try await get(s, o.orderID).order?.status == .partiallyShipped)
            await expectCode(.failedPrecondition) { _ = try await cancel(s, o.orderID) }
            let again = try await ship(s, o.orderID, "sh-1", [("1", 1)])  // repeated report
            #expect(again.status == .partiallyShipped)
            let shipped = try await ship(s, o.orderID, "sh-2", [("1", 1), ("2", 1)])
            #expect(shipped.status == .shipped)
            await expectCode(.failedPrecondition) { _ = try await ship(s, o.orderID, "sh-3", [("2", 1)]) }
            _ = try await ship(s, o.orderID, "sh-1", [], delivered: true)
            #expect(try await get(s, o.orderID).order?.status == .shipped)
            let delivered = try await ship(s, o.orderID, "sh-2", [], delivered: true)
            #expect(delivered.status == .delivered)
            let history = try await get(s, o.orderID, events: true)
            let kinds = history.events.map(\.kind)
            #expect(kinds == ["created", "confirm", "ship", "ship", "deliver", "deliver"])
            #expect(Int64(history.events.count) == history.order?.version)
            #expect(try await db.count("SELECT COUNT(*) FROM order_shipments") == 2)
        }
    }

    @Test func cancelThenConfirmIsRefused() async throws {
        try await withService { s, db in
            let o = try await create(s)
            _ = try await cancel(s, o.orderID)
            _ = try await cancel(s, o.orderID)  // same target: fine
            await expectCode(.failedPrecondition) { _ = try await confirm(s, o.orderID) }
            await expectCode(.failedPrecondition) { _ = try await ship(s, o.orderID, "sh-x", [("1", 1)]) }
            let h = try await get(s, o.orderID, events: true)
            #expect(h.order?.status == .cancelled)
            #expect(h.events.map(\.kind) == ["created", "cancel"])
            await expectCode(.notFound) { _ = try await confirm(s, "12345") }
        }
    }

    @Test func cancelByCheckoutFencesACreateThatArrivesLate() async throws {
        try await withService { s, db in
            let late = createRequest()
            var fence = OrdersV1.CancelOrderRequest()
            fence.checkoutID = late.checkoutID
            fence.reason = "checkout compensated"
            // No order yet: the cancel fences the checkout (no order in the answer), and again.
            #expect(try await s.cancelOrder(fence, context: context).order == nil)
            #expect(try await s.cancelOrder(fence, context: context).order == nil)
            // The CreateOrder that arrives afterwards is refused and leaves nothing behind.
            await expectCode(.failedPrecondition) { _ = try await s.createOrder(late, context: context) }
            #expect(try await db.count("SELECT COUNT(*) AS n FROM orders WHERE checkout_id = ?", [.string(late.checkoutID)]) == 0)
            var byCheckout = OrdersV1.GetOrderRequest()
            byCheckout.checkoutID = late.checkoutID
            await expectCode(.notFound) { _ = try await s.getOrder(byCheckout, context: context) }

            // With an order, cancelling by checkout id cancels that order.
            let made = try await create(s)
            var cancel = OrdersV1.CancelOrderRequest()
            cancel.checkoutID = made.checkoutID
            cancel.reason = "checkout compensated"
            let cancelled = try #require(try await s.cancelOrder(cancel, context: context).order)
            #expect(cancelled.orderID == made.orderID)
            #expect(cancelled.status == .cancelled)

            // Exactly one of the two ids.
            var both = cancel
            both.orderID = made.orderID
            await expectCode(.invalidArgument) { _ = try await s.cancelOrder(both, context: context) }
        }
    }

    @Test func concurrentConfirmAndCancelExactlyOneWins() async throws {
        try await withService { s, db in
            for _ in 0..<8 {
                let o = try await create(s)
                async let a: Result<OrdersV1.Order, Error> = { do { return .success(try await confirm(s, o.orderID)) } catch { return .failure(error) } }()
                async let b: Result<OrdersV1.Order, Error> = { do { return .success(try await cancel(s, o.orderID)) } catch { return .failure(error) } }()
                let (ra, rb) = await (a, b)
                let wins = [ra, rb].filter { if case .success = $0 { true } else { false } }.count
                for r in [ra, rb] {
                    if case .failure(let e) = r {
                        let code = (e as? RPCError)?.code
                        #expect(code == .failedPrecondition || code == .aborted, "\(e)")
                    }
                }
                let h = try await get(s, o.orderID, events: true)
                if wins == 2 {
                    // The two did not overlap: confirm ran first and a confirmed order may be cancelled.
                    // The opposite order is illegal, and no transition was lost or applied twice.
                    #expect(h.events.map(\.kind) == ["created", "confirm", "cancel"])
                    #expect(h.order?.status == .cancelled)
                } else {
                    // They raced on one version: exactly one transition was written.
                    #expect(wins == 1)
                    #expect(h.events.count == 2)
                    if case .success = ra { #expect(h.order?.status == .confirmed) } else { #expect(h.order?.status == .cancelled) }
                }
            }
        }
    }

    // MARK: Returns and outbox

    @Test func returnsPartialRepeatedOverReturnAndRefundCap() async throws {
        try await withService { s, db in
            // 3 × 1000 + 1 × 1001 = 4001; paid 4000 (less than total, e.g. a discount at authorization).
            let o = try await create(s, createRequest(lines: [("A", "Alpha", 3, 1000, "{}"), ("B", "Beta", 1, 1001, "{}")]))
            await expectCode(.failedPrecondition) { _ = try await returnUnits(s, o.orderID, "r-early", [("1", 1)]) }
            _ = try await confirm(s, o.orderID, paid: 4000)
            _ = try await ship(s, o.orderID, "s1", [("1", 2)])
            await expectCode(.failedPrecondition) { _ = try await returnUnits(s, o.orderID, "r-over", [("1", 3)]) }
            #expect(try await db.count("SELECT COUNT(*) FROM order_returns") == 0)
            let r1 = try await returnUnits(s, o.orderID, "r-1", [("1", 1)])
            #expect(r1.order?.status == .partiallyReturned)
            #expect(r1.orderReturn?.refundAmount?.amountMinor == 999)  // floor(1000 × 4000 / 4001)
            let again = try await returnUnits(s, o.orderID, "r-1", [("1", 1)])
            #expect(again.orderReturn?.refundAmount?.amountMinor == 999)
            #expect(again.order?.version == r1.order?.version)
            await expectCode(.failedPrecondition) { _ = try await returnUnits(s, o.orderID, "r-2", [("1", 2)]) }
            await expectCode(.invalidArgument) { _ = try await returnUnits(s, o.orderID, "r-3", [("9", 1)]) }
            _ = try await ship(s, o.orderID, "s2", [("1", 1), ("2", 1)])
            let r4 = try await returnUnits(s, o.orderID, "r-4", [("1", 2), ("2", 1)])
            #expect(r4.order?.status == .returned)
            #expect(r4.order?.refunded?.amountMinor == 4000)  // never above paid
            #expect(r4.orderReturn?.refundAmount?.amountMinor == 3001)
            await expectCode(.failedPrecondition) { _ = try await returnUnits(s, o.orderID, "r-5", [("1", 1)]) }
            #expect(try await db.count("SELECT COUNT(*) FROM order_returns") == 2)
            #expect(try await db.count("SELECT COUNT(*) FROM order_outbox") == 4)
            let h = try await get(s, o.orderID, events: true)
            #expect(h.events.filter { $0.kind == "return" }.count == 2)
        }
    }

    @Test func relayKilledMidDeliveryStillOneRefundAndOneRestock() async throws {
        try await withService { s, db in
            let o = try await create(s)
            _ = try await confirm(s, o.orderID)
            _ = try await ship(s, o.orderID, "s1", [("1", 2), ("2", 1)])
            _ = try await returnUnits(s, o.orderID, "ret-1", [("1", 1)])
            let receiver = RecordingReceiver()
            await receiver.armCrash()
            let relay = OrdersOutboxRelay(database: db.database, receiver: receiver, lease: .zero, logger: logger)
            // First run: the refund takes effect, then the relay dies before marking it delivered.
            do {
                try await relay.runOnce()
                Issue.record("the relay should have died")
            } catch is CancellationError {}
            #expect(try await db.count("SELECT COUNT(*) FROM order_outbox WHERE delivered_at IS NULL") == 2)
            // A restarted relay (lease expired) delivers everything again; receivers dedupe.
            let relay2 = OrdersOutboxRelay(database: db.database, receiver: receiver, lease: .seconds(30), logger: logger)
            #expect(try await relay2.runOnce() == 2)
            #expect(try await relay2.runOnce() == 0)
            let refundCalls = await receiver.refundCalls
            let refunds = await receiver.refunds
            let restocks = await receiver.restocks
            #expect(refundCalls == 2)  // delivered twice (at least once) ...
            #expect(refunds.count == 1)  // ... in effect once
            #expect(restocks.count == 1)
            #expect(restocks.values.first == ["SKU-1": 1])
            #expect(refunds.values.first == 1500)  // 1500 × 3700 / 3700
            #expect(try await db.count("SELECT COUNT(*) FROM order_outbox WHERE delivered_at IS NULL") == 0)
        }
    }

    @Test func outboxRetriesWithGrowingDelaysThenParksAndResumes() async throws {
        try await withService { s, db in
            let o = try await create(s)
            _ = try await confirm(s, o.orderID)
            _ = try await ship(s, o.orderID, "s1", [("1", 2), ("2", 1)])
            _ = try await returnUnits(s, o.orderID, "ret-1", [("1", 1)])
            let receiver = RecordingReceiver()
            await receiver.setRefusing(true)
            let relay = OrdersOutboxRelay(
                database: db.database, receiver: receiver, lease: .zero, maxAttempts: 3, retryBase: .milliseconds(20),
                logger: logger)
            // Each failure pushes the row's next delivery further out (20 ms, 40 ms), then it is parked.
            for _ in 0..<200 {
                _ = try await relay.runOnce()
                if try await relay.parkedCount() == 2 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await relay.parkedCount() == 2)
            #expect(try await db.count("SELECT COUNT(*) FROM order_outbox WHERE attempts = 3 AND parked_at IS NOT NULL") == 2)
            // Parked rows are left alone.
            #expect(try await relay.runOnce() == 0)
            #expect(try await db.count("SELECT COUNT(*) FROM order_outbox WHERE attempts > 3") == 0)
            // Fixed and resumed: both are delivered, once each.
            await receiver.setRefusing(false)
            #expect(try await relay.resumeParked() == 2)
            #expect(try await relay.runOnce() == 2)
            #expect(try await relay.parkedCount() == 0)
            let refunds = await receiver.refunds
            let restocks = await receiver.restocks
            #expect(refunds.count == 1 && restocks.count == 1)
        }
    }

    @Test func outboxRetryDelaysDoubleToTheCap() {
        for (attempts, base) in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (500, 60.0)] {
            let delay = OrdersOutboxRelay.retryDelay(attempts: attempts, base: .seconds(1)).inSeconds
            #expect(delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9, "attempt \(attempts): \(delay) s")
        }
    }

    // MARK: Schema: partitions and generated JSON columns

    func explain(_ db: OrdersTestDatabase, _ sql: String, _ binds: [MySQLValue]) async throws -> [MySQLRow] {
        do {
            return try await db.database.primary.query("EXPLAIN PARTITIONS " + sql, binds)
        } catch {
            return try await db.database.primary.query("EXPLAIN " + sql, binds)  // MySQL 8
        }
    }

    @Test func explainShowsPruningAndGeneratedColumnIndex() async throws {
        try await withService { s, db in
            var last = try await create(s)
            for i in 0..<60 {
                let pref = i % 3 == 0 ? "evening" : "morning-\(i)"
                last = try await create(
                    s, createRequest(metadata: #"{"gift":false,"delivery_preference":"\#(pref)"}"#))
            }
            try await db.database.primary.withConnection { try await $0.executeScript("ANALYZE TABLE orders, order_items") }
            let id = Int64(last.orderID)!
            let month = OrderID.partitionName(monthStart: OrderID.monthBounds(containing: Date()).start)
            let byID = try await explain(db, "SELECT * FROM orders WHERE id = ?", [.int64(id)])
            #expect(try byID[0].string("partitions") == month)
            let from = OrderID.monthBounds(containing: Date()).start
            let byRange = try await explain(
                db, "SELECT id FROM orders WHERE id >= ? AND id < ? AND created_at >= ?",
                [.int64(OrderID.firstID(at: from)), .int64(OrderID.firstID(at: from.addingTimeInterval(86_400 * 27))),
                 .datetime(from)])
            #expect(try byRange[0].string("partitions") == month)
            let byPref = try await explain(
                db, "SELECT id FROM orders WHERE delivery_preference = ?", [.string("morning-1")])
            #expect(try byPref[0].optionalString("key") == "ix_orders_delivery")
            let byColour = try await explain(
                db, "SELECT order_id FROM order_items WHERE attr_colour = ? AND attr_size = ?",
                [.string("blue"), .string("L")])
            #expect(try byColour[0].optionalString("key") == "ix_items_attributes")
            // The query the service runs uses them too.
            var search = OrdersV1.SearchOrdersRequest()
            search.deliveryPreference = "evening"
            search.pageSize = 100
            let found = try await s.searchOrders(search, context: context).orders
            #expect(found.count == 21)  // 20 of the loop + the first order (default metadata)
            // Maintenance is idempotent and keeps months ahead.
            #expect(try await PartitionMaintenance(database: db.database, logger: logger).run().isEmpty)
            let later = try await PartitionMaintenance(database: db.database, logger: logger)
                .run(now: Date().addingTimeInterval(86_400 * 70))
            #expect(!later.isEmpty)
        }
    }

    // MARK: History reads

    @Test func paginationIsStableWhileInserting() async throws {
        try await withService { s, db in
            var created: [String] = []
            for _ in 0..<7 { created.append(try await create(s, createRequest(customer: "pager")).orderID) }
            var seen: [String] = []
            var token = ""
            repeat {
                var r = OrdersV1.ListOrdersRequest()
                r.customerID = "pager"
                r.pageSize = 3
                r.pageToken = token
                let page = try await s.listOrders(r, context: context)
                seen += page.orders.map(\.orderID)
                token = page.nextPageToken
                _ = try await create(s, createRequest(customer: "pager"))  // inserted between pages
            } while !token.isEmpty
            #expect(seen == created.reversed())
        }
    }

    @Test func searchFindsByEachField() async throws {
        try await withService { s, db in
            let a = try await create(
                s, createRequest(name: "Zoltan Kovacs", email: "zoltan.k@bluefish.example",
                    lines: [("SKU-9", "Porcelain Elephant", 1, 100, #"{"colour":"white"}"#)]))
            _ = try await create(s, createRequest(name: "Maria Lopez", email: "maria@other.example"))
            func search(_ text: String, statuses: [OrdersV1.OrderStatus] = []) async throws -> [String] {
                var r = OrdersV1.SearchOrdersRequest()
                r.query = text
                r.statuses = statuses
                return try await s.searchOrders(r, context: context).orders.map(\.orderID)
            }
            #expect(try await search(a.orderID) == [a.orderID])
            #expect(try await search("elephant") == [a.orderID])
            #expect(try await search("Zoltan") == [a.orderID])
            #expect(try await search("zoltan.k@bluefish.example") == [a.orderID])
            #expect(try await search("bluefish") == [a.orderID])
            #expect(try await search("elephant", statuses: [.confirmed]).isEmpty)
            #expect(try await search("elephant", statuses: [.pendingPayment]) == [a.orderID])
            var r = OrdersV1.SearchOrdersRequest()
            r.itemColour = "white"
            #expect(try await s.searchOrders(r, context: context).orders.map(\.orderID) == [a.orderID])
            r = OrdersV1.SearchOrdersRequest()
            r.query = "elephant"
            r.createdToUs = 1_000_000  // 1970: nothing
            #expect(try await s.searchOrders(r, context: context).orders.isEmpty)
        }
    }

    @Test func readYourWritesWithALaggingReplica() async throws {
        try await withService(replicaLagging: true) { s, db in
            let o = try await create(s)
            // Without a token the (never catching up) replica answers: not found.
            await expectCode(.notFound) { _ = try await get(s, o.orderID) }
            var r = OrdersV1.GetOrderRequest()
            r.orderID = o.orderID
            r.consistencyToken = o.consistencyToken
            #expect(try await s.getOrder(r, context: context).order?.orderID == o.orderID)
            var l = OrdersV1.ListOrdersRequest()
            l.customerID = "cust-1"
            l.consistencyToken = o.consistencyToken
            #expect(try await s.listOrders(l, context: context).orders.count == 1)
            // Within the instance's own window no token is needed.
            let windowed = OrdersService(database: db.database, nodeID: 3, recentWriteWindow: .seconds(600), logger: logger)
            let o2 = try await create(windowed, createRequest(customer: "cust-2"))
            #expect(try await windowed.getOrder({ var g = OrdersV1.GetOrderRequest(); g.orderID = o2.orderID; return g }(), context: context).order != nil)
        }
    }

    // MARK: Bad input

    @Test func badInputIsRefusedAndChangesNothing() async throws {
        try await withService { s, db in
            var bad: [OrdersV1.CreateOrderRequest] = []
            bad.append(createRequest(metadata: "{\"gift\": tru"))
            bad.append(createRequest(lines: [("A", "Alpha", 1, -5, "{}")]))
            var r = createRequest()
            r.lines[0].unitPrice = money(100, "ABC")
            r.lines[1].unitPrice = money(100, "ABC")
            bad.append(r)
            bad.append(createRequest(name: String(repeating: "x", count: 5000)))
            let invalidUTF8 = String(decoding: [0x41, 0xC3, 0x28, 0x42], as: UTF8.self)
            bad.append(createRequest(name: invalidUTF8))
            bad.append(createRequest(lines: [("A", "Alpha", 1, 100, "{\"size\": ")]))
            bad.append(createRequest(lines: [("A", "Alpha", 0, 100, "{}")]))
            bad.append(createRequest(email: "not-an-email"))
            for b in bad {
                await expectCode(.invalidArgument) { _ = try await create(s, b) }
            }
            #expect(try await db.count("SELECT COUNT(*) FROM orders") == 0)
            #expect(try await db.count("SELECT COUNT(*) FROM order_checkouts") == 0)
            let o = try await create(s)
            await expectCode(.invalidArgument) { _ = try await confirm(s, o.orderID, paid: -1) }
            await expectCode(.invalidArgument) { _ = try await confirm(s, o.orderID, paid: 999_999) }
            await expectCode(.invalidArgument) { _ = try await confirm(s, "abc") }
            #expect(try await get(s, o.orderID).order?.version == 1)
        }
    }
}
