import Foundation
import OMSRPCCore

/// Input checks shared by every RPC: each failure is 3 INVALID_ARGUMENT naming the field, raised
/// before anything is written.
public enum OrderValidation {
    /// Most lines in one order.
    public static let maxLines = 100
    /// Most units on one line.
    public static let maxQuantity: Int32 = 10_000
    /// Largest unit price accepted (minor units), so totals cannot overflow.
    public static let maxUnitPriceMinor: Int64 = 1_000_000_000_00
    /// Most bytes of a JSON document (metadata, address, attributes).
    public static let maxJSONBytes = 4096
    /// Most nesting of a JSON document.
    public static let maxJSONDepth = 8

    /// ISO 4217 codes accepted (active currencies).
    public static let currencies: Set<String> = [
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

    static func bad(_ field: String, _ why: String) -> RPCError {
        RPCError.invalidArgument("\(field): \(why)")
    }

    /// Checks a text field: valid UTF-8 (no U+FFFD left by a lossy decode), no control characters,
    /// length in characters within `1...maxLength` (or `0...` when `allowEmpty`).
    /// - Throws: `RPCError` 3.
    public static func text(_ value: String, field: String, maxLength: Int, allowEmpty: Bool = false) throws {
        if value.isEmpty {
            if allowEmpty { return }
            throw bad(field, "is required")
        }
        if value.unicodeScalars.count > maxLength {
            throw bad(field, "is longer than \(maxLength) characters")
        }
        for scalar in value.unicodeScalars {
            if scalar == "\u{FFFD}" { throw bad(field, "is not valid UTF-8") }
            if scalar.properties.generalCategory == .control, scalar != "\n", scalar != "\t" {
                throw bad(field, "contains control characters")
            }
        }
    }

    /// Checks an identifier: 1...`maxLength` of `[A-Za-z0-9._:-]`.
    /// - Throws: `RPCError` 3.
    public static func identifier(_ value: String, field: String, maxLength: Int = 128) throws {
        guard !value.isEmpty else { throw bad(field, "is required") }
        guard value.utf8.count <= maxLength else { throw bad(field, "is longer than \(maxLength) characters") }
        let ok = value.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E
                || b == 0x5F || b == 0x3A || b == 0x2D
        }
        guard ok else { throw bad(field, "may hold only letters, digits and . _ : -") }
    }

    /// Checks an ISO 4217 currency code.
    /// - Throws: `RPCError` 3.
    public static func currency(_ value: String, field: String = "currency") throws {
        guard currencies.contains(value) else { throw bad(field, "'\(value.prefix(8))' is not an ISO 4217 currency") }
    }

    /// Checks an e-mail address (shape only).
    /// - Throws: `RPCError` 3.
    public static func email(_ value: String, field: String) throws {
        try text(value, field: field, maxLength: 254)
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !value.contains(" ") else {
            throw bad(field, "is not an e-mail address")
        }
    }

