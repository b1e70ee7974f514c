import OMSAPI
import OMSCore
import OMSMySQL
import Testing

@testable import Checkout

/// Checkouts recorded before versioned fingerprints still answer a repeat of their request and still
/// refuse a different one under the same key.
@Suite("Checkout: stored legacy fingerprints", .serialized)
struct CheckoutLegacyFingerprintTests {
    @Test func legacyRowReplaysTheSameRequestAndRefusesAnother() async throws {
        try await CheckoutHarness.run { h in
            let service = h.service(h.coordinator())
            let request = placeOrderRequest(lines: [("A", 1), ("B", 2)])
            let first = try await service.placeOrder(request, context: CheckoutHarness.context())
            let command = try CheckoutValidation.command(from: request)
            let key = request.idempotencyKey
            let stored = try await h.database.primary.queryOne(
                "SELECT request_hash FROM checkouts WHERE idempotency_key = ?", [.string(key)])?.string("request_hash")
            #expect(stored == CheckoutValidation.fingerprint(command).value)
            // Rewrite the row as the old code stored it.
            let legacy = try #require(LegacyFingerprint.checkout(command))
            #expect(!RequestFingerprint.isCurrent(legacy) && legacy.count == 64)
            try await h.database.write { c in
                try await c.execute(
                    "UPDATE checkouts SET request_hash = ? WHERE idempotency_key = ?", [.string(legacy), .string(key)])
            }
            let again = try await h.service(h.coordinator()).placeOrder(request, context: CheckoutHarness.context())
            #expect(again == first)
            var other = request
            other.lines[0].quantity = 2
            let error = await #expect(throws: RPCError.self) {
                try await service.placeOrder(other, context: CheckoutHarness.context())
            }
            #expect(error?.code == .failedPrecondition)
            #expect(h.services.callCount("createOrder") == 1)
            #expect(h.services.callCount("authorize") == 1)
        }
    }

    @Test func lineOrderDoesNotMatterButEveryFieldDoes() throws {
        let request = placeOrderRequest(lines: [("A", 1), ("B", 2)])
        let a = CheckoutValidation.fingerprint(try CheckoutValidation.command(from: request))
        var reordered = request
        reordered.lines.reverse()
        #expect(CheckoutValidation.fingerprint(try CheckoutValidation.command(from: reordered)) == a)
        var other = request
        other.lines[1].quantity = 3
        #expect(CheckoutValidation.fingerprint(try CheckoutValidation.command(from: other)).value != a.value)
    }
}
