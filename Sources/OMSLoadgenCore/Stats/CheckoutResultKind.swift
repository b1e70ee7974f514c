/// What one checkout answered, as the load generator classifies it. A rejection's raw value is the reason
/// recorded in the audit's client outcomes (`ClientOutcome.rejected(reason:)`).
public enum CheckoutResultKind: String, Sendable, Codable, CaseIterable {
    /// An order was placed.
    case placed
    /// Rejected: not enough stock.
    case outOfStock = "out_of_stock"
    /// Rejected: the card was declined.
    case declined = "payment_declined"
    /// Rejected: the request was invalid.
    case invalid = "invalid_request"
    /// A business rejection of another kind (a step failed and was compensated).
    case failed
    /// Another call with the key was still running when polling gave up.
    case inProgress = "in_progress"
    /// A transport or RPC error (or an empty outcome): the result is unknown.
    case error
}