    /// Parses a JSON document that must be an object; empty text counts as `{}`.
    /// - Returns: the object and its canonical text.
    /// - Throws: `RPCError` 3.
    public static func jsonObject(_ value: String, field: String) throws -> [String: Any] {
        if value.isEmpty { return [:] }
        try text(value, field: field, maxLength: maxJSONBytes)
        guard value.utf8.count <= maxJSONBytes else { throw bad(field, "is larger than \(maxJSONBytes) bytes") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(value.utf8), options: [])
        } catch {
            throw bad(field, "is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw bad(field, "must be a JSON object") }
        guard depth(object) <= maxJSONDepth else { throw bad(field, "is nested deeper than \(maxJSONDepth)") }
        return object
    }

    private static func depth(_ value: Any) -> Int {
        if let o = value as? [String: Any] { return 1 + (o.values.map(depth).max() ?? 0) }
        if let a = value as? [Any] { return 1 + (a.map(depth).max() ?? 0) }
        return 0
    }

    /// An optional string member of a JSON object: absent is fine, otherwise a short string.
    static func jsonString(_ object: [String: Any], _ key: String, field: String, maxLength: Int) throws {
        guard let v = object[key] else { return }
        guard let s = v as? String, !(v is NSNumber) else { throw bad("\(field).\(key)", "must be a string") }
        try text(s, field: "\(field).\(key)", maxLength: maxLength)
    }

    /// Checks a whole new order.
    /// - Throws: `RPCError` 3 naming the first bad field.
    public static func validate(_ order: NewOrder) throws {
        try identifier(order.checkoutID, field: "checkout_id")
        try identifier(order.customer.id, field: "customer.id", maxLength: 64)
        try text(order.customer.name, field: "customer.name", maxLength: 200)
        try email(order.customer.email, field: "customer.email")
        try currency(order.currency)
        guard !order.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        guard order.lines.count <= maxLines else { throw bad("lines", "more than \(maxLines) lines") }
        for (i, line) in order.lines.enumerated() {
            let f = "lines[\(i)]"
            try identifier(line.sku, field: "\(f).sku", maxLength: 64)
            try text(line.productName, field: "\(f).product_name", maxLength: 200)
            guard line.quantity > 0, line.quantity <= maxQuantity else {
                throw bad("\(f).quantity", "must be in 1...\(maxQuantity)")
            }
            guard line.unitPriceMinor >= 0 else { throw bad("\(f).unit_price", "must not be negative") }
            guard line.unitPriceMinor <= maxUnitPriceMinor else { throw bad("\(f).unit_price", "is too large") }
            let attributes = try jsonObject(line.attributesJSON, field: "\(f).attributes_json")
            try jsonString(attributes, "size", field: "\(f).attributes_json", maxLength: 32)
            try jsonString(attributes, "colour", field: "\(f).attributes_json", maxLength: 32)
            try jsonString(attributes, "engraving", field: "\(f).attributes_json", maxLength: 200)
        }
        guard order.totalMinor != nil else { throw bad("lines", "the total overflows") }
        let address = try jsonObject(order.shippingAddressJSON, field: "shipping_address_json")
        guard !address.isEmpty else { throw bad("shipping_address_json", "is required") }
        let metadata = try jsonObject(order.metadataJSON, field: "metadata_json")
        if metadata["gift"] != nil {
            struct GiftProbe: Decodable { var gift: Bool? }
            guard (try? JSONDecoder().decode(GiftProbe.self, from: Data(order.metadataJSON.utf8))) != nil else {
                throw bad("metadata_json.gift", "must be true or false")
            }
        }
        try jsonString(metadata, "delivery_preference", field: "metadata_json", maxLength: 32)
        try jsonString(metadata, "gift_message", field: "metadata_json", maxLength: 500)
    }

    /// Checks a return request.
    /// - Throws: `RPCError` 3.
    public static func validate(_ request: ReturnRequest) throws {
        guard request.orderID > 0 else { throw bad("order_id", "is required") }
        try identifier(request.requestKey, field: "request_key")
        try text(request.reason, field: "reason", maxLength: 500, allowEmpty: true)
        guard !request.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        guard request.lines.count <= maxLines else { throw bad("lines", "more than \(maxLines) lines") }
        var seen = Set<Int>()
        for (i, line) in request.lines.enumerated() {
            guard line.lineNo >= 1, line.lineNo <= maxLines else { throw bad("lines[\(i)].line_no", "is out of range") }
            guard seen.insert(line.lineNo).inserted else { throw bad("lines[\(i)].line_no", "appears twice") }
            guard line.quantity > 0, line.quantity <= Int(maxQuantity) else {
                throw bad("lines[\(i)].quantity", "must be in 1...\(maxQuantity)")
            }
        }
    }

    /// Checks a shipment report.
    /// - Throws: `RPCError` 3.
    public static func validate(_ report: ShipmentReport) throws {
        guard report.orderID > 0 else { throw bad("order_id", "is required") }
        try identifier(report.shipmentID, field: "shipment_id")
        if report.kind == .shipped, report.lines.isEmpty { throw bad("lines", "a shipment needs at least one line") }
        guard report.lines.count <= maxLines else { throw bad("lines", "more than \(maxLines) lines") }
        var seen = Set<Int>()
        for (i, line) in report.lines.enumerated() {
            guard line.lineNo >= 1, line.lineNo <= maxLines else { throw bad("lines[\(i)].line_no", "is out of range") }
            guard seen.insert(line.lineNo).inserted else { throw bad("lines[\(i)].line_no", "appears twice") }
            guard line.quantity > 0, line.quantity <= Int(maxQuantity) else {
                throw bad("lines[\(i)].quantity", "must be in 1...\(maxQuantity)")
            }
        }
    }

    /// Checks search filters.
    /// - Throws: `RPCError` 3.
    public static func validate(_ query: OrderSearchQuery) throws {
        try text(query.text, field: "query", maxLength: 200, allowEmpty: true)
        guard (1...100).contains(query.limit) else { throw bad("limit", "must be in 1...100") }
        if let p = query.deliveryPreference { try text(p, field: "delivery_preference", maxLength: 32) }
        if let c = query.itemColour { try text(c, field: "item_colour", maxLength: 32) }
        if let s = query.itemSize { try text(s, field: "item_size", maxLength: 32) }
        if let from = query.createdFrom, let before = query.createdBefore, from >= before {
            throw bad("created_from", "must be before created_before")
        }
    }
}
