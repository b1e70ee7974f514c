import Foundation

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
/// the request returns the recorded outcome. It keeps only brand and last four digits.
public actor SandboxPaymentProvider: PaymentProvider {
    /// Test card numbers.
    public enum TestCard {
        public static let success = "4242424242424242"
        public static let genericDecline = "4000000000000002"
        public static let insufficientFunds = "4000000000009995"
        public static let processingError = "4000000000000119"
        public static let slow = "4000000000003220"
    }

    private struct Authorization {
        var fingerprint: String
        var amount: Int64
        var outcome: ProviderAuthorizationOutcome
        var captured: Int64 = 0
        var refunded: Int64 = 0
        var voided = false
    }

    /// Added to every answer.
    public var latency: Duration
    /// How long the slow test card takes to answer.
    public var slowLatency: Duration
    private var authorizations: [String: Authorization] = [:]
    private var references: [String: String] = [:]  // reference → authorization key
    private var operations: [String: String] = [:]  // capture/void/refund key → fingerprint
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
    public init(latency: Duration = .zero, slowLatency: Duration = .seconds(600)) {
        self.latency = latency
        self.slowLatency = slowLatency
    }

    /// Changes the latency (for tests and the `sandbox-latency` setting).
    public func setLatency(_ latency: Duration) { self.latency = latency }

    /// How many authorize requests arrived with `key`.
    public func authorizeCalls(forKey key: String) -> Int { authorizeCallsByKey[key, default: 0] }

    /// The approved, captured and refunded amounts the sandbox holds for an authorization key.
    public func ledger(forKey key: String) -> (authorized: Int64, captured: Int64, refunded: Int64, voided: Bool)? {
        guard let a = authorizations[key] else { return nil }
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
        let fingerprint =
            "\(request.amount)|\(request.currency.code)|\(card.summary)|\(card.expiryMonth)/\(card.expiryYear)"
        let outcome: ProviderAuthorizationOutcome
        if let existing = authorizations[request.idempotencyKey] {
            guard existing.fingerprint == fingerprint else { throw PaymentProviderError.idempotencyMismatch }
            outcome = existing.outcome
        } else {
            outcome = decide(number: number, card: request.card)
            if case .approved(let reference) = outcome { references[reference] = request.idempotencyKey }
            authorizations[request.idempotencyKey] = Authorization(
                fingerprint: fingerprint, amount: request.amount, outcome: outcome)
        }
        let delay = number == TestCard.slow ? slowLatency : latency
        if delay > .zero { try await Task.sleep(for: delay) }
        return outcome
    }

    public func lookupAuthorization(idempotencyKey: String) async throws -> ProviderLookupResult {
        lookupCallCount += 1
        guard let existing = authorizations[idempotencyKey] else { return .notFound }
        return .completed(existing.outcome)
    }

    public func capture(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await moneyMovement(
            reference: reference, key: idempotencyKey, fingerprint: "capture|\(reference)|\(amount)"
        ) {
            a in
            guard !a.voided else { throw PaymentProviderError.rejected("authorization was voided") }
            guard amount > 0, amount <= a.amount - a.captured else {
                throw PaymentProviderError.rejected("capture exceeds the authorization")
            }
            a.captured += amount
        }
    }

    public func void(reference: String, idempotencyKey: String) async throws {
        try await moneyMovement(reference: reference, key: idempotencyKey, fingerprint: "void|\(reference)") { a in
            guard a.captured == 0 else { throw PaymentProviderError.rejected("authorization has captures") }
            a.voided = true
        }
    }

    public func refund(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await moneyMovement(reference: reference, key: idempotencyKey, fingerprint: "refund|\(reference)|\(amount)")
        {
            a in
            guard amount > 0, amount <= a.captured - a.refunded else {
                throw PaymentProviderError.rejected("refund exceeds the captured amount")
            }
            a.refunded += amount
        }
    }

    private func moneyMovement(
        reference: String, key: String, fingerprint: String, apply: (inout Authorization) throws -> Void
    ) async throws {
        if let seen = operations[key] {
            guard seen == fingerprint else { throw PaymentProviderError.idempotencyMismatch }
        } else {
            guard let authKey = references[reference], var a = authorizations[authKey] else {
                throw PaymentProviderError.rejected("unknown authorization")
            }
            try apply(&a)
            authorizations[authKey] = a
            operations[key] = fingerprint
        }
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
