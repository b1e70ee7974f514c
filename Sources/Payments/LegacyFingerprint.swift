import OMSCore

/// The fingerprints payments stored before `RequestFingerprint` (no version prefix). Used only to
/// check rows written in that form: a legacy value matches the request whose legacy computation
/// gives the same value. New rows store `RequestFingerprint.value`.
enum LegacyFingerprint {
    /// The stored `request_hash` of an Authorize: SHA-256 hex of `"<byte length>:<field>;"` per field.
    static func authorize(_ command: AuthorizeCommand) -> String {
        lengthPrefixedHash([
            "authorize", command.orderID, String(command.amount), command.currency.code,
            command.card.number.brand.rawValue, command.card.number.lastFour, String(command.card.expiryMonth),
            String(command.card.expiryYear),
        ])
    }

    /// The stored `request_hash` of a capture, void or refund (a missing currency was written as "").
    static func moneyMovement(_ kind: PaymentOperationKind, paymentID: UInt64, amount: Int64, currency: String?)
        -> String
    {
        lengthPrefixedHash([kind.rawValue, String(paymentID), String(amount), currency ?? ""])
    }

    /// The sandbox provider's stored authorization fingerprint.
    static func sandboxAuthorization(_ request: ProviderAuthorizationRequest) -> String {
        let card = request.card
        return "\(request.amount)|\(request.currency.code)|\(card.summary)|\(card.expiryMonth)/\(card.expiryYear)"
    }

    /// The sandbox provider's stored capture, void or refund fingerprint (`void|<reference>` has no amount).
    static func sandboxMovement(_ operation: String, reference: String, amount: Int64?) -> String {
        guard let amount else { return "\(operation)|\(reference)" }
        return "\(operation)|\(reference)|\(amount)"
    }

    private static func lengthPrefixedHash(_ fields: [String]) -> String {
        SHA256Hex.digest(of: fields.map { "\($0.utf8.count):\($0);" }.joined())
    }
}
