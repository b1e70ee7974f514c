import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// Orders, payments and shipments as real processes: a paid order shipped in parts, captured per
    /// shipment, and followed by orders to delivered.
    @Suite(.serialized) struct FulfilmentFlowTests {
        @Test func partialShipmentsCaptureTheirShareAndDriveTheOrderToDelivered() async throws {
            try await TestSuite.with(services: fulfilmentServices, settings: ["OMS_SHIPMENTS_OUTBOX_INTERVAL": "100ms"]) { suite in
                let paid = try await placePaidOrder(
                    suite,
                    lines: [
                        LineSpec(sku: "SKU-MUG", name: "Enamel Mug", quantity: 3, unitPrice: 1250),
                        LineSpec(sku: "SKU-TEE", name: "Cotton Tee", quantity: 2, unitPrice: 1999),
                    ])
                let orderID = paid.order.orderID
                let paymentID = paid.payment.paymentID
                let (mug, tee) = (paid.lineIDs[0], paid.lineIDs[1])
                #expect(paid.total == 7748)

                // First shipment: 2 mugs and 1 tee.
                let firstLines: [(String, Int64)] = [(mug, 2), (tee, 1)]
                let first = try await shipLines(suite, orderID: orderID, firstLines)
                let firstShare = share(paid.order, firstLines)
                #expect(firstShare == 2 * 1250 + 1999)

                let captured = await eventually {
                    let p = try await getPayment(suite, paymentID)
                    let o = try await getOrder(suite, orderID).order
                    return p.captured?.amountMinor == firstShare && o?.status == .partiallyShipped
                }
                #expect(captured, "first shipment not captured / recorded:\n\(logs(suite, fulfilmentServices))")
                var payment = try await getPayment(suite, paymentID)
                #expect(payment.status == .partiallyCaptured)
                #expect(payment.captured == money(firstShare))
                #expect(payment.authorized == money(7748))
                var order = try #require(try await getOrder(suite, orderID).order)
                #expect(order.status == .partiallyShipped)
                #expect(order.lines.map(\.shippedQuantity) == [2, 1])

                try await withDatabase(suite, "payments") { db in
                    let ops = try await db.query(
                        "SELECT amount, idempotency_key FROM payment_operations WHERE payment_id = ? AND kind = 'capture'",
                        [.int64(Int64(paymentID)!)])
                    #expect(ops.count == 1, "captures: \(ops.count)")
                    #expect(try ops.first?.int64("amount") == firstShare)
                    #expect(try ops.first?.string("idempotency_key") == "shipment:\(first.shipmentID)")
                }

                // One unit too many: one mug and one tee are left.
                let s = suite.clients.shipments
                let tooMany = ShipmentsV1.CreateShipmentRequest(
                    idempotencyKey: unique("over"), orderID: orderID, warehouse: "wh-1",
                    lines: [ShipmentsV1.ShipmentLine(lineID: mug, quantity: 2)])
                try await withDatabase(suite, "shipments") { db in
                    let before = try await db.query(
                        "SELECT line_id, allocated_quantity, shipped_quantity FROM order_line_allocations WHERE order_id = ? ORDER BY line_id",
                        [.int64(Int64(orderID)!)]).map { try "\($0.string("line_id"))=\($0.int64("allocated_quantity"))/\($0.int64("shipped_quantity"))" }
                    let shipmentsBefore = try await count(db, "SELECT COUNT(*) AS n FROM shipments")
                    await expectCode([3, 9], "one mug too many") { try await s.createShipment(tooMany) }
                    await expectCode([3, 9], "more than the line ever had") {
                        try await s.createShipment(
                            ShipmentsV1.CreateShipmentRequest(
                                idempotencyKey: unique("over"), orderID: orderID, warehouse: "wh-1",
                                lines: [ShipmentsV1.ShipmentLine(lineID: tee, quantity: 3)]))
                    }
                    let after = try await db.query(
                        "SELECT line_id, allocated_quantity, shipped_quantity FROM order_line_allocations WHERE order_id = ? ORDER BY line_id",
                        [.int64(Int64(orderID)!)]).map { try "\($0.string("line_id"))=\($0.int64("allocated_quantity"))/\($0.int64("shipped_quantity"))" }
                    #expect(before == after)
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM shipments") == shipmentsBefore)
                }

                // The rest: 1 mug and 1 tee.
                let restLines: [(String, Int64)] = [(mug, 1), (tee, 1)]
                let second = try await shipLines(suite, orderID: orderID, restLines)
                let restShare = share(paid.order, restLines)
                let shipped = await eventually {
                    let p = try await getPayment(suite, paymentID)
                    let o = try await getOrder(suite, orderID).order
                    return p.captured?.amountMinor == 7748 && o?.status == .shipped
                }
                #expect(shipped, "second shipment not captured / recorded:\n\(logs(suite, fulfilmentServices))")
                payment = try await getPayment(suite, paymentID)
                #expect(payment.status == .captured)
                #expect(firstShare + restShare == 7748)
                order = try #require(try await getOrder(suite, orderID).order)
                #expect(order.status == .shipped)
                #expect(order.lines.map(\.shippedQuantity) == [3, 2])

                // Nothing is left to ship.
                await expectCode([9], "ship after everything shipped") {
                    try await s.createShipment(
                        ShipmentsV1.CreateShipmentRequest(
                            idempotencyKey: unique("late"), orderID: orderID, warehouse: "wh-1",
                            lines: [ShipmentsV1.ShipmentLine(lineID: tee, quantity: 1)]))
                }

                // Deliver the first: not everything delivered yet, the order stays shipped.
                let d1 = try #require(try await s.markDelivered(ShipmentsV1.MarkDeliveredRequest(shipmentID: first.shipmentID)).shipment)
                #expect(d1.status == .delivered)
                let firstDeliveryRecorded = await eventually {
                    try await withDatabase(suite, "orders") { db in
                        try await db.queryOne("SELECT status FROM order_shipments WHERE shipment_id = ?", [.string(first.shipmentID)])?
                            .string("status") == "delivered"
                    }
                }
                #expect(firstDeliveryRecorded, "orders never heard of the first delivery:\n\(logs(suite, fulfilmentServices))")
                #expect(try await getOrder(suite, orderID).order?.status == .shipped)

                let d2 = try #require(try await s.markDelivered(ShipmentsV1.MarkDeliveredRequest(shipmentID: second.shipmentID)).shipment)
                #expect(d2.status == .delivered)
                let delivered = await eventually { try await getOrder(suite, orderID).order?.status == .delivered }
                #expect(delivered, "order never delivered:\n\(logs(suite, fulfilmentServices))")

                // The audit trails.
                // One event per transition: ship, ship, then one `deliver` per delivered shipment (the first
                // leaves the order shipped, the second makes it delivered).
                let events = try await getOrder(suite, orderID, events: true).events
                #expect(events.map(\.kind) == ["created", "confirm", "ship", "ship", "deliver", "deliver"], "\(events.map(\.kind))")
                #expect(events.map(\.toStatus) == [.pendingPayment, .confirmed, .partiallyShipped, .shipped, .shipped, .delivered])
                let got = try #require(try await s.getShipment(ShipmentsV1.GetShipmentRequest(shipmentID: first.shipmentID)).shipment)
                #expect(got.events.map(\.status) == [.pending, .labelCreated, .shipped, .delivered])
                let listed = try await s.listShipments(ShipmentsV1.ListShipmentsRequest(orderID: orderID)).shipments
                #expect(Set(listed.map(\.shipmentID)) == [first.shipmentID, second.shipmentID])

                // Exactly two captures, one per shipment, for exactly the shipped shares.
                try await withDatabase(suite, "payments") { db in
                    let ops = try await db.query(
                        "SELECT amount, idempotency_key FROM payment_operations WHERE payment_id = ? AND kind = 'capture' ORDER BY id",
                        [.int64(Int64(paymentID)!)])
                    #expect(try ops.map { try $0.int64("amount") } == [firstShare, restShare])
                    #expect(try ops.map { try $0.string("idempotency_key") }
                            == ["shipment:\(first.shipmentID)", "shipment:\(second.shipmentID)"])
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND event = 'captured'",
                                            [.int64(Int64(paymentID)!)]) == 2)
                }
                // Every outbox row delivered once and done.
                try await withDatabase(suite, "shipments") { db in
                    let open = try await count(db, "SELECT COUNT(*) AS n FROM outbox WHERE status <> 'done'")
                    #expect(open == 0)
                }
            }
        }

        @Test func badShipmentInputIsRefusedWithThreeAndChangesNothing() async throws {
            try await TestSuite.with(services: fulfilmentServices) { suite in
                let paid = try await placePaidOrder(
                    suite, lines: [LineSpec(sku: "SKU-PEN", name: "Fountain Pen", quantity: 2, unitPrice: 900)])
                let orderID = paid.order.orderID
                let line = paid.lineIDs[0]
                let s = suite.clients.shipments
                func request(
                    orderID: String = orderID, warehouse: String = "wh-1", lines: [ShipmentsV1.ShipmentLine]
                ) -> ShipmentsV1.CreateShipmentRequest {
                    ShipmentsV1.CreateShipmentRequest(
                        idempotencyKey: unique("bad"), orderID: orderID, warehouse: warehouse, lines: lines)
                }
                let cases: [(String, ShipmentsV1.CreateShipmentRequest)] = [
                    ("no lines", request(lines: [])),
                    ("zero quantity", request(lines: [.init(lineID: line, quantity: 0)])),
                    ("negative quantity", request(lines: [.init(lineID: line, quantity: -1)])),
                    ("repeated line", request(lines: [.init(lineID: line, quantity: 1), .init(lineID: line, quantity: 1)])),
                    ("unknown line", request(lines: [.init(lineID: "99", quantity: 1)])),
                    ("wrong sku", request(lines: [.init(lineID: line, sku: "SKU-OTHER", quantity: 1)])),
                    ("order id not a number", request(orderID: "abc", lines: [.init(lineID: line, quantity: 1)])),
                    ("no warehouse", request(warehouse: "", lines: [.init(lineID: line, quantity: 1)])),
                    ("warehouse with spaces", request(warehouse: "wh 1", lines: [.init(lineID: line, quantity: 1)])),
                ]
                try await withDatabase(suite, "shipments") { db in
                    func footprint() async throws -> [Int64] {
                        [
                            try await count(db, "SELECT COUNT(*) AS n FROM shipments"),
                            try await count(db, "SELECT COUNT(*) AS n FROM shipment_lines"),
                            try await count(db, "SELECT COUNT(*) AS n FROM shipment_tracking_events"),
                            try await count(db, "SELECT COALESCE(SUM(allocated_quantity), 0) AS n FROM order_line_allocations"),
                            try await count(db, "SELECT COUNT(*) AS n FROM outbox"),
                        ]
                    }
                    let before = try await footprint()
                    for (name, r) in cases {
                        await expectCode([3], "CreateShipment: \(name)") { try await s.createShipment(r) }
                    }
                    await expectCode([3], "MarkShipped: bad id") {
                        try await s.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: "x1"))
                    }
                    await expectCode([3], "MarkLabelCreated: sandbox with a tracking number") {
                        try await s.markLabelCreated(ShipmentsV1.MarkLabelCreatedRequest(shipmentID: "1", trackingNumber: "T1"))
                    }
                    await expectCode([5], "MarkShipped: unknown shipment") {
                        try await s.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: "123456789"))
                    }
                    let after = try await footprint()
                    #expect(before == after, "bad input changed shipments' tables: \(before) → \(after)")
                }
                // Illegal moves: 9, nothing changes.
                let created = try #require(
                    try await s.createShipment(request(lines: [.init(lineID: line, quantity: 1)])).shipment)
                await expectCode([9], "MarkShipped before the label") {
                    try await s.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: created.shipmentID))
                }
                await expectCode([9], "MarkDelivered of a pending shipment") {
                    try await s.markDelivered(ShipmentsV1.MarkDeliveredRequest(shipmentID: created.shipmentID))
                }
                let still = try #require(
                    try await s.getShipment(ShipmentsV1.GetShipmentRequest(shipmentID: created.shipmentID)).shipment)
                #expect(still.status == .pending)
                #expect(still.version == created.version)
                #expect(still.events.count == 1)
            }
        }

        @Test func concurrentShipmentsRacingForTheLastUnitsHaveOneWinner() async throws {
            try await TestSuite.with(services: fulfilmentServices) { suite in
                let paid = try await placePaidOrder(
                    suite, lines: [LineSpec(sku: "SKU-BOX", name: "Oak Box", quantity: 5, unitPrice: 700)])
                let orderID = paid.order.orderID
                let line = paid.lineIDs[0]
                _ = try await suite.clients.shipments.createShipment(
                    ShipmentsV1.CreateShipmentRequest(
                        idempotencyKey: unique("first"), orderID: orderID, warehouse: "wh-1",
                        lines: [ShipmentsV1.ShipmentLine(lineID: line, quantity: 3)]))

                // Six racers each want the last 2 units.
                let shipments = suite.clients.shipments
                let codes = await withTaskGroup(of: RPCStatusCode?.self) { group in
                    for i in 0..<6 {
                        group.addTask {
                            await statusCode {
                                try await shipments.createShipment(
                                    ShipmentsV1.CreateShipmentRequest(
                                        idempotencyKey: "racer-\(i)-\(orderID)", orderID: orderID, warehouse: "wh-\(i)",
                                        lines: [ShipmentsV1.ShipmentLine(lineID: line, quantity: 2)]))
                            }
                        }
                    }
                    var all: [RPCStatusCode?] = []
                    for await c in group { all.append(c) }
                    return all
                }
                #expect(codes.filter { $0 == .ok }.count == 1, "winners: \(codes)")
                #expect(codes.filter { $0 == .failedPrecondition }.count == 5, "losers must get 9: \(codes)")

                let listed = try await shipments.listShipments(ShipmentsV1.ListShipmentsRequest(orderID: orderID)).shipments
                #expect(listed.count == 2)
                #expect(listed.flatMap(\.lines).reduce(0) { $0 + $1.quantity } == 5)
                try await withDatabase(suite, "shipments") { db in
                    let a = try #require(
                        try await db.queryOne(
                            "SELECT allocated_quantity, ordered_quantity FROM order_line_allocations WHERE order_id = ?",
                            [.int64(Int64(orderID)!)]))
                    #expect(try a.int64("allocated_quantity") == 5)
                    #expect(try a.int64("ordered_quantity") == 5)
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM shipment_lines") == 2)
                }
            }
        }
    }
}
