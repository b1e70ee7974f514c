/// Why a provider declined an authorization. Raw values are stored in `payment_intents.failure_code`.
public enum DeclineCode: String, Sendable, Hashable, CaseIterable {
    case cardDeclined = "card_declined"
    case insufficientFunds = "insufficient_funds"
    case processingError = "processing_error"
    case expiredCard = "expired_card"
    /// Not a card's answer: the merchant withdrew the request before the provider decided it
    /// (`PaymentProvider.withdrawAuthorization`), so no money was ever held.
    case withdrawn = "withdrawn"
}

/// An authorization request as the provider receives it.
public struct ProviderAuthorizationRequest: Sendable, Hashable {
    /// The provider-side idempotency key; the same key always names the same authorization.
    public var idempotencyKey: String
    public var amount: Int64
    public var currency: Currency
    public var card: CardDetails

    public init(idempotencyKey: String, amount: Int64, currency: Currency, card: CardDetails) {
        self.idempotencyKey = idempotencyKey
        self.amount = amount
        self.currency = currency
        self.card = card
    }
}

/// The provider's final answer to an authorization.
public enum ProviderAuthorizationOutcome: Sendable, Hashable {
    /// Approved; `reference` is the provider's authorization id.
    case approved(reference: String)
    /// Declined (a known, final outcome: no money is held).
    case declined(DeclineCode)
}

/// What the provider knows about an idempotency key.
public enum ProviderLookupResult: Sendable, Hashable {
    /// The provider never received a request with this key.
    case notFound
    /// The provider has the request and has not decided yet; ask again later.
    case inProgress
    /// The request was decided.
    case completed(ProviderAuthorizationOutcome)
}

/// A failure whose outcome the caller cannot know (timeout, lost connection) or a refusal.
public enum PaymentProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call did not finish in time; the provider may or may not have acted.
    case timedOut
    /// The connection broke; the provider may or may not have acted.
    case unavailable(String)
    /// The same provider key was used with a different request.
    case idempotencyMismatch
    /// The provider refused a capture, void or refund (its ledger disagrees).
    case rejected(String)

    public var description: String {
        switch self {
        case .timedOut: "provider call timed out"
        case .unavailable(let why): "provider unavailable: \(why)"
        case .idempotencyMismatch: "provider idempotency key reused with a different request"
        case .rejected(let why): "provider rejected the operation: \(why)"
        }
    }
}

/// A card processor. Every call carries an idempotency key and is safe to repeat: the same key
/// returns the first result and never moves money twice. An unknown outcome is resolved with
/// `lookupAuthorization(idempotencyKey:)`, never guessed.
///
/// Implementations receive the full card number (`CardNumber.fullNumber`) and must not log or
/// keep it beyond what their own compliance scope allows.
public protocol PaymentProvider: Sendable {
    /// Asks for an authorization (a hold of `amount` on the card).
    /// - Throws: `PaymentProviderError` (`.timedOut`, `.unavailable` when the outcome is unknown) or
    ///   `CancellationError` when the caller gave up (outcome unknown as well).
    func authorize(_ request: ProviderAuthorizationRequest) async throws -> ProviderAuthorizationOutcome

    /// What became of the authorization sent with `idempotencyKey`.
    /// - Throws: `PaymentProviderError.unavailable` when the provider cannot be asked right now.
    func lookupAuthorization(idempotencyKey: String) async throws -> ProviderLookupResult

    /// Settles the authorization of `idempotencyKey` for good: when the provider has decided a request
    /// with that key it answers that outcome; when it has none (never received, or not yet arrived) it
    /// records the key as withdrawn, so a request with it that arrives later is declined
    /// (`DeclineCode.withdrawn`) instead of holding money. Idempotent: every call answers the same.
    /// Payments uses it to settle an intent whose authorization a dead process may never have sent.
    /// - Throws: `PaymentProviderError.unavailable` when the provider cannot be asked right now.
    func withdrawAuthorization(idempotencyKey: String) async throws -> ProviderAuthorizationOutcome

    /// Captures part of an approved authorization.
    /// - Throws: `PaymentProviderError`.
    func capture(reference: String, amount: Int64, idempotencyKey: String) async throws

    /// Releases an approved authorization that has no captures.
    /// - Throws: `PaymentProviderError`.
    func void(reference: String, idempotencyKey: String) async throws

    /// Returns part of what was captured.
    /// - Throws: `PaymentProviderError`.
    func refund(reference: String, amount: Int64, idempotencyKey: String) async throws
}
