import OMSCore
import Foundation
import OMSAPI

/// Limits of PlaceOrder (docs/checkout.md).
public enum CheckoutLimits {
    public static let maxLines = 100
    public static let maxQuantity: Int64 = 1_000_000
    public static let maxKeyLength = 255
    public static let maxSKULength = 64
    public static let maxIDLength = 255
    public static let maxTextLength = 255
    public static let maxAttributesBytes = 4096
    public static let maxMetadataBytes = 16_384
}

/// Turns the wire request into a `PlaceOrderCommand`, refusing malformed input with 3
/// INVALID_ARGUMENT naming the field. Malformed input is refused before anything is recorded, so
/// it changes nothing and a corrected request may reuse the key. (Requests that are well formed but
/// cannot be sold — unknown or inactive SKU — are business rejections: a stored result.)
public enum CheckoutValidation {
    static func bad(_ field: String, _ problem: String) -> RPCError {
        RPCError(.invalidArgument, "\(field): \(problem)")
    }

    static func text(
        _ value: String, _ field: String, required: Bool, max: Int = CheckoutLimits.maxTextLength
    ) throws(RPCError) {
        if required && value.isEmpty { throw bad(field, "is required") }
        if value.count > max { throw bad(field, "is longer than \(max) characters") }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw bad(field, "contains control characters")
        }
    }

    /// Validates optional JSON object text.
    static func jsonObject(_ value: String, _ field: String, maxBytes: Int) throws(RPCError) {
        guard !value.isEmpty else { return }
        guard value.utf8.count <= maxBytes else { throw bad(field, "is larger than \(maxBytes) bytes") }
        guard value.unicodeScalars.allSatisfy({ $0.value != 0 }),
            let object = try? JSONSerialization.jsonObject(with: Data(value.utf8)), object is [String: Any]
        else { throw bad(field, "must be a JSON object") }
    }

    /// Luhn check over ASCII digits.
    static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (i, ch) in digits.reversed().enumerated() {
            guard let d = ch.wholeNumberValue else { return false }
            if i % 2 == 1 {
                let x = d * 2
                sum += x > 9 ? x - 9 : x
            } else {
                sum += d
            }
        }
        return sum % 10 == 0
    }

    /// Validates and converts.
    /// - Parameter request: the decoded request.
    /// - Returns: the command.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT naming the first bad field.
    public static func command(from request: CheckoutV1.PlaceOrderRequest) throws(RPCError) -> PlaceOrderCommand {
        try text(request.idempotencyKey, "idempotency_key", required: true, max: CheckoutLimits.maxKeyLength)

        guard let c = request.customer else { throw bad("customer", "is required") }
        try text(c.customerID, "customer.customer_id", required: true, max: CheckoutLimits.maxIDLength)
        try text(c.name, "customer.name", required: false)
        try text(c.email, "customer.email", required: false, max: 320)
        if !c.email.isEmpty && !c.email.contains("@") { throw bad("customer.email", "is not an e-mail address") }

        guard !request.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        guard request.lines.count <= CheckoutLimits.maxLines else {
            throw bad("lines", "at most \(CheckoutLimits.maxLines) lines")
        }
        var seen = Set<String>()
        var lines: [RequestedLine] = []
        for (i, line) in request.lines.enumerated() {
            let f = "lines[\(i)]"
            try text(line.sku, "\(f).sku", required: true, max: CheckoutLimits.maxSKULength)
            guard (1...CheckoutLimits.maxQuantity).contains(line.quantity) else {
                throw bad("\(f).quantity", "must be 1...\(CheckoutLimits.maxQuantity)")
            }
            try jsonObject(line.attributesJson, "\(f).attributes_json", maxBytes: CheckoutLimits.maxAttributesBytes)
            guard seen.insert(line.sku).inserted else { throw bad("\(f).sku", "duplicate SKU \(line.sku)") }
            lines.append(RequestedLine(sku: line.sku, quantity: line.quantity, attributesJSON: line.attributesJson))
        }

        guard case .card(let card)? = request.paymentMethod?.kind else {
            throw bad("payment_method", "a card is required")
        }
        let digits = card.number.filter { $0 != " " && $0 != "-" }
        // Never echo the number in a message.
        guard (12...19).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), luhn(digits) else {
            throw bad("payment_method.card.number", "is not a valid card number")
        }
        guard (1...12).contains(card.expMonth) else { throw bad("payment_method.card.exp_month", "must be 1...12") }
        guard (2000...2200).contains(card.expYear) else {
            throw bad("payment_method.card.exp_year", "must be a four-digit year")
        }
        guard card.cvc.isEmpty || ((3...4).contains(card.cvc.count) && card.cvc.allSatisfy({ $0.isASCII && $0.isNumber }))
        else { throw bad("payment_method.card.cvc", "must be 3 or 4 digits") }
        try text(card.holderName, "payment_method.card.holder_name", required: false)

        guard let a = request.shippingAddress else { throw bad("shipping_address", "is required") }
        try text(a.name, "shipping_address.name", required: true)
        try text(a.line1, "shipping_address.line1", required: true)
        try text(a.line2, "shipping_address.line2", required: false)
        try text(a.city, "shipping_address.city", required: true)
        try text(a.region, "shipping_address.region", required: false)
        try text(a.postalCode, "shipping_address.postal_code", required: false, max: 32)
        guard a.country.count == 2, a.country.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw bad("shipping_address.country", "must be an ISO 3166-1 alpha-2 code")
        }
        try text(a.phone, "shipping_address.phone", required: false, max: 32)

        try jsonObject(request.metadataJson, "metadata_json", maxBytes: CheckoutLimits.maxMetadataBytes)

        return PlaceOrderCommand(
            idempotencyKey: request.idempotencyKey,
            customer: CheckoutCustomer(customerID: c.customerID, name: c.name, email: c.email),
            lines: lines,
            card: CardDetails(
                number: digits, expMonth: card.expMonth, expYear: card.expYear, cvc: card.cvc,
                holderName: card.holderName),
            shippingAddress: CheckoutAddress(
                name: a.name, line1: a.line1, line2: a.line2, city: a.city, region: a.region,
                postalCode: a.postalCode, country: a.country, phone: a.phone),
            metadataJSON: request.metadataJson)
    }

    /// The fingerprint of a command: everything but the key itself, with the card reduced to its last
    /// four digits, length, expiry and holder (never the number or the CVC). Lines are sorted by SKU, so
    /// their order does not matter.
    public static func fingerprint(_ command: PlaceOrderCommand) -> FingerprintVerifier {
        var f = RequestFingerprint("place-order")
        let customer = command.customer
        f.append(list: [customer.customerID, customer.name, customer.email])
        f.append(list: sortedLines(command)) { line, l in
            line.append(l.sku)
            line.append(l.quantity)
            line.append(l.attributesJSON)
        }
        let card = command.card
        f.append(card.last4)
        f.append(Int64(card.number.count))
        f.append(UInt64(card.expMonth))
        f.append(UInt64(card.expYear))
        f.append(card.holderName)
        let a = command.shippingAddress
        f.append(list: [a.name, a.line1, a.line2, a.city, a.region, a.postalCode, a.country, a.phone])
        f.append(command.metadataJSON)
        return FingerprintVerifier(f, legacy: LegacyFingerprint.checkout(command))
    }

    /// The command's lines in fingerprint order (by SKU).
    static func sortedLines(_ command: PlaceOrderCommand) -> [RequestedLine] {
        command.lines.sorted { $0.sku < $1.sku }
    }
}

extension CheckoutV1.PlaceOrderRequest: RPCValidatable {
    /// Runs `CheckoutValidation.command(from:)`.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT.
    public func validate() throws {
        _ = try CheckoutValidation.command(from: self)
    }
}

extension CheckoutV1.GetCheckoutRequest: RPCValidatable {
    /// Requires a non-empty key or checkout id.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT.
    public func validate() throws {
        switch lookup {
        case .idempotencyKey(let key)?:
            try CheckoutValidation.text(key, "idempotency_key", required: true, max: CheckoutLimits.maxKeyLength)
        case .checkoutID(let id)?:
            guard let n = Int64(id), n > 0 else { throw CheckoutValidation.bad("checkout_id", "is not a checkout id") }
        case nil:
            throw CheckoutValidation.bad("lookup", "idempotency_key or checkout_id is required")
        }
    }
}
