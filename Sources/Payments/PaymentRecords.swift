import Foundation
import OMSCore
import OMSRPCCore

/// A payment intent as callers see it (and as the first result of an idempotent call is replayed).
public struct PaymentRecord: Sendable, Hashable, Codable {
    /// Time-ordered 64-bit id.
    public var id: UInt64
    /// The caller's idempotency key of the Authorize call (the checkout id for checkouts).
    public var idempotencyKey: String
    public var orderID: String
    public var status: PaymentStatus
    /// ISO 4217 code.
    public var currency: String
    /// Requested (and, once authorized, authorized) amount in minor units.
    public var amount: Int64
    public var capturedAmount: Int64
    public var refundedAmount: Int64
    public var cardBrand: String
    public var cardLastFour: String
    public var cardExpiryMonth: Int
    public var cardExpiryYear: Int
    /// The provider's authorization id once approved.
    public var providerReference: String?
    /// Why the authorization failed (`DeclineCode` raw value; `abandoned` on rows of earlier versions).
    public var failureCode: String?
    /// Optimistic-lock version; grows by one with every change.
    public var version: Int64
    public var createdAtMicros: Int64
    public var updatedAtMicros: Int64
}

extension PaymentStatus: Codable {}

/// The kind of a money movement after authorization.
public enum PaymentOperationKind: String, Sendable, Hashable, Codable, CaseIterable {
    case capture, void, refund
}

/// A capture, void or refund.
public struct PaymentOperationRecord: Sendable, Hashable, Codable {
    public var id: UInt64
    public var paymentID: UInt64
    public var kind: PaymentOperationKind
    /// The caller's idempotency key for this operation.
    public var idempotencyKey: String
    /// Minor units (0 for a void).
    public var amount: Int64
    public var createdAtMicros: Int64
}

/// The answer to Capture, Void and Refund: the operation and the payment right after it.
public struct PaymentOperationResult: Sendable, Hashable, Codable {
    public var operation: PaymentOperationRecord
    public var payment: PaymentRecord
}

/// A checked Authorize request.
public struct AuthorizeCommand: Sendable {
    public var idempotencyKey: String
    public var orderID: String
    public var amount: Int64
    public var currency: Currency
    public var card: CardDetails
    /// Free-form caller data stored with the intent (JSON object of strings); `checkout_id` is indexed.
    public var metadata: [String: String]

    public init(
        idempotencyKey: String, orderID: String, amount: Int64, currency: Currency, card: CardDetails,
        metadata: [String: String] = [:]
    ) {
        self.idempotencyKey = idempotencyKey
        self.orderID = orderID
        self.amount = amount
        self.currency = currency
        self.card = card
        self.metadata = metadata
    }

    /// The fingerprint of the fields that make two Authorize calls "the same request".
    var fingerprint: FingerprintVerifier {
        var f = RequestFingerprint("authorize")
        f.append(orderID)
        f.append(amount)
        f.append(currency.code)
        f.append(card: card)
        return FingerprintVerifier(f, legacy: LegacyFingerprint.authorize(self))
    }
}

/// Checks shared by the request validators and the engine.
public enum PaymentsValidation {
    /// Longest idempotency key accepted.
    public static let maximumKeyLength = 255
    /// Longest order id accepted.
    public static let maximumOrderIDLength = 64

    /// - Throws: `RPCError` 3 when the key is empty, longer than 255 characters, or holds control characters.
    public static func validateKey(_ key: String, field: String) throws {
        guard !key.isEmpty else { throw RPCError.invalidArgument("\(field) is required") }
        guard key.count <= maximumKeyLength, key.utf8.count <= maximumKeyLength * 4 else {
            throw RPCError.invalidArgument("\(field) must be at most \(maximumKeyLength) characters")
        }
        guard !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCError.invalidArgument("\(field) must not contain control characters")
        }
    }

    /// - Throws: `RPCError` 3 when the order id is empty, too long or not printable ASCII.
    public static func validateOrderID(_ id: String, field: String) throws {
        guard !id.isEmpty else { throw RPCError.invalidArgument("\(field) is required") }
        guard id.utf8.count <= maximumOrderIDLength,
            id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else {
            throw RPCError.invalidArgument("\(field) must be 1 to \(maximumOrderIDLength) printable ASCII characters")
        }
    }

    /// Parses a payment id (the decimal form of a 64-bit id).
    /// - Throws: `RPCError` 3 when it is not a positive decimal integer that fits 64 bits.
    public static func parsePaymentID(_ text: String, field: String) throws -> UInt64 {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let id = UInt64(text), id > 0
        else {
            throw RPCError.invalidArgument("\(field) must be a payment id (a positive decimal integer)")
        }
        return id
    }
}

extension Date {
    /// This instant truncated to whole microseconds (what DATETIME(6) keeps).
    var truncatedToMicros: Date { Date(unixMicroseconds: unixMicroseconds) }
}

extension RequestFingerprint {
    /// Appends what identifies a card without revealing it: brand, last four digits and expiry.
    mutating func append(card: CardDetails) {
        append(card.number.brand.rawValue)
        append(card.number.lastFour)
        append(Int64(card.expiryMonth))
        append(Int64(card.expiryYear))
    }
}
