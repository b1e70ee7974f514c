import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPC
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// `oms-orders` as a client sees it: one real process on a fresh `oms_orders` schema.
    @Suite(.serialized) struct OrdersProcessTests {
        /// A snapshot of everything a failed call could have touched.
        struct Footprint: Equatable, CustomStringConvertible {
            var orders: Int64, items: Int64, events: Int64, checkouts: Int64, search: Int64, shipments: Int64
            var returns: Int64, outbox: Int64
            var description: String {
                "orders=\(orders) items=\(items) events=\(events) checkouts=\(checkouts) search=\(search) "
                    + "shipments=\(shipments) returns=\(returns) outbox=\(outbox)"
            }

            static func take(_ db: MySQLConnectionPool) async throws -> Footprint {
                Footprint(
                    orders: try await count(db, "SELECT COUNT(*) AS n FROM orders"),
                    items: try await count(db, "SELECT COUNT(*) AS n FROM order_items"),
                    events: try await count(db, "SELECT COUNT(*) AS n FROM order_events"),
                    checkouts: try await count(db, "SELECT COUNT(*) AS n FROM order_checkouts"),
                    search: try await count(db, "SELECT COUNT(*) AS n FROM order_search"),
                    shipments: try await count(db, "SELECT COUNT(*) AS n FROM order_shipments"),
                    returns: try await count(db, "SELECT COUNT(*) AS n FROM order_returns"),
                    outbox: try await count(db, "SELECT COUNT(*) AS n FROM order_outbox"))
            }
        }

        @Test func createConfirmGetThroughTheProcess() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let request = orderRequest(
                    lines: [
                        LineSpec(sku: "SKU-MUG", name: "Enamel Mug", quantity: 3, unitPrice: 1250,
                                 attributes: #"{"colour": "teal"}"#),
                        LineSpec(sku: "SKU-TEE", name: "Cotton Tee", quantity: 2, unitPrice: 1999,
                                 attributes: #"{"size": "M", "colour": "black"}"#),
                    ])
                let created = try #require(try await orders.createOrder(request).order)
                #expect(created.status == .pendingPayment)
                #expect(created.version == 1)
                #expect(created.checkoutID == request.checkoutID)
                #expect(created.total == money(3 * 1250 + 2 * 1999))
                #expect(created.lines.map(\.sku) == ["SKU-MUG", "SKU-TEE"])
                #expect(created.lines.map(\.quantity) == [3, 2])
                #expect(Set(created.lines.map(\.lineID)).count == 2)
                #expect(created.customer?.email == "ada@example.org")
                #expect(created.shippingAddress?.country == "GB")

                // CreateOrder is idempotent on the checkout id: the same order again, nothing new.
                let again = try #require(try await orders.createOrder(request).order)
                #expect(again.orderID == created.orderID)
                #expect(again.version == 1)
                // Same checkout id, different request → refused.
                var different = request
                different.lines[0].quantity = 4
                await expectCode([6, 9], "same checkout id, different order") { try await orders.createOrder(different) }

                let confirmed = try #require(
                    try await orders.confirmOrder(
                        OrdersV1.ConfirmOrderRequest(orderID: created.orderID, paymentID: "pay-123")
                    ).order)
                #expect(confirmed.status == .confirmed)
                #expect(confirmed.version == 2)
                #expect(confirmed.paymentID == "pay-123")
                #expect(confirmed.paid == money(3 * 1250 + 2 * 1999), "paid defaults to the total")

                // Repeating the confirmation changes nothing.
                let repeated = try #require(
                    try await orders.confirmOrder(
                        OrdersV1.ConfirmOrderRequest(orderID: created.orderID, paymentID: "pay-123")
                    ).order)
                #expect(repeated.version == 2)

                let got = try await getOrder(suite, created.orderID, events: true)
                #expect(got.order?.status == .confirmed)
                #expect(got.order?.version == 2)
                #expect(got.events.map(\.toStatus) == [.pendingPayment, .confirmed])
                #expect(got.events.map(\.fromStatus) == [.unspecified, .pendingPayment])
                let byCheckout = try await orders.getOrder(OrdersV1.GetOrderRequest(checkoutID: request.checkoutID))
                #expect(byCheckout.order?.orderID == created.orderID)

                await expectCode([5], "unknown order") { try await getOrder(suite, "1234567") }

                try await withDatabase(suite, "orders") { db in
                    let row = try #require(
                        try await db.queryOne(
                            "SELECT status, version, payment_reference FROM orders WHERE id = ?",
                            [.int64(Int64(created.orderID)!)]))
                    #expect(try row.string("status") == "confirmed")
                    #expect(try row.int64("version") == 2)
                    #expect(try row.string("payment_reference") == "pay-123")
                    #expect(
                        try await count(db, "SELECT COUNT(*) AS n FROM order_events WHERE order_id = ?",
                                        [.int64(Int64(created.orderID)!)]) == 2)
                }
            }
        }

        @Test func listByCustomerIsNewestFirstAndPaged() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let customer = unique("cust")
                var ids: [String] = []
                for i in 0..<5 {
                    let o = try #require(
                        try await orders.createOrder(
                            orderRequest(customerID: customer, lines: [
                                LineSpec(sku: "SKU-\(i)", name: "Item \(i)", quantity: 1, unitPrice: 100 + Int64(i)),
                            ])
                        ).order)
                    ids.append(o.orderID)
                }
                // Someone else's order is never listed.
                _ = try await orders.createOrder(orderRequest(customerID: unique("other")))

                var seen: [String] = []
                var token = ""
                var pages = 0
                repeat {
                    let page = try await orders.listOrders(
                        OrdersV1.ListOrdersRequest(customerID: customer, pageSize: 2, pageToken: token))
                    #expect(page.orders.count <= 2)
                    #expect(page.orders.allSatisfy { $0.customer?.customerID == customer })
                    seen += page.orders.map(\.orderID)
                    token = page.nextPageToken
                    pages += 1
                } while !token.isEmpty && pages < 10
                #expect(seen == Array(ids.reversed()), "newest first, every order once")
                #expect(pages == 3)
                let created = seen.compactMap(Int64.init)
                #expect(created == created.sorted(by: >))

                await expectCode([3], "bad page token") {
                    try await orders.listOrders(OrdersV1.ListOrdersRequest(customerID: customer, pageToken: "garbage"))
                }
            }
        }

        @Test func searchFindsAnOrderByEachField() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let target = try #require(
                    try await orders.createOrder(
                        orderRequest(
                            name: "Amelia Quarterhouse", email: "zq.kestrel77@mailbox.test",
                            lines: [LineSpec(sku: "SKU-TEA", name: "Obsidian Teapot", quantity: 1, unitPrice: 4500)],
                            metadata: #"{"gift": true, "delivery_preference": "evening"}"#)
                    ).order)
                let other = try #require(
                    try await orders.createOrder(
                        orderRequest(
                            name: "Bertrand Mollusc", email: "b.mollusc@example.org",
                            lines: [LineSpec(sku: "SKU-LAMP", name: "Brass Lamp", quantity: 2, unitPrice: 3000)])
                    ).order)
                _ = try await orders.confirmOrder(OrdersV1.ConfirmOrderRequest(orderID: other.orderID, paymentID: "p-1"))

                func search(_ r: OrdersV1.SearchOrdersRequest) async throws -> [String] {
                    try await orders.searchOrders(r).orders.map(\.orderID)
                }
                let byField: [(String, String)] = [
                    ("order id", target.orderID),
                    ("product name", "Obsidian Teapot"),
                    ("product name prefix", "obsid"),
                    ("customer name", "Quarterhouse"),
                    ("customer full name", "Amelia Quarterhouse"),
                    ("e-mail", "zq.kestrel77@mailbox.test"),
                ]
                for (field, query) in byField {
                    let found = try await search(OrdersV1.SearchOrdersRequest(query: query))
                    #expect(found == [target.orderID], "search by \(field) '\(query)' found \(found)")
                }
                #expect(try await search(OrdersV1.SearchOrdersRequest(query: "Brass Lamp")) == [other.orderID])
                #expect(try await search(OrdersV1.SearchOrdersRequest(query: "nonexistentword")) == [])

                // Filters: status, gift, delivery preference, creation range.
                #expect(
                    try await search(OrdersV1.SearchOrdersRequest(statuses: [.confirmed])) == [other.orderID])
                #expect(
                    try await search(OrdersV1.SearchOrdersRequest(query: "Teapot", statuses: [.confirmed])) == [])
                #expect(try await search(OrdersV1.SearchOrdersRequest(giftOnly: true)) == [target.orderID])
                #expect(
                    try await search(OrdersV1.SearchOrdersRequest(deliveryPreference: "evening")) == [target.orderID])
                let after = other.createdAtUs + 1
                #expect(try await search(OrdersV1.SearchOrdersRequest(createdFromUs: after)) == [])
                #expect(
                    Set(try await search(OrdersV1.SearchOrdersRequest(createdToUs: after)))
                        == [target.orderID, other.orderID])
            }
        }

        @Test func illegalTransitionsAreRefusedWithNineAndChangeNothing() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let pending = try #require(try await orders.createOrder(orderRequest()).order)
                let cancelled = try #require(try await orders.createOrder(orderRequest()).order)
                _ = try await orders.cancelOrder(OrdersV1.CancelOrderRequest(orderID: cancelled.orderID, reason: "changed mind"))
                let confirmed = try #require(try await orders.createOrder(orderRequest()).order)
                _ = try await orders.confirmOrder(OrdersV1.ConfirmOrderRequest(orderID: confirmed.orderID, paymentID: "p-9"))

                try await withDatabase(suite, "orders") { db in
                    let before = try await Footprint.take(db)
                    let snapshots = try await [pending, cancelled, confirmed].asyncMap {
                        try await getOrder(suite, $0.orderID, events: true)
                    }

                    await expectCode([9], "confirm after cancel") {
                        try await orders.confirmOrder(
                            OrdersV1.ConfirmOrderRequest(orderID: cancelled.orderID, paymentID: "p-late"))
                    }
                    await expectCode([9], "ship a pending order") {
                        try await orders.recordShipment(
                            OrdersV1.RecordShipmentRequest(
                                orderID: pending.orderID, shipmentID: "s-1", kind: .shipped,
                                lines: [OrdersV1.ShippedLine(lineID: pending.lines[0].lineID, quantity: 1)]))
                    }
                    await expectCode([9], "ship a cancelled order") {
                        try await orders.recordShipment(
                            OrdersV1.RecordShipmentRequest(
                                orderID: cancelled.orderID, shipmentID: "s-2", kind: .shipped,
                                lines: [OrdersV1.ShippedLine(lineID: cancelled.lines[0].lineID, quantity: 1)]))
                    }
                    await expectCode([9], "deliver a pending order") {
                        try await orders.recordShipment(
                            OrdersV1.RecordShipmentRequest(
                                orderID: pending.orderID, shipmentID: "s-3", kind: .delivered,
                                lines: [OrdersV1.ShippedLine(lineID: pending.lines[0].lineID, quantity: 1)]))
                    }
                    await expectCode([9], "ship more units than ordered") {
                        try await orders.recordShipment(
                            OrdersV1.RecordShipmentRequest(
                                orderID: confirmed.orderID, shipmentID: "s-4", kind: .shipped,
                                lines: [OrdersV1.ShippedLine(lineID: confirmed.lines[0].lineID, quantity: 4)]))
                    }
                    await expectCode([9], "return from an order that never shipped") {
                        try await orders.requestReturn(
                            OrdersV1.RequestReturnRequest(
                                orderID: confirmed.orderID, returnID: "r-1",
                                lines: [OrdersV1.ReturnLine(lineID: confirmed.lines[0].lineID, quantity: 1)]))
                    }
                    await expectCode([9], "return from a pending order") {
                        try await orders.requestReturn(
                            OrdersV1.RequestReturnRequest(
                                orderID: pending.orderID, returnID: "r-2",
                                lines: [OrdersV1.ReturnLine(lineID: pending.lines[0].lineID, quantity: 1)]))
                    }

                    let after = try await Footprint.take(db)
                    #expect(before == after, "tables changed: \(before) → \(after)")
                    for old in snapshots {
                        let now = try await getOrder(suite, try #require(old.order).orderID, events: true)
                        #expect(now.order == old.order, "order changed")
                        #expect(now.events == old.events, "audit trail changed")
                    }
                }
            }
        }

        @Test func concurrentConfirmAndCancelHaveExactlyOneWinner() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                var ids: [String] = []
                for _ in 0..<20 { ids.append(try #require(try await orders.createOrder(orderRequest()).order).orderID) }

                var raced = 0
                for id in ids {
                    async let confirm = statusCode {
                        try await orders.confirmOrder(OrdersV1.ConfirmOrderRequest(orderID: id, paymentID: "p-\(id)"))
                    }
                    async let cancel = statusCode {
                        try await orders.cancelOrder(OrdersV1.CancelOrderRequest(orderID: id, reason: "race"))
                    }
                    let (c, x) = await (confirm, cancel)
                    let got = try await getOrder(suite, id, events: true)
                    let order = try #require(got.order)
                    let fromPending = got.events.filter { $0.fromStatus == .pendingPayment }
                    // Exactly one transition left pending_payment, and the trail has one row per version.
                    #expect(fromPending.count == 1, "order \(id): \(fromPending.count) transitions out of pending")
                    #expect(Int64(got.events.count) == order.version, "order \(id): events \(got.events.count) vs version \(order.version)")
                    for code in [c, x] {
                        #expect(code == .ok || code == .failedPrecondition || code == .aborted, "order \(id): \(String(describing: code))")
                    }
                    switch (c, x) {
                    case (.ok?, .ok?):
                        // Both succeeded: they ran one after the other (confirm, then cancel of the confirmed
                        // order); the trail must say exactly that.
                        #expect(order.status == .cancelled)
                        #expect(got.events.map(\.toStatus) == [.pendingPayment, .confirmed, .cancelled])
                    case (.ok?, _):
                        raced += 1
                        #expect(order.status == .confirmed)
                        #expect(order.version == 2)
                    case (_, .ok?):
                        raced += 1
                        #expect(order.status == .cancelled)
                        #expect(order.version == 2)
                        #expect(got.events.map(\.toStatus) == [.pendingPayment, .cancelled])
                    default:
                        Issue.record("order \(id): neither confirm (\(String(describing: c))) nor cancel (\(String(describing: x))) won")
                    }
                }
                print("concurrent confirm/cancel: \(raced) of \(ids.count) pairs really raced (one refused)")
            }
        }

        @Test func badInputIsRefusedWithThreeAndChangesNothing() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let existing = try #require(try await orders.createOrder(orderRequest()).order)

                var cases: [(String, OrdersV1.CreateOrderRequest)] = []
                var r = orderRequest(metadata: #"{"gift": tru"#)
                cases.append(("invalid JSON metadata", r))
                r = orderRequest(metadata: #"["not", "an", "object"]"#)
                cases.append(("metadata not an object", r))
                r = orderRequest(lines: [LineSpec(sku: "SKU-1", name: "Thing", quantity: 1, unitPrice: -5)])
                cases.append(("negative unit price", r))
                r = orderRequest(lines: [LineSpec(sku: "SKU-1", name: "Thing", quantity: -1, unitPrice: 5)])
                cases.append(("negative quantity", r))
                r = orderRequest(lines: [LineSpec(sku: "SKU-1", name: "Thing", quantity: 0, unitPrice: 5)])
                cases.append(("zero quantity", r))
                r = orderRequest(currency: "XYZ")
                cases.append(("unknown currency", r))
                r = orderRequest(currency: "usd")
                cases.append(("lower-case currency", r))
                r = orderRequest(name: String(repeating: "n", count: 201))
                cases.append(("over-long customer name", r))
                r = orderRequest(lines: [LineSpec(sku: "SKU-1", name: String(repeating: "p", count: 201), quantity: 1, unitPrice: 5)])
                cases.append(("over-long product name", r))
                r = orderRequest(email: "not-an-email")
                cases.append(("bad e-mail", r))
                r = orderRequest(lines: [LineSpec(sku: "SKU-1", name: "Thing", quantity: 1, unitPrice: 5, attributes: "{size: M}")])
                cases.append(("invalid JSON attributes", r))
                r = orderRequest(name: "Ada \u{0007} Lovelace")
                cases.append(("control character", r))
                r = orderRequest(name: "Ada \u{FFFD} Lovelace")
                cases.append(("replacement character (lossy UTF-8)", r))
                r = orderRequest(lines: [])
                cases.append(("no lines", r))
                r = orderRequest()
                r.customer = nil
                cases.append(("no customer", r))
                r = orderRequest()
                r.lines.append(OrdersV1.CreateOrderRequest.Line(sku: "SKU-EUR", productName: "Euro thing", quantity: 1, unitPrice: money(5, "EUR")))
                cases.append(("mixed currencies", r))
                r = orderRequest(checkoutID: "")
                cases.append(("no checkout id", r))

                try await withDatabase(suite, "orders") { db in
                    var before = try await Footprint.take(db)
                    for (name, request) in cases {
                        await expectCode([3], name) { try await orders.createOrder(request) }
                        if !request.checkoutID.isEmpty {
                            await expectCode([5], "\(name): an order exists for the checkout") {
                                try await orders.getOrder(OrdersV1.GetOrderRequest(checkoutID: request.checkoutID))
                            }
                        }
                    }

                    // Invalid UTF-8 on the wire: a valid request whose customer name bytes are not UTF-8.
                    let raw = try #require(suite.clients.transports["orders"])
                    var valid = orderRequest()
                    valid.customer = nil
                    // Customer without a name, then field 2 (name) by hand: "A", 0xFF, 0xFE.
                    var customer = CommonV1.Customer(customerID: "c-raw", name: "", email: "x@example.org").serializedBytes()
                    customer += [0x12, 0x03, 0x41, 0xFF, 0xFE]
                    var bytes = valid.serializedBytes()
                    bytes += [0x12] + varint(customer.count) + customer  // field 2 (customer)
                    // Control: the same bytes with a valid name are accepted, so 3 below is about the UTF-8.
                    var control = CommonV1.Customer(customerID: "c-raw2", name: "", email: "x@example.org").serializedBytes()
                    control += [0x12, 0x03, 0x41, 0x42, 0x43]
                    var controlValid = orderRequest()
                    controlValid.customer = nil
                    let controlBytes = controlValid.serializedBytes() + [0x12] + varint(control.count) + control
                    let answer = try await raw.unary(
                        method: OrdersV1.Orders.Method.createOrder, request: controlBytes, options: CallOptions())
                    let controlOrder = try #require(try OrdersV1.CreateOrderResponse(serializedBytes: answer).order)
                    #expect(controlOrder.customer?.name == "ABC")
                    before.orders += 1
                    before.items += Int64(controlOrder.lines.count)
                    before.events += 1
                    before.checkouts += 1
                    before.search += 1
                    let code = await statusCode {
                        try await raw.unary(method: OrdersV1.Orders.Method.createOrder, request: bytes, options: CallOptions())
                    }
                    #expect(code == .invalidArgument, "invalid UTF-8 answered \(String(describing: code))")

                    let id = existing.orderID
                    await expectCode([3], "CancelOrder: over-long reason") {
                        try await orders.cancelOrder(
                            OrdersV1.CancelOrderRequest(orderID: id, reason: String(repeating: "r", count: 501)))
                    }
                    await expectCode([3], "ListOrders: no customer") {
                        try await orders.listOrders(OrdersV1.ListOrdersRequest(customerID: ""))
                    }
                    await expectCode([3], "GetOrder: both ids") {
                        try await orders.getOrder(OrdersV1.GetOrderRequest(orderID: id, checkoutID: "x"))
                    }
                    await expectCode([3], "ConfirmOrder: order id not a number") {
                        try await orders.confirmOrder(OrdersV1.ConfirmOrderRequest(orderID: "abc", paymentID: "p-1"))
                    }
                    let after = try await Footprint.take(db)
                    #expect(before == after, "bad input changed the tables: \(before) → \(after)")
                    #expect(after.orders == 2)
                }
            }
        }

        /// Each bad ConfirmOrder on its own fresh pending order, so one failure cannot mask another.
        @Test func badConfirmationIsRefusedWithThreeAndChangesNothing() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                let orders = suite.clients.orders
                let cases: [(String, (String) -> OrdersV1.ConfirmOrderRequest)] = [
                    ("no payment id", { .init(orderID: $0, paymentID: "") }),
                    ("payment id with spaces", { .init(orderID: $0, paymentID: "pay 1") }),
                    ("paid above the total", { .init(orderID: $0, paymentID: "p-1", paid: money(10_000_000)) }),
                    ("negative paid", { .init(orderID: $0, paymentID: "p-1", paid: money(-1)) }),
                    ("paid in an unknown currency", { .init(orderID: $0, paymentID: "p-1", paid: money(100, "XYZ")) }),
                    // The order is in USD.
                    ("paid in another currency", { .init(orderID: $0, paymentID: "p-1", paid: money(100, "EUR")) }),
                ]
                for (name, make) in cases {
                    let order = try #require(try await orders.createOrder(orderRequest()).order)
                    await expectCode([3], "ConfirmOrder: \(name)") { try await orders.confirmOrder(make(order.orderID)) }
                    let now = try await getOrder(suite, order.orderID, events: true)
                    #expect(
                        now.order == order,
                        "ConfirmOrder with \(name) answered 3 but changed the order: \(String(describing: now.order?.status)) v\(String(describing: now.order?.version)), paid \(String(describing: now.order?.paid?.amountMinor)), payment '\(now.order?.paymentID ?? "")'")
                    #expect(now.events.map(\.kind) == ["created"], "\(name): audit trail \(now.events.map(\.kind))")
                }
            }
        }
    }
}

/// Protobuf base-128 varint.
func varint(_ value: Int) -> [UInt8] {
    var v = UInt64(value)
    var out: [UInt8] = []
    repeat {
        var b = UInt8(v & 0x7F)
        v >>= 7
        if v != 0 { b |= 0x80 }
        out.append(b)
    } while v != 0
    return out
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
