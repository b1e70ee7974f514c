/// Small JSON texts (strings and flat objects of strings) written without Foundation's encoders.
///
/// `JSONEncoder` and `JSONSerialization` cost tens of microseconds per call on Linux; the services
/// write a few one- or two-key detail objects per request (checkout log rows, order and payment
/// events), where that cost showed up in profiles. Output is RFC 8259 JSON; keys are written in
/// ascending order, like `.sortedKeys`.
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
}
