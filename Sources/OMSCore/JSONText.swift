import Foundation

/// JSON texts as the services store them.
///
/// `quoted` and `object` write small texts (strings and flat objects of strings) without Foundation's
/// encoders: `JSONEncoder` and `JSONSerialization` cost tens of microseconds per call on Linux; the services
/// write a few one- or two-key detail objects per request (checkout log rows, order and payment events),
/// where that cost showed up in profiles. Output is RFC 8259 JSON; keys are written in ascending order, like
/// `.sortedKeys`. `encode` and `decode` are for `Codable` payloads; `parseObject` reads stored JSON whose
/// shape is not fixed (request validation uses `FieldRules.jsonObject` instead, which also bounds size and
/// depth).
public enum JSONText {
    /// `s` as a JSON string literal, quotes included. Escapes `"`, `\` and every control
    /// character (U+0000–U+001F); everything else is written as is (UTF-8).
    /// - Parameter s: the text.
    /// - Returns: the literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// A JSON object of string values, keys in ascending order.
    /// - Parameter values: the members.
    /// - Returns: the object text (`{}` when empty).
    public static func object(_ values: [String: String]) -> String {
        var out = "{"
        for (i, key) in values.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            out += quoted(key) + ":" + quoted(values[key]!)
        }
        return out + "}"
    }

    /// `value` as compact JSON with sorted keys and unescaped slashes.
    /// - Parameter value: the value to encode.
    /// - Returns: the JSON text.
    /// - Throws: `EncodingError` when `value` cannot be encoded.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A `T` decoded from the JSON text `text`.
    /// - Parameters:
    ///   - type: the type to decode.
    ///   - text: the JSON text.
    /// - Returns: the decoded value.
    /// - Throws: `DecodingError` when `text` is not JSON of that shape.
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// The members of `text` when it is a JSON object, else `nil` (not JSON, or another JSON value).
    /// - Parameter text: the JSON text.
    /// - Returns: the object's members, as `JSONSerialization` reads them.
    public static func parseObject(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}
