import Foundation
import OMSAPI
import OMSCore

/// A JSON document built by hand from the generated message types (which are not Codable), rendered with
/// JSONSerialization (sorted keys).
indirect enum JSON {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])
    /// Already-parsed JSON (from a `*_json` field).
    case parsed(Any)

    var any: Any {
        switch self {
        case .string(let s): s
        case .int(let i): i
        case .double(let d): d
        case .bool(let b): b
        case .null: NSNull()
        case .array(let a): a.map(\.any)
        case .object(let fields): Dictionary(fields.map { ($0.0, $0.1.any) }, uniquingKeysWith: { a, _ in a })
        case .parsed(let any): any
        }
    }

    /// The JSON text of a `*_json` field embedded as JSON when it parses, else as a string.
    static func embedded(_ text: String) -> JSON {
        guard !text.isEmpty else { return .null }
        guard let data = text.data(using: .utf8),
            let any = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { return .string(text) }
        return .parsed(any)
    }

    func render() -> String {
        let value = any
        guard JSONSerialization.isValidJSONObject(value) || value is [Any] || value is [String: Any],
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Plain-text output.
enum Out {
    static func print(_ text: String) {
        Swift.print(text)
    }

    static func emit(_ json: JSON, asJSON: Bool, text: () -> String) {
        Swift.print(asJSON ? json.render() : text())
    }

    /// Aligned columns with a header row.
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        var widths = headers.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        var out = [line(headers), line(widths.map { String(repeating: "-", count: $0) })]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }

    /// `key  value` lines.
    static func fields(_ pairs: [(String, String)]) -> String {
        let w = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static let zeroDecimalCurrencies: Set<String> = ["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG"]

    /// `12.50 USD`.
    static func money(_ m: CommonV1.Money?) -> String {
        guard let m else { return "-" }
        if zeroDecimalCurrencies.contains(m.currency) { return "\(m.amountMinor) \(m.currency)" }
        let sign = m.amountMinor < 0 ? "-" : ""
        let a = m.amountMinor.magnitude
        let cents = a % 100
        return "\(sign)\(a / 100).\(cents < 10 ? "0" : "")\(cents) \(m.currency)"
    }

    static func moneyJSON(_ m: CommonV1.Money?) -> JSON {
        guard let m else { return .null }
        return .object([("amount_minor", .int(m.amountMinor)), ("currency", .string(m.currency))])
    }

    /// ISO 8601 of unix microseconds (empty for 0).
    static func time(_ us: Int64) -> String {
        guard us != 0 else { return "-" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(unixMicroseconds: us))
    }

    /// The case name of a generated enum (`confirmed`, `pendingPayment`).
    static func name<T>(_ value: T) -> String {
        String(describing: value)
    }
}
