import Foundation
import OMSCore
import OMSMySQL

/// A built-in card sandbox that answers by test card number, the way card processors' test
/// modes do:
///
/// | card number | outcome |
/// |---|---|
/// | 4242 4242 4242 4242 | approved |
/// | 4000 0000 0000 0002 | declined, `card_declined` |
/// | 4000 0000 0000 9995 | declined, `insufficient_funds` |
/// | 4000 0000 0000 0119 | declined, `processing_error` |
/// | 4000 0000 0000 3220 | approved, but the answer takes `slowLatency` (default 10 minutes) |
/// | any other Luhn-valid number | approved |
///
/// A card whose expiry month has passed is declined with `expired_card`.
///
/// The sandbox is idempotent by key: the outcome is decided when the first request with a key
/// arrives and recorded at once, so a caller that timed out can learn it with
/// `lookupAuthorization(idempotencyKey:)` while the slow answer is still on its way; repeating
/// the request returns the recorded outcome. It keeps only brand and last four digits. Given the
/// payments database it records everything there (`sandbox_authorizations`, `sandbox_operations`),
/// so a restarted service can still capture, void and refund what it authorized before.
public actor SandboxPaymentProvider: PaymentProvider {
    /// Test card numbers.
    public enum TestCard {
        public static let success = "4242424242424242"
        public static let genericDecline = "4000000000000002"
        public static let insufficientFunds = "4000000000009995"
        public static let processingError = "4000000000000119"
        public static let slow = "4000000000003220"
    }

    /// Added to every answer.
    public var latency: Duration
    /// How long the slow test card takes to answer.
    public var slowLatency: Duration
    /// Where the sandbox's authorizations, captures, voids and refunds are recorded.
    private let ledger: any SandboxLedger
    private var nextReference = 1
    /// Distinguishes references of different sandbox instances (process restarts).
    private let instanceTag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    /// Authorize requests received, in total and per key (repeats included).
    public private(set) var authorizeCallCount = 0
    private var authorizeCallsByKey: [String: Int] = [:]
    /// Lookup requests received.
    public private(set) var lookupCallCount = 0

    /// - Parameters:
    ///   - latency: delay before every answer (default none).
    ///   - slowLatency: delay of the slow test card (default 10 minutes: slower than any sane deadline).
    ///   - database: where to keep the sandbox's records (the payments database, tables of
    ///     V003__sandbox_ledger.sql) so that they outlive a restart; nil keeps them in memory (unit tests).
    public init(latency: Duration = .zero, slowLatency: Duration = .seconds(600), database: MySQLDatabase? = nil) {
        self.latency = latency
        self.slowLatency = slowLatency
        self.ledger = database.map { MySQLSandboxLedger(database: $0) } ?? InMemorySandboxLedger()
    }

    /// Changes the latency (for tests and the `sandbox-latency` setting).
    public func setLatency(_ latency: Duration) { self.latency = latency }

    /// How many authorize requests arrived with `key`.
    public func authorizeCalls(forKey key: String) -> Int { authorizeCallsByKey[key, default: 0] }

    /// The approved, captured and refunded amounts the sandbox holds for an authorization key.
    public func ledger(forKey key: String) async throws -> (authorized: Int64, captured: Int64, refunded: Int64, voided: Bool)? {
        guard let a = try await ledger.authorization(key: key) else { return nil }
        let authorized: Int64 = if case .approved = a.outcome { a.amount } else { 0 }
        return (authorized, a.captured, a.refunded, a.voided)
    }

    public func authorize(_ request: ProviderAuthorizationRequest) async throws -> ProviderAuthorizationOutcome {
        authorizeCallCount += 1
        authorizeCallsByKey[request.idempotencyKey, default: 0] += 1
        let number = request.card.number.fullNumber
        // The fingerprint covers what makes the request the same request; the card enters only
        // as brand, last four and expiry.
        let card = request.card
        var fields = RequestFingerprint("sandbox-authorize")
        fields.append(request.amount)
        fields.append(request.currency.code)
        fields.append(card: card)
        let fingerprint = FingerprintVerifier(fields, legacy: LegacyFingerprint.sandboxAuthorization(request))
        // The first request with a key decides; a repeat (or a concurrent first request that lost)
        // gets the record that holds, and its freshly decided outcome is dropped.
        let recorded = try await ledger.record(
            key: request.idempotencyKey,
            SandboxAuthorization(
                fingerprint: fingerprint.value, amount: request.amount, outcome: decide(number: number, card: card)))
        if recorded.fingerprint == Self.withdrawnFingerprint { return .declined(.withdrawn) }
        guard fingerprint.matches(recorded.fingerprint) else { throw PaymentProviderError.idempotencyMismatch }
        let outcome = recorded.outcome
        let delay = number == TestCard.slow ? slowLatency : latency
        if delay > .zero { try await Task.sleep(for: delay) }
        return outcome
    }

    public func lookupAuthorization(idempotencyKey: String) async throws -> ProviderLookupResult {
        lookupCallCount += 1
        guard let existing = try await ledger.authorization(key: idempotencyKey) else { return .notFound }
        return .completed(existing.outcome)
    }

    /// The fingerprint of a withdrawal's record: no request fingerprint has this form.
    static let withdrawnFingerprint = "withdrawn"

    public func withdrawAuthorization(idempotencyKey: String) async throws -> ProviderAuthorizationOutcome {
        // The first record of the key decides, as for authorize: a request that got there first
        // keeps its outcome; otherwise the withdrawal is the key's outcome from now on.
        let recorded = try await ledger.record(
            key: idempotencyKey,
            SandboxAuthorization(fingerprint: Self.withdrawnFingerprint, amount: 0, outcome: .declined(.withdrawn)))
        return recorded.outcome
    }

    public func capture(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await moneyMovement("capture", reference: reference, amount: amount, key: idempotencyKey) { a in
            guard !a.voided else { throw PaymentProviderError.rejected("authorization was voided") }
            guard amount > 0, amount <= a.amount - a.captured else {
                throw PaymentProviderError.rejected("capture exceeds the authorization")
            }
            a.captured += amount
        }
    }

    public func void(reference: String, idempotencyKey: String) async throws {
        try await moneyMovement("void", reference: reference, amount: nil, key: idempotencyKey) { a in
            guard a.captured == 0 else { throw PaymentProviderError.rejected("authorization has captures") }
            a.voided = true
        }
    }

    public func refund(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await moneyMovement("refund", reference: reference, amount: amount, key: idempotencyKey) { a in
            guard amount > 0, amount <= a.captured - a.refunded else {
                throw PaymentProviderError.rejected("refund exceeds the captured amount")
            }
            a.refunded += amount
        }
    }

    private func moneyMovement(
        _ operation: String, reference: String, amount: Int64?, key: String,
        apply: @escaping @Sendable (inout SandboxAuthorization) throws -> Void
    ) async throws {
        var fields = RequestFingerprint("sandbox-\(operation)")
        fields.append(reference)
        fields.append(amount)
        let fingerprint = FingerprintVerifier(
            fields, legacy: LegacyFingerprint.sandboxMovement(operation, reference: reference, amount: amount))
        try await ledger.move(operationKey: key, fingerprint: fingerprint, reference: reference, apply)
        if latency > .zero { try await Task.sleep(for: latency) }
    }

    private func decide(number: String, card: CardDetails) -> ProviderAuthorizationOutcome {
        switch number {
        case TestCard.genericDecline: return .declined(.cardDeclined)
        case TestCard.insufficientFunds: return .declined(.insufficientFunds)
        case TestCard.processingError: return .declined(.processingError)
        default: break
        }
        let now = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
        if let year = now.year, let month = now.month,
            card.expiryYear < year || (card.expiryYear == year && card.expiryMonth < month)
        {
            return .declined(.expiredCard)
        }
        let reference = "sbx_\(instanceTag)_\(nextReference)"
        nextReference += 1
        return .approved(reference: reference)
    }
}
