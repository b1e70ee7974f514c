import Foundation
import OMSCore

/// The fingerprints checkout stored before `RequestFingerprint` (no version prefix). Used only to
/// check rows written in that form: a legacy value matches the request whose legacy computation gives
/// the same value. New rows store `RequestFingerprint.value`.
enum LegacyFingerprint {
    /// The `request_hash` of a command: SHA-256 hex of the sorted-key JSON of everything but the key,
    /// with the card reduced to its last four digits, expiry, length and holder. Nil when the command
    /// cannot be encoded: the old code hashed empty data then, which every such command matched, so no
    /// stored value is trusted for it.
    static func checkout(_ command: PlaceOrderCommand) -> String? {
        struct Canonical: Encodable {
            var customer: CheckoutCustomer
            var lines: [RequestedLine]
            var cardLast4: String
            var cardLength: Int
            var cardExpiry: String
            var cardHolder: String
            var shippingAddress: CheckoutAddress
            var metadataJSON: String
        }
        let canonical = Canonical(
            customer: command.customer, lines: CheckoutValidation.sortedLines(command),
            cardLast4: command.card.last4, cardLength: command.card.number.count,
            cardExpiry: "\(command.card.expMonth)/\(command.card.expYear)", cardHolder: command.card.holderName,
            shippingAddress: command.shippingAddress, metadataJSON: command.metadataJSON)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let bytes = try? encoder.encode(canonical) else { return nil }
        return SHA256Hex.digest(of: bytes)
    }
}
