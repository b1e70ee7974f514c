import Foundation
import OMSAPI
import OMSCore
import OMSServiceKit

/// Turns the wire request into a `PlaceOrderCommand`, refusing malformed input with 3
/// INVALID_ARGUMENT naming the field. Malformed input is refused before anything is recorded, so
/// it changes nothing and a corrected request may reuse the key. (Requests that are well formed but
/// cannot be sold — unknown or inactive SKU — are business rejections: a stored result.)
///
/// Customer, lines, address and metadata are checked with the suite's shared rules (`FieldRules`,
/// `FieldLimits`), the same ones inventory and orders apply, so a checkout that passes here is
/// never refused downstream for its shape.
public enum CheckoutValidation {
    static func bad(_ field: String, _ problem: String) -> RPCError { FieldRules.invalid(field, problem) }

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
        try FieldRules.text(
            request.idempotencyKey, field: "idempotency_key", max: FieldLimits.maxIdempotencyKeyLength, required: true)
        try FieldRules.customer(request.customer)
        let c = request.customer ?? CommonV1.Customer()

        guard !request.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        guard request.lines.count <= FieldLimits.maxLines else {
            throw bad("lines", "at most \(FieldLimits.maxLines) lines")
        }
        var seen = Set<String>()
        var lines: [RequestedLine] = []
        for (i, line) in request.lines.enumerated() {
            let f = "lines[\(i)]"
            try FieldRules.sku(line.sku, field: "\(f).sku")
            try FieldRules.quantity(line.quantity, field: "\(f).quantity")
            try FieldRules.lineAttributes(line.attributesJson, field: "\(f).attributes_json")
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
        try FieldRules.text(card.holderName, field: "payment_method.card.holder_name", max: FieldLimits.maxNameLength)

        try FieldRules.address(request.shippingAddress)
        let a = request.shippingAddress ?? CommonV1.Address()
        try FieldRules.orderMetadata(request.metadataJson, field: "metadata_json")

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

extension CheckoutV1.ListParkedCheckoutsRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 for a page size over 500.
    public func validate() throws {
        guard pageSize <= 500 else { throw CheckoutValidation.bad("page_size", "must be at most 500") }
    }
}

extension CheckoutV1.ResumeCheckoutRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 unless the id is a checkout id.
    public func validate() throws {
        guard let n = Int64(checkoutID), n > 0 else { throw CheckoutValidation.bad("checkout_id", "is not a checkout id") }
    }
}

extension CheckoutV1.GetCheckoutRequest: RPCValidatable {
    /// Requires a non-empty key or checkout id.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT.
    public func validate() throws {
        switch lookup {
        case .idempotencyKey(let key)?:
            try FieldRules.text(key, field: "idempotency_key", max: FieldLimits.maxIdempotencyKeyLength, required: true)
        case .checkoutID(let id)?:
            guard let n = Int64(id), n > 0 else { throw CheckoutValidation.bad("checkout_id", "is not a checkout id") }
        case nil:
            throw CheckoutValidation.bad("lookup", "idempotency_key or checkout_id is required")
        }
    }
}
