import Foundation
import OMSAPI
import OMSRPCCore

/// The limits of the types every service shares (docs/protocol.md, "Shared field limits"). Checkout
/// checks a PlaceOrder against these same numbers before it records anything, so a field that
/// checkout accepts is never refused by inventory, orders or payments afterwards. Each limit fits
/// the narrowest column that stores the field.
public enum FieldLimits {
    /// SKUs (inventory's products, order lines, shipment lines).
    public static let maxSKULength = 64
    /// Customer ids.
    public static let maxCustomerIDLength = 64
    /// Ids a caller chooses (checkout ids, request and return keys, shipment references).
    public static let maxIdentifierLength = 128
    /// Idempotency keys of PlaceOrder and Authorize.
    public static let maxIdempotencyKeyLength = 255
    /// Names of people and products, and address lines.
    public static let maxNameLength = 200
    /// E-mail addresses (RFC 5321's path limit).
    public static let maxEmailLength = 254
    /// Address: city and region.
    public static let maxCityLength = 100
    public static let maxRegionLength = 100
    /// Address: postal code.
    public static let maxPostalCodeLength = 20
    /// Address: phone.
    public static let maxPhoneLength = 40
    /// Lines in one order (and so in one checkout and one reservation).
    public static let maxLines = 100
    /// Units on one line.
    public static let maxLineQuantity: Int64 = 10_000
    /// Largest unit price in minor units, so that line totals cannot overflow.
    public static let maxUnitPriceMinor: Int64 = 100_000_000_00
    /// Bytes of one JSON document (order metadata, line attributes, the stored address).
    public static let maxJSONBytes = 4096
    /// Nesting of one JSON document.
    public static let maxJSONDepth = 8
    /// Order metadata members the read model indexes.
    public static let maxDeliveryPreferenceLength = 32
    public static let maxGiftMessageLength = 500
    /// Line attribute members the read model indexes.
    public static let maxAttributeLength = 32
    public static let maxEngravingLength = 200
}

/// Checks of the shared types. Every failure is 3 INVALID_ARGUMENT with the message
/// `<field>: <problem>`, raised before anything is written; a value is never echoed back when it
/// may be a secret.
public enum FieldRules {
    /// The error for one bad field.
    public static func invalid(_ field: String, _ problem: String) -> RPCError {
        RPCError(.invalidArgument, "\(field): \(problem)")
    }

    /// Text: at most `max` characters (Unicode scalars, as a VARCHAR counts them), no control
    /// characters (line breaks and tabs only where `multiline`), no U+FFFD left by a lossy decode.
    /// - Throws: 3 when `required` and empty, too long, or holding a forbidden character.
    public static func text(
        _ value: String, field: String, max: Int, required: Bool = false, multiline: Bool = false
    ) throws(RPCError) {
        if value.isEmpty {
            if required { throw invalid(field, "is required") }
            return
        }
        if value.unicodeScalars.count > max { throw invalid(field, "is longer than \(max) characters") }
        for scalar in value.unicodeScalars {
            if scalar == "\u{FFFD}" { throw invalid(field, "is not valid UTF-8") }
            if scalar.properties.generalCategory == .control, !(multiline && (scalar == "\n" || scalar == "\t")) {
                throw invalid(field, "contains control characters")
            }
        }
    }

    /// An id a caller chooses: 1...`max` of `[A-Za-z0-9._:-]`.
    /// - Throws: 3.
    public static func identifier(
        _ value: String, field: String, max: Int = FieldLimits.maxIdentifierLength
    ) throws(RPCError) {
        guard !value.isEmpty else { throw invalid(field, "is required") }
        guard value.utf8.count <= max else { throw invalid(field, "is longer than \(max) characters") }
        guard value.utf8.allSatisfy(isIdentifierByte) else {
            throw invalid(field, "may hold only letters, digits and . _ : -")
        }
    }

    /// A SKU: 1...64 ASCII letters, digits and `-_.:/` (safe inside Redis hash tags and ASCII columns).
    /// - Throws: 3.
    public static func sku(_ value: String, field: String) throws(RPCError) {
        guard !value.isEmpty else { throw invalid(field, "is required") }
        guard value.utf8.count <= FieldLimits.maxSKULength else {
            throw invalid(field, "is longer than \(FieldLimits.maxSKULength) characters")
        }
        guard value.utf8.allSatisfy({ isIdentifierByte($0) || $0 == UInt8(ascii: "/") }) else {
            throw invalid(field, "may hold only ASCII letters, digits and - _ . : /")
        }
    }

    /// Units on one line: 1...`FieldLimits.maxLineQuantity`.
    /// - Throws: 3.
    public static func quantity(_ value: Int64, field: String) throws(RPCError) {
        guard (1...FieldLimits.maxLineQuantity).contains(value) else {
            throw invalid(field, "must be in 1...\(FieldLimits.maxLineQuantity)")
        }
    }

    /// An ISO 4217 code of an active currency.
    /// - Throws: 3.
    public static func currency(_ value: String, field: String) throws(RPCError) {
        guard ISO4217.codes.contains(value) else {
            throw invalid(field, "'\(value.prefix(8))' is not an ISO 4217 currency")
        }
    }

