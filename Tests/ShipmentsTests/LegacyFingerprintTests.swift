import OMSAPI
import OMSCore
import OMSMySQL
import Testing

@testable import Shipments

/// Shipments created before versioned fingerprints still answer a repeat of their request under the
/// idempotency key and still refuse a different one.
@Suite("Shipments: stored legacy fingerprints", .serialized)
struct ShipmentsLegacyFingerprintTests {
    @Test func legacyRowReplaysTheSameRequestAndRefusesAnother() async throws {
        try await Harness.with { h in
            let order = await h.order([("A", 5, 10), ("B", 5, 10)])
            let first = try await h.create(order, [("A", 2), ("B", 1)], key: "legacy-1")
            let stored = try await h.database.write { c in
                try await c.queryOne("SELECT request_hash FROM shipments WHERE idempotency_key = 'legacy-1'")?
                    .optionalString("request_hash")
            }
            #expect(stored.map(RequestFingerprint.isCurrent) == true)
            // As the old code wrote it: SQL SHA2 of the joined text (lines sorted, U+001F/U+001E separators).
            let oldText = ["\(order.orderID)", "wh-1", "A\u{1F}\u{1F}2", "B\u{1F}\u{1F}1"].joined(separator: "\u{1E}")
            try await h.database.write { c in
                try await c.execute(
                    "UPDATE shipments SET request_hash = SHA2(?, 256) WHERE idempotency_key = 'legacy-1'",
                    [.string(oldText)])
            }
            let request = h.createRequest(order, [("B", 1), ("A", 2)], key: "legacy-1")
            let legacy = try await h.database.write { c in
                try await c.queryOne("SELECT request_hash FROM shipments WHERE idempotency_key = 'legacy-1'")?
                    .optionalString("request_hash")
            }
            #expect(legacy == LegacyFingerprint.shipments(request))
            let before = try await h.snapshot()
            let again = try await h.service.createShipment(request, context: h.context()).shipment
            #expect(again == first)
            let different = await code { _ = try await h.create(order, [("A", 3), ("B", 1)], key: "legacy-1") }
            #expect(different == .alreadyExists)
            #expect(await code { _ = try await h.create(order, [("A", 2)], key: "legacy-1") } == .alreadyExists)
            #expect(try await h.snapshot() == before)
            #expect(try await h.allocated(order, "A") == 2)
        }
    }

    @Test func lineOrderDoesNotMatterAndFieldsDoNotRunTogether() {
        func request(_ order: String, _ warehouse: String, _ lines: [(String, String, Int64)])
            -> ShipmentsV1.CreateShipmentRequest
        {
            var r = ShipmentsV1.CreateShipmentRequest()
            r.orderID = order
            r.warehouse = warehouse
            r.lines = lines.map { ShipmentsV1.ShipmentLine(lineID: $0.0, sku: $0.1, quantity: $0.2) }
            return r
        }
        let a = ShipmentsService.fingerprint(request("1", "wh", [("A", "", 1), ("B", "", 2)]))
        let b = ShipmentsService.fingerprint(request("1", "wh", [("B", "", 2), ("A", "", 1)]))
        #expect(a == b)
        let c = ShipmentsService.fingerprint(request("1", "wh", [("A", "", 2), ("B", "", 1)]))
        #expect(a.value != c.value)
        let d = ShipmentsService.fingerprint(request("1\u{1E}wh", "", [("A", "", 1), ("B", "", 2)]))
        #expect(a.value != d.value)
    }
}
