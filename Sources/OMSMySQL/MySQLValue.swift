import Foundation
import OMSCore

/// A value bound to a statement parameter or read from a result column (binary protocol).
///
/// Bound values always travel as typed parameters; they are never written into SQL text.
public enum MySQLValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A signed 64-bit integer (BIGINT).
    case int64(Int64)
    /// An unsigned 64-bit integer (BIGINT UNSIGNED).
    case uint64(UInt64)
    /// A signed 32-bit integer (INT).
    case int32(Int32)
    /// A double-precision float (DOUBLE).
    case double(Double)
    /// An exact decimal in its text form, e.g. `"-12.50"` (DECIMAL). See `decimal(minorUnits:scale:)`.
    case decimal(String)
    /// Text (UTF-8; may hold NUL characters).
    case string(String)
    /// Raw bytes (BLOB, VARBINARY, BINARY).
    case bytes([UInt8])
    /// A point in time, sent and read as a DATETIME/TIMESTAMP in UTC with microsecond precision (DATE reads as
    /// midnight UTC). Sessions run with `time_zone = '+00:00'`.
    case datetime(Date)
    /// JSON document text.
    case json(String)

    /// A decimal from an integer count of minor units: `decimal(minorUnits: -1250, scale: 2)` is `-12.50`.
    /// - Parameters:
    ///   - minorUnits: the amount in minor units.
    ///   - scale: digits after the decimal point (0...30).
    public static func decimal(minorUnits: Int64, scale: Int) -> MySQLValue {
        .decimal(DecimalText.format(minorUnits: minorUnits, scale: scale))
    }

    /// A boolean as TINYINT 0/1.
    /// - Parameter value: the boolean.
    public static func bool(_ value: Bool) -> MySQLValue { .int32(value ? 1 : 0) }

    /// `.null` when `value` is nil, else `transform(value)`.
    /// - Parameters:
    ///   - value: an optional.
    ///   - transform: how to bind a present value.
    public static func optional<T>(_ value: T?, _ transform: (T) -> MySQLValue) -> MySQLValue {
        value.map(transform) ?? .null
    }

    /// Whether this is `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension MySQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral,
    ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// Exact conversions between decimal text and integer minor units.
enum DecimalText {
    static func format(minorUnits: Int64, scale: Int) -> String {
        let negative = minorUnits < 0
        var digits = String(minorUnits.magnitude)
        guard scale > 0 else { return (negative ? "-" : "") + digits }
        if digits.count <= scale {
            digits = String(repeating: "0", count: scale - digits.count + 1) + digits
        }
        let split = digits.index(digits.endIndex, offsetBy: -scale)
        return (negative ? "-" : "") + digits[..<split] + "." + digits[split...]
    }

    /// Parses `[-+]digits[.digits]` into minor units; nil when the text has more fractional digits than
    /// `scale` that are not zero, or overflows.
    static func minorUnits(_ text: String, scale: Int) -> Int64? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if s.first == "-" {
            negative = true
            s = s.dropFirst()
        } else if s.first == "+" {
            s = s.dropFirst()
        }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let intPart = parts.first, !(intPart.isEmpty && parts.count == 1) else { return nil }
        var frac = parts.count > 1 ? parts[1] : ""
        guard intPart.allSatisfy(\.isASCIIDigitOMS), frac.allSatisfy(\.isASCIIDigitOMS) else { return nil }
        while frac.count > scale {
            guard frac.last == "0" else { return nil }
            frac = frac.dropLast()
        }
        let padded = String(intPart) + frac + String(repeating: "0", count: scale - frac.count)
        guard let magnitude = UInt64(padded.isEmpty ? "0" : padded) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}

extension Character {
    fileprivate var isASCIIDigitOMS: Bool { ("0"..."9").contains(self) }
}

extension MySQLValue {
    /// The instant a `DATETIME(6)` column gives back for `date` (whole microseconds): lets a writer
    /// answer with what it wrote without reading the row again.
    public static func storedDatetime(_ date: Date) -> Date {
        CivilTime.date(CivilTime.components(of: date))
    }
}

/// Proleptic Gregorian calendar arithmetic in UTC (days since 1970-01-01), without Foundation calendars.
enum CivilTime {
    struct Components: Equatable {
        var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microsecond: Int
    }

    static func components(of date: Date) -> Components {
        let micros = date.unixMicroseconds
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rem = micros % perDay
        if rem < 0 {
            rem += perDay
            days -= 1
        }
        let (y, m, d) = civil(fromDays: days)
        let secs = rem / 1_000_000
        return Components(
            year: y, month: m, day: d, hour: Int(secs / 3600), minute: Int(secs / 60 % 60), second: Int(secs % 60),
            microsecond: Int(rem % 1_000_000))
    }

    static func date(_ c: Components) -> Date {
        let days = daysFromCivil(year: c.year, month: c.month, day: c.day)
        let micros =
            days * 86_400_000_000 + Int64(c.hour * 3600 + c.minute * 60 + c.second) * 1_000_000 + Int64(c.microsecond)
        return Date(unixMicroseconds: micros)
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}
