import OMSAPI
import OMSCore
import OMSMySQL
import Testing

@testable import Payments

/// Rows written before versioned fingerprints (intents, operations and the sandbox's own records)
/// still answer a repeat of their request and still refuse a different one.
@Suite("Payments: stored legacy fingerprints", .serialized)
struct PaymentsLegacyFingerprintTests {
    /// Rewrites the fingerprint stored under `key` in `table` as the old code stored it.
    private func storeLegacy(
        _ h: PaymentsHarness, table: String, column: String = "request_hash", key: String, _ value: String
    ) async throws {
        #expect(!RequestFingerprint.isCurrent(value))
        let changed = try await h.database.write { c in
            try await c.execute(
                "UPDATE \(table) SET \(column) = ? WHERE idempotency_key = ?", [.string(value), .string(key)])
        }.affectedRows
        #expect(changed == 1)
    }

    private func storedHash(_ h: PaymentsHarness, table: String, key: String) async throws -> String? {
        try await h.database.primary.queryOne(
            "SELECT request_hash FROM \(table) WHERE idempotency_key = ?", [.string(key)])?.string("request_hash")
    }

    @Test func legacyIntentReplaysTheSameAuthorizeAndRefusesAnother() async throws {
        try await PaymentsHarness.run { h in
            let request = PaymentsHarness.authorizeRequest(key: "legacy-k1", amount: 5000)
            let first = try await h.authorize(request)
            let command = try PaymentsService.authorizeCommand(request, context: h.context())
            #expect(try await storedHash(h, table: "payment_intents", key: "legacy-k1") == command.fingerprint.value)
            try await storeLegacy(h, table: "payment_intents", key: "legacy-k1", LegacyFingerprint.authorize(command))
            let before = try await h.snapshot()
            #expect(try await h.authorize(request) == first)
            await expectCode(.failedPrecondition) {
                try await h.authorize(PaymentsHarness.authorizeRequest(key: "legacy-k1", amount: 5001))
            }
            await expectCode(.failedPrecondition) {
                try await h.authorize(PaymentsHarness.authorizeRequest(key: "legacy-k1", order: "1002", amount: 5000))
            }
            #expect(try await h.snapshot() == before)
            #expect(await h.sandbox.authorizeCallCount == 1)
        }
    }

    @Test func legacyOperationReplaysTheSameCaptureAndRefusesAnother() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "legacy-ops", amount: 10_000))
            let id = try #require(UInt64(p.paymentID))
            let first = try await h.capture(p.paymentID, 3000, key: "legacy-cap")
            try await storeLegacy(
                h, table: "payment_operations", key: "legacy-cap",
                LegacyFingerprint.moneyMovement(.capture, paymentID: id, amount: 3000, currency: "EUR"))
            let before = try await h.snapshot()
            #expect(try await h.capture(p.paymentID, 3000, key: "legacy-cap") == first)
            await expectCode(.failedPrecondition) { try await h.capture(p.paymentID, 3001, key: "legacy-cap") }
            #expect(try await h.snapshot() == before)
            // New operations store the versioned form.
            _ = try await h.capture(p.paymentID, 1000, key: "new-cap")
            let stored = try await storedHash(h, table: "payment_operations", key: "new-cap")
            #expect(stored.map(RequestFingerprint.isCurrent) == true)
        }
    }

    @Test func legacySandboxRecordsReplayTheSameRequestAndRefuseAnother() async throws {
        try await PaymentsHarness.run { h in
            let sandbox = SandboxPaymentProvider(database: h.database)
            let card = try CardDetails(
                number: CardNumber(SandboxPaymentProvider.TestCard.success), expiryMonth: 12, expiryYear: 2099)
            let request = ProviderAuthorizationRequest(
                idempotencyKey: "sb-a", amount: 1000, currency: Currency(code: "EUR")!, card: card)
            guard case .approved(let ref) = try await sandbox.authorize(request) else {
                Issue.record("not approved")
                return
            }
            try await storeLegacy(
                h, table: "sandbox_authorizations", column: "fingerprint", key: "sb-a",
                LegacyFingerprint.sandboxAuthorization(request))
            #expect(try await sandbox.authorize(request) == .approved(reference: ref))
            var other = request
            other.amount = 999
            await #expect(throws: PaymentProviderError.idempotencyMismatch) { try await sandbox.authorize(other) }

            try await sandbox.capture(reference: ref, amount: 400, idempotencyKey: "sb-cap")
            try await storeLegacy(
                h, table: "sandbox_operations", column: "fingerprint", key: "sb-cap",
                LegacyFingerprint.sandboxMovement("capture", reference: ref, amount: 400))
            try await sandbox.capture(reference: ref, amount: 400, idempotencyKey: "sb-cap")
            await #expect(throws: PaymentProviderError.idempotencyMismatch) {
                try await sandbox.capture(reference: ref, amount: 401, idempotencyKey: "sb-cap")
            }
            #expect(try await sandbox.ledger(forKey: "sb-a")?.captured == 400)
        }
    }

    @Test func legacyValuesAreUnchanged() throws {
        // The old computations, pinned: a drift would stop old rows from matching their repeats.
        #expect(
            LegacyFingerprint.moneyMovement(.refund, paymentID: 42, amount: 7, currency: nil)
                == SHA256Hex.digest(of: "6:refund;2:42;1:7;0:;"))
        #expect(SHA256Hex.digest(of: "6:refund;2:42;1:7;0:;") == Self.refundVector)
        #expect(LegacyFingerprint.sandboxMovement("void", reference: "r-1", amount: nil) == "void|r-1")
        #expect(LegacyFingerprint.sandboxMovement("refund", reference: "r-1", amount: 5) == "refund|r-1|5")
    }

    /// `sha256sum` of the old canonical text.
    private static let refundVector = "1b27b0e436bc93cec504c7c1eda187d8ee673cd198cd9b1ab38db586794b9bad"
}