    /// An amount: present, a known currency, and within `range` minor units.
    /// - Returns: the amount.
    /// - Throws: 3.
    @discardableResult
    public static func money(
        _ value: CommonV1.Money?, field: String, range: ClosedRange<Int64> = 0...FieldLimits.maxUnitPriceMinor
    ) throws(RPCError) -> CommonV1.Money {
        guard let value else { throw invalid(field, "is required") }
        try currency(value.currency, field: "\(field).currency")
        guard range.contains(value.amountMinor) else {
            throw invalid("\(field).amount_minor", "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// An e-mail address (shape only); empty is allowed unless `required`.
    /// - Throws: 3.
    public static func email(_ value: String, field: String, required: Bool = false) throws(RPCError) {
        try text(value, field: field, max: FieldLimits.maxEmailLength, required: required)
        guard !value.isEmpty else { return }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !value.contains(" ") else {
            throw invalid(field, "is not an e-mail address")
        }
    }

    /// Who orders: an id, an optional name and an optional e-mail address.
    /// - Throws: 3 naming the sub-field.
    public static func customer(_ value: CommonV1.Customer?, field: String = "customer") throws(RPCError) {
        guard let value else { throw invalid(field, "is required") }
        try customer(id: value.customerID, name: value.name, email: value.email, field: field)
    }

    /// The customer's fields, wherever they are carried.
    /// - Throws: 3 naming the sub-field.
    public static func customer(id: String, name: String, email: String, field: String = "customer") throws(RPCError) {
        try identifier(id, field: "\(field).customer_id", max: FieldLimits.maxCustomerIDLength)
        try text(name, field: "\(field).name", max: FieldLimits.maxNameLength)
        try self.email(email, field: "\(field).email")
    }

    /// A postal address: name, line 1 and city required, an ISO 3166-1 alpha-2 country.
    /// - Throws: 3 naming the sub-field.
    public static func address(_ value: CommonV1.Address?, field: String = "shipping_address") throws(RPCError) {
        guard let a = value else { throw invalid(field, "is required") }
        try text(a.name, field: "\(field).name", max: FieldLimits.maxNameLength, required: true)
        try text(a.line1, field: "\(field).line1", max: FieldLimits.maxNameLength, required: true)
        try text(a.line2, field: "\(field).line2", max: FieldLimits.maxNameLength)
        try text(a.city, field: "\(field).city", max: FieldLimits.maxCityLength, required: true)
        try text(a.region, field: "\(field).region", max: FieldLimits.maxRegionLength)
        try text(a.postalCode, field: "\(field).postal_code", max: FieldLimits.maxPostalCodeLength)
        guard a.country.utf8.count == 2, a.country.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
            throw invalid("\(field).country", "must be an ISO 3166-1 alpha-2 code")
        }
        try text(a.phone, field: "\(field).phone", max: FieldLimits.maxPhoneLength)
    }

    /// A JSON document that must be an object, within `FieldLimits.maxJSONBytes` and
    /// `FieldLimits.maxJSONDepth`; empty text counts as `{}`.
    /// - Returns: the parsed object.
    /// - Throws: 3.
    public static func jsonObject(_ value: String, field: String) throws(RPCError) -> [String: Any] {
        if value.isEmpty { return [:] }
        guard value.utf8.count <= FieldLimits.maxJSONBytes else {
            throw invalid(field, "is larger than \(FieldLimits.maxJSONBytes) bytes")
        }
        guard !value.unicodeScalars.contains("\u{0}"),
            let parsed = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [])
        else { throw invalid(field, "is not valid JSON") }
        guard let object = parsed as? [String: Any] else { throw invalid(field, "must be a JSON object") }
        guard depth(object) <= FieldLimits.maxJSONDepth else {
            throw invalid(field, "is nested deeper than \(FieldLimits.maxJSONDepth)")
        }
        return object
    }

    /// An order line's attributes: a JSON object whose indexed members (`size`, `colour`,
    /// `engraving`), when present, are short strings.
    /// - Throws: 3.
    public static func lineAttributes(_ value: String, field: String) throws(RPCError) {
        let object = try jsonObject(value, field: field)
        try member(object, "size", field: field, max: FieldLimits.maxAttributeLength)
        try member(object, "colour", field: field, max: FieldLimits.maxAttributeLength)
        try member(object, "engraving", field: field, max: FieldLimits.maxEngravingLength)
    }

    /// An order's metadata: a JSON object whose indexed members (`gift` a Boolean,
    /// `delivery_preference` and `gift_message` short strings), when present, have their types.
    /// - Throws: 3.
    public static func orderMetadata(_ value: String, field: String) throws(RPCError) {
        let object = try jsonObject(value, field: field)
        if object["gift"] != nil {
            // JSONSerialization reads true, false, 0 and 1 alike as NSNumber; the decoder tells them apart.
            struct GiftProbe: Decodable { var gift: Bool? }
            guard (try? JSONDecoder().decode(GiftProbe.self, from: Data(value.utf8))) != nil else {
                throw invalid("\(field).gift", "must be true or false")
            }
        }
        try member(object, "delivery_preference", field: field, max: FieldLimits.maxDeliveryPreferenceLength)
        try member(object, "gift_message", field: field, max: FieldLimits.maxGiftMessageLength, multiline: true)
    }

    /// An optional string member of a JSON object.
    static func member(
        _ object: [String: Any], _ key: String, field: String, max: Int, multiline: Bool = false
    ) throws(RPCError) {
        guard let value = object[key] else { return }
        guard let string = value as? String, !(value is NSNumber) else { throw invalid("\(field).\(key)", "must be a string") }
        try text(string, field: "\(field).\(key)", max: max, multiline: multiline)
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
            UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private static func depth(_ value: Any) -> Int {
        if let o = value as? [String: Any] { return 1 + (o.values.map(depth).max() ?? 0) }
        if let a = value as? [Any] { return 1 + (a.map(depth).max() ?? 0) }
        return 0
    }
}

/// Active ISO 4217 currency codes.
public enum ISO4217 {
    public static let codes: Set<String> = [
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
        "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
        "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
        "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
        "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
        "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
        "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
        "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
        "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
        "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF",
        "XPF", "YER", "ZAR", "ZMW", "ZWL",
    ]
}
