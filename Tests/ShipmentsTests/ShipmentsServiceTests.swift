import Foundation
import OMSAPI
import OMSMySQL
import OMSProto
import OMSRPCCore
import Testing

@testable import Shipments

@Suite("Shipments service against MariaDB", .serialized)
struct ShipmentsServiceTests {
    @Test("partial shipments add up to the order; captures equal the shipped share; orders follow")
    func partialShipmentsAddUp() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 3, 1_000), ("B", 2, 250)])
            let orderTotal: Int64 = 3 * 1_000 + 2 * 250

            let s1 = try await h.shipNew(order, [("A", 2)])
            #expect(s1.status == .shipped)
            #expect(try await h.drainOutbox() == 2)
            #expect(await h.payments.captures["shipment:\(s1.shipmentID)"]?.amountMinor == 2_000)
            #expect(await h.payments.captures["shipment:\(s1.shipmentID)"]?.paymentID == order.paymentID)
            #expect(await h.payments.captures["shipment:\(s1.shipmentID)"]?.currency == "USD")
            #expect(await h.orders.orders[order.orderID]?.status == .partiallyShipped)
            #expect(await h.orders.records["\(s1.shipmentID):shipped"]?.orderFullyShipped == false)

            let s2 = try await h.shipNew(order, [("A", 1), ("B", 2)])
            #expect(try await h.drainOutbox() == 2)
            #expect(await h.payments.captures["shipment:\(s2.shipmentID)"]?.amountMinor == 1_000 + 2 * 250)
            #expect(await h.payments.totalCapturedMinor == orderTotal)
            #expect(await h.payments.captures.count == 2)
            #expect(await h.orders.orders[order.orderID]?.status == .shipped)

            // Nothing is left to ship.
            #expect(await code { _ = try await h.create(order, [("B", 1)]) } == .failedPrecondition)

            _ = try await h.deliver(s1.shipmentID)
            try await h.drainOutbox()
            #expect(await h.orders.records["\(s1.shipmentID):delivered"]?.allDelivered == false)
            #expect(await h.orders.orders[order.orderID]?.status == .shipped)
            _ = try await h.deliver(s2.shipmentID)
            try await h.drainOutbox()
            #expect(await h.orders.records["\(s2.shipmentID):delivered"]?.allDelivered == true)
            #expect(await h.orders.orders[order.orderID]?.status == .delivered)

            var list = ShipmentsV1.ListShipmentsRequest()
            list.orderID = order.orderID
            let all = try await h.service.listShipments(list, context: h.context()).shipments
            #expect(all.map(\.shipmentID) == [s1.shipmentID, s2.shipmentID])
            let shipped = all.flatMap(\.lines).reduce(into: [String: Int64]()) { $0[$1.lineID, default: 0] += $1.quantity }
            #expect(shipped == ["A": 3, "B": 2])
            #expect(try await h.count("SELECT COUNT(*) FROM outbox WHERE status <> 'done'") == 0)
        }
    }

    @Test("one unit too many is refused and changes nothing; cancelling releases units")
    func oneUnitTooMany() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 3, 500)])
            #expect(await code { _ = try await h.create(order, [("A", 4)]) } == .failedPrecondition)
            let s1 = try await h.create(order, [("A", 3)])
            let before = try await h.snapshot()
            #expect(await code { _ = try await h.create(order, [("A", 1)]) } == .failedPrecondition)
            #expect(try await h.snapshot() == before)
            #expect(try await h.allocated(order, "A") == 3)

            _ = try await h.cancel(s1.shipmentID, reason: "customer changed address")
            #expect(try await h.allocated(order, "A") == 0)
            let s2 = try await h.create(order, [("A", 3)])
            #expect(s2.status == .pending)
            #expect(try await h.allocated(order, "A") == 3)
        }
    }

    @Test("concurrent shipments racing for the last units: exactly the available units are allocated")
    func raceForLastUnits() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 5, 100), ("B", 5, 100)])
            _ = try await h.create(order, [("A", 3), ("B", 3)])
            // Two shipments want the last two units of A (and B): one wins.
            let outcomes = try await withThrowingTaskGroup(of: RPCStatusCode?.self) { group in
                for _ in 0..<2 {
                    group.addTask { await code { _ = try await h.create(order, [("B", 2), ("A", 2)]) } }
                }
                var all: [RPCStatusCode?] = []
                for try await o in group { all.append(o) }
                return all
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .failedPrecondition }.count == 1)
            #expect(try await h.allocated(order, "A") == 5)
            #expect(try await h.allocated(order, "B") == 5)

            // Many single-unit shipments for a line with 4 units: exactly 4 win.
            let other = await h.order([("X", 4, 100)])
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask { await code { _ = try await h.create(other, [("X", 1)]) } == nil }
                }
                var n = 0
                for try await won in group where won { n += 1 }
                return n
            }
            #expect(wins == 4)
            #expect(try await h.allocated(other, "X") == 4)
            #expect(try await h.count("SELECT COUNT(*) FROM shipments WHERE order_id = ?", [.int64(Int64(other.orderID)!)]) == 4)
        }
    }

    @Test("relay killed after the capture was applied but before the row was marked done: still one capture")
    func relayKilledMidDelivery() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 2, 1_999)])
            let s = try await h.shipNew(order, [("A", 2)])
            let key = "shipment:\(s.shipmentID)"
            await h.payments.setCrashAfterApply(true)

            let relay = h.relay(owner: "doomed")
            let killed = Task { try await relay.runOnce() }
            let result = await killed.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(await h.payments.captures.count == 1, "the effect happened")
            #expect(
                try await h.count("SELECT COUNT(*) FROM outbox WHERE kind = 'capture' AND status = 'pending'") == 1,
                "but the row was not marked done")

            // A relay that starts while the dead one's lease is live does not touch the row.
            #expect(try await h.relay(owner: "early").runOnce().delivered == 0)
            // After the lease expires another relay delivers it again; payments deduplicates by key.
            h.clock.advance(seconds: 31)
            try await h.drainOutbox()
            #expect(await h.payments.calls[key] == 2)
            #expect(await h.payments.captures.count == 1)
            #expect(await h.payments.captures[key]?.amountMinor == 3_998)
            #expect(try await h.count("SELECT COUNT(*) FROM outbox WHERE status = 'done'") == 2)
            #expect(try await h.count("SELECT COUNT(*) FROM outbox WHERE result = ?", [.string("cap-\(key)")]) == 1)
            // Running again delivers nothing more.
            h.clock.advance(seconds: 3600)
            #expect(try await h.relay().runOnce().delivered == 0)
            #expect(await h.payments.calls[key] == 2)
        }
    }

    @Test("failed deliveries are retried with backoff, then parked after max attempts")
    func relayRetries() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 1, 700)])
            let s = try await h.shipNew(order, [("A", 1)])
            await h.payments.setFailCaptures(2)
            await h.orders.setFailRecords(1)
            let first = try await h.relay().runOnce()
            #expect(first.failed == 2)
            // Not due yet: nothing happens without moving the clock.
            #expect(try await h.relay().runOnce() == OutboxRelay.Report())
            try await h.drainOutbox()
            #expect(await h.payments.captures["shipment:\(s.shipmentID)"]?.amountMinor == 700)
            #expect(await h.payments.calls["shipment:\(s.shipmentID)"] == 3)
            #expect(await h.orders.recordCalls["\(s.shipmentID):shipped"] == 2)

            // Parking: a receiver that keeps failing.
            let o2 = await h.order([("A", 1, 100)])
            let s2 = try await h.shipNew(o2, [("A", 1)])
            await h.payments.setFailCaptures(100)
            for _ in 0..<3 {
                _ = try await h.relay(maxAttempts: 3).runOnce()
                h.clock.advance(seconds: 120)
            }
            #expect(
                try await h.count(
                    "SELECT COUNT(*) FROM outbox WHERE shipment_id = ? AND kind = 'capture' AND status = 'failed' AND attempts = 3",
                    [.int64(Int64(s2.shipmentID)!)]) == 1)
            #expect(await h.payments.captures["shipment:\(s2.shipmentID)"] == nil)
        }
    }

    @Test("orders hears shipped before delivered even when the shipped record fails first")
    func orderRecordsStayInOrder() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 1, 100)])
            let s = try await h.shipNew(order, [("A", 1)])
            _ = try await h.deliver(s.shipmentID)
            await h.orders.setFailRecords(1)
            let r = try await h.relay().runOnce()
            #expect(r.failed == 1)
            #expect(r.deferred == 1)
            #expect(await h.orders.records["\(s.shipmentID):delivered"] == nil)
            try await h.drainOutbox()
            #expect(await h.orders.orders[order.orderID]?.status == .delivered)
        }
    }

    @Test("bad input answers 3 and changes nothing")
    func badInput() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 2, 100)])
            let existing = try await h.create(order, [("A", 1)])
            let before = try await h.snapshot()
            var bad: [ShipmentsV1.CreateShipmentRequest] = []
            func variant(_ change: (inout ShipmentsV1.CreateShipmentRequest) -> Void) {
                var r = h.createRequest(order, [("A", 1)])
                change(&r)
                bad.append(r)
            }
            variant { $0.orderID = "" }
            variant { $0.orderID = "12ab" }
            variant { $0.orderID = "-5" }
            variant { $0.orderID = "99999999999999999999" }
            variant { $0.warehouse = "" }
            variant { $0.warehouse = String(repeating: "w", count: 65) }
            variant { $0.warehouse = "wh 1" }
            variant { $0.lines = [] }
            variant { $0.lines[0].quantity = 0 }
            variant { $0.lines[0].quantity = -1 }
            variant { $0.lines[0].lineID = "" }
            variant { $0.lines.append($0.lines[0]) }
            variant { $0.lines[0].lineID = "NOPE" }
            variant { $0.lines[0].sku = "OTHER-SKU" }
            variant { $0.idempotencyKey = "has space" }
            for (i, r) in bad.enumerated() {
                let c = await code { _ = try await h.call(ShipmentsV1.Shipments.Method.createShipment, r, context: h.context()) }
                #expect(c == .invalidArgument, "variant \(i)")
            }
            var label = ShipmentsV1.MarkLabelCreatedRequest()
            label.shipmentID = existing.shipmentID
            label.trackingNumber = "MINE123"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.markLabelCreated, label, context: h.context()) } == .invalidArgument)
            label.carrier = "ups"
            label.trackingNumber = ""
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.markLabelCreated, label, context: h.context()) } == .invalidArgument)
            var ship = ShipmentsV1.MarkShippedRequest()
            ship.shipmentID = "x"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.markShipped, ship, context: h.context()) } == .invalidArgument)
            var deliver = ShipmentsV1.MarkDeliveredRequest()
            deliver.shipmentID = ""
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.markDelivered, deliver, context: h.context()) } == .invalidArgument)
            var cancel = ShipmentsV1.CancelShipmentRequest()
            cancel.shipmentID = existing.shipmentID
            cancel.reason = String(repeating: "r", count: 501)
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.cancelShipment, cancel, context: h.context()) } == .invalidArgument)
            // (A NUL cannot cross the wire: protobuf-c strings end at it. A bell can.)
            cancel.reason = "bad\u{7}reason"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.cancelShipment, cancel, context: h.context()) } == .invalidArgument)
            var get = ShipmentsV1.GetShipmentRequest()
            get.shipmentID = "0"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.getShipment, get, context: h.context()) } == .invalidArgument)
            var list = ShipmentsV1.ListShipmentsRequest()
            list.orderID = order.orderID
            list.pageToken = "abc"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.listShipments, list, context: h.context()) } == .invalidArgument)
            list.pageToken = ""
            list.pageSize = 501
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.listShipments, list, context: h.context()) } == .invalidArgument)

            #expect(try await h.snapshot() == before)
            #expect(try await h.get(existing.shipmentID) == existing)
        }
    }

    @Test("orders that cannot ship, unknown orders and shipments, orders unavailable")
    func preconditions() async throws {
        try await Harness.with { h in
            for status in [OrderFulfilmentStatus.pendingPayment, .cancelled, .shipped, .delivered, .other] {
                let o = await h.order([("A", 1, 100)], status: status)
                #expect(await code { _ = try await h.create(o, [("A", 1)]) } == .failedPrecondition, "\(status)")
            }
            let partially = await h.order([("A", 1, 100)], status: .partiallyShipped)
            _ = try await h.create(partially, [("A", 1)])

            var missing = h.createRequest(partially, [("A", 1)])
            missing.orderID = "424242"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.createShipment, missing, context: h.context()) } == .notFound)
            await h.orders.setFailFetches(1)
            let o = await h.order([("A", 1, 100)])
            #expect(await code { _ = try await h.create(o, [("A", 1)]) } == .unavailable)
            #expect(await code { _ = try await h.get("777") } == .notFound)
            #expect(await code { _ = try await h.ship("777") } == .notFound)
            #expect(try await h.count("SELECT COUNT(*) FROM shipments") == 1)
        }
    }

    @Test("every legal and illegal transition, with tracking events and versions")
    func everyTransition() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 100, 10)])
            func inState(_ state: ShipmentState) async throws -> ShipmentsV1.Shipment {
                let s = try await h.create(order, [("A", 1)])
                switch state {
                case .pending: return s
                case .labelCreated: return try await h.label(s.shipmentID)
                case .shipped:
                    _ = try await h.label(s.shipmentID)
                    return try await h.ship(s.shipmentID)
                case .delivered:
                    _ = try await h.label(s.shipmentID)
                    _ = try await h.ship(s.shipmentID)
                    return try await h.deliver(s.shipmentID)
                case .cancelled: return try await h.cancel(s.shipmentID)
                }
            }
            func run(_ command: ShipmentCommand, _ id: String) async throws -> ShipmentsV1.Shipment {
                switch command {
                case .createLabel: try await h.label(id)
                case .ship: try await h.ship(id)
                case .deliver: try await h.deliver(id)
                case .cancel: try await h.cancel(id)
                }
            }
            for state in ShipmentState.allCases {
                for command in ShipmentCommand.allCases {
                    let s = try await inState(state)
                    #expect(s.status == state.proto)
                    #expect(s.events.count == Int(s.version), "one event per version (creation included)")
                    let expected = try #require(ShipmentStateMachineTests.table[state]?[command])
                    let c = await code { _ = try await run(command, s.shipmentID) }
                    let after = try await h.get(s.shipmentID)
                    if let target = expected {
                        #expect(c == nil, "\(state) --\(command)--> \(target)")
                        #expect(after.status == target.proto)
                        let moved = target != state
                        #expect(after.version == s.version + (moved ? 1 : 0))
                        #expect(after.events.count == s.events.count + (moved ? 1 : 0))
                        if moved { #expect(after.events.last?.status == target.proto) }
                    } else {
                        #expect(c == .failedPrecondition, "\(state) --\(command)--> refused")
                        #expect(after == s, "an illegal move changes nothing")
                    }
                }
            }
        }
    }

    @Test("labels: sandbox numbers, external carriers, repeats")
    func labels() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 5, 10)])
            let s = try await h.create(order, [("A", 1)])
            let labelled = try await h.label(s.shipmentID)
            #expect(labelled.carrier == "sandbox")
            #expect(labelled.trackingNumber == SandboxCarrier().issueTrackingNumber(shipmentID: Int64(s.shipmentID)!, warehouse: ""))
            #expect(try await h.label(s.shipmentID) == labelled, "a repeat answers the same shipment")
            #expect(
                try await h.count("SELECT COUNT(*) FROM shipments WHERE tracking_number = ?", [.string(labelled.trackingNumber)]) == 1)

            let s2 = try await h.create(order, [("A", 1)])
            var r = ShipmentsV1.MarkLabelCreatedRequest()
            r.shipmentID = s2.shipmentID
            r.carrier = "ups"
            r.trackingNumber = "1Z999AA10123456784"
            let ups = try #require(try await h.service.markLabelCreated(r, context: h.context()).shipment)
            #expect(ups.carrier == "ups")
            #expect(ups.trackingNumber == "1Z999AA10123456784")
            _ = try await h.service.markLabelCreated(r, context: h.context())
            r.trackingNumber = "1Z999AA10123456785"
            #expect(await code { _ = try await h.call(ShipmentsV1.Shipments.Method.markLabelCreated, r, context: h.context()) } == .failedPrecondition)
            #expect(try await h.get(s2.shipmentID) == ups)
        }
    }

    @Test("create is idempotent on its key; a different request under the key is 6")
    func idempotentCreate() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 5, 10), ("B", 5, 10)])
            let first = try await h.create(order, [("A", 2)], key: "ship-1")
            let again = try await h.create(order, [("A", 2)], key: "ship-1")
            #expect(again == first)
            #expect(try await h.allocated(order, "A") == 2)
            #expect(await code { _ = try await h.create(order, [("A", 3)], key: "ship-1") } == .alreadyExists)
            // The metadata key works the same way; keys are case-sensitive.
            let viaMetadata = try await h.service.createShipment(
                h.createRequest(order, [("B", 1)]), context: h.context(key: "SHIP-1"))
            #expect(viaMetadata.shipment?.shipmentID != first.shipmentID)
            let repeatMetadata = try await h.service.createShipment(
                h.createRequest(order, [("B", 1)]), context: h.context(key: "SHIP-1"))
            #expect(repeatMetadata == viaMetadata)
            #expect(try await h.count("SELECT COUNT(*) FROM shipments") == 2)

            // Concurrent creates with one key: one shipment.
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await h.create(order, [("B", 1)], key: "race").shipmentID }
                }
                var ids = Set<String>()
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(results.count == 1)
            #expect(try await h.allocated(order, "B") == 2)
        }
    }

    @Test("concurrent identical moves: one move, one event, one capture row")
    func concurrentMoves() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 2, 300)])
            let s = try await h.create(order, [("A", 2)])
            _ = try await h.label(s.shipmentID)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try await h.ship(s.shipmentID) } }
                try await group.waitForAll()
            }
            let after = try await h.get(s.shipmentID)
            #expect(after.status == .shipped)
            #expect(after.events.filter { $0.status == .shipped }.count == 1)
            #expect(try await h.count("SELECT COUNT(*) FROM outbox WHERE kind = 'capture'") == 1)
            try await h.drainOutbox()
            #expect(await h.payments.totalCapturedMinor == 600)
        }
    }

    @Test("list pages through an order's shipments")
    func listPages() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 10, 10)])
            var ids: [String] = []
            for _ in 0..<5 { ids.append(try await h.create(order, [("A", 1)]).shipmentID) }
            var seen: [String] = []
            var request = ShipmentsV1.ListShipmentsRequest()
            request.orderID = order.orderID
            request.pageSize = 2
            var pages = 0
            repeat {
                let page = try await h.service.listShipments(request, context: h.context())
                seen += page.shipments.map(\.shipmentID)
                request.pageToken = page.nextPageToken
                pages += 1
            } while !request.pageToken.isEmpty && pages < 10
            #expect(seen == ids)
            #expect(pages == 3)
        }
    }
}
