import Foundation

/// Column names of a result set, shared by all its rows.
public final class MySQLColumns: Sendable {
    /// Column names (labels) in result order.
    public let names: [String]
    private let index: [String: Int]

    init(names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index[name] == nil {
            index[name] = i
            let lower = name.lowercased()
            if index[lower] == nil { index[lower] = i }
        }
        self.index = index
    }

    /// Position of a column; exact match first, then case-insensitive.
    /// - Parameter name: the column label.
    public func position(of name: String) -> Int? {
        index[name] ?? index[name.lowercased()]
    }
}

/// One row of a result set with typed accessors by column name or position.
///
/// Accessors throw `MySQLError` of kind `.decoding` when the column is missing, NULL (for non-optional
/// accessors), or holds a value that does not convert exactly. The `optional…` forms return nil for NULL.
public struct MySQLRow: Sendable {
    /// Column names of the result.
    public let columns: MySQLColumns
    /// Values in column order.
    public let values: [MySQLValue]

    /// Creates a row.
    /// - Parameters:
    ///   - columns: column names.
    ///   - values: values, one per column.
    public init(columns: MySQLColumns, values: [MySQLValue]) {
        self.columns = columns
        self.values = values
    }

    /// The raw value at a position.
    /// - Throws: `.decoding` when out of range.
    public func value(_ index: Int) throws -> MySQLValue {
        guard values.indices.contains(index) else {
            throw MySQLError(kind: .decoding, message: "column index \(index) out of range (\(values.count) columns)")
        }
        return values[index]
    }

    /// The raw value of a named column.
    /// - Throws: `.decoding` when there is no such column.
    public func value(_ name: String) throws -> MySQLValue {
        guard let i = columns.position(of: name) else {
            throw MySQLError(kind: .decoding, message: "no column named \(name)")
        }
        return values[i]
    }

    /// Whether the column is NULL.
    public func isNull(_ name: String) throws -> Bool { try value(name).isNull }
    /// Whether the column is NULL.
    public func isNull(_ index: Int) throws -> Bool { try value(index).isNull }

    private func label(_ index: Int) -> String {
        columns.names.indices.contains(index) ? columns.names[index] : "#\(index)"
    }

    private func fail(_ column: String, _ value: MySQLValue, _ type: String) -> MySQLError {
        MySQLError(kind: .decoding, message: "column \(column): cannot read \(Self.describe(value)) as \(type)")
    }

    private static func describe(_ value: MySQLValue) -> String {
        switch value {
        case .null: return "NULL"
        case .int64: return "int64"
        case .uint64: return "uint64"
        case .int32: return "int32"
        case .double: return "double"
        case .decimal: return "decimal"
        case .string: return "string"
        case .bytes: return "bytes"
        case .datetime: return "datetime"
        case .json: return "json"
        }
    }

    // MARK: Conversions (shared by name and index accessors)

    private func int64(_ v: MySQLValue, _ c: String) throws -> Int64 {
        switch v {
        case .int64(let x): return x
        case .int32(let x): return Int64(x)
        case .uint64(let x) where x <= UInt64(Int64.max): return Int64(x)
        case .decimal(let s): if let x = DecimalText.minorUnits(s, scale: 0) { return x }
        case .string(let s): if let x = Int64(s) { return x }
        default: break
        }
        throw fail(c, v, "Int64")
    }

    private func uint64(_ v: MySQLValue, _ c: String) throws -> UInt64 {
        switch v {
        case .uint64(let x): return x
        case .int64(let x) where x >= 0: return UInt64(x)
        case .int32(let x) where x >= 0: return UInt64(x)
        case .decimal(let s), .string(let s): if let x = UInt64(s) { return x }
        default: break
        }
        throw fail(c, v, "UInt64")
    }

    private func double(_ v: MySQLValue, _ c: String) throws -> Double {
        switch v {
        case .double(let x): return x
        case .int64(let x): return Double(x)
        case .int32(let x): return Double(x)
        case .uint64(let x): return Double(x)
        case .decimal(let s), .string(let s): if let x = Double(s) { return x }
        default: break
        }
        throw fail(c, v, "Double")
    }

    private func string(_ v: MySQLValue, _ c: String) throws -> String {
        switch v {
        case .string(let s), .decimal(let s), .json(let s): return s
        case .bytes(let b):
            if let s = String(validating: b, as: UTF8.self) { return s }
        case .int64(let x): return String(x)
        case .int32(let x): return String(x)
        case .uint64(let x): return String(x)
        default: break
        }
        throw fail(c, v, "String")
    }

    private func bytes(_ v: MySQLValue, _ c: String) throws -> [UInt8] {
        switch v {
        case .bytes(let b): return b
        case .string(let s), .json(let s), .decimal(let s): return Array(s.utf8)
        default: throw fail(c, v, "bytes")
        }
    }

    private func date(_ v: MySQLValue, _ c: String) throws -> Date {
        if case .datetime(let d) = v { return d }
        throw fail(c, v, "Date")
    }

    private func decimal(_ v: MySQLValue, _ c: String) throws -> String {
        switch v {
        case .decimal(let s), .string(let s): return s
        case .int64(let x): return String(x)
        case .int32(let x): return String(x)
        case .uint64(let x): return String(x)
        default: throw fail(c, v, "decimal")
        }
    }

    private func minorUnits(_ v: MySQLValue, _ c: String, _ scale: Int) throws -> Int64 {
        if let m = DecimalText.minorUnits(try decimal(v, c), scale: scale) { return m }
        throw fail(c, v, "minor units with scale \(scale)")
    }

    private func bool(_ v: MySQLValue, _ c: String) throws -> Bool {
        switch try int64(v, c) {
        case 0: return false
        default: return true
        }
    }

    // MARK: By name

    /// The column as Int64 (integers and integral decimals that fit).
    public func int64(_ name: String) throws -> Int64 { try int64(value(name), name) }
    /// The column as UInt64.
    public func uint64(_ name: String) throws -> UInt64 { try uint64(value(name), name) }
    /// The column as Int32 (throws when out of range).
    public func int32(_ name: String) throws -> Int32 {
        let v = try value(name)
        guard let x = Int32(exactly: try int64(v, name)) else { throw fail(name, v, "Int32") }
        return x
    }
    /// The column as Int.
    public func int(_ name: String) throws -> Int { Int(try int64(name)) }
    /// The column as Double.
    public func double(_ name: String) throws -> Double { try double(value(name), name) }
    /// The column as text (strings, JSON, decimals, integers, UTF-8 bytes).
    public func string(_ name: String) throws -> String { try string(value(name), name) }
    /// The column as bytes.
    public func bytes(_ name: String) throws -> [UInt8] { try bytes(value(name), name) }
    /// The column (DATETIME, TIMESTAMP, DATE) as a UTC `Date`.
    public func date(_ name: String) throws -> Date { try date(value(name), name) }
    /// The column (DECIMAL) as exact decimal text.
    public func decimal(_ name: String) throws -> String { try decimal(value(name), name) }
    /// The column (DECIMAL) as integer minor units, exact (throws when digits would be lost).
    /// - Parameters:
    ///   - name: column label.
    ///   - scale: digits after the decimal point in the minor unit (2 for cents).
    public func minorUnits(_ name: String, scale: Int) throws -> Int64 { try minorUnits(value(name), name, scale) }
    /// The column as JSON text.
    public func json(_ name: String) throws -> String { try string(value(name), name) }
    /// The column as Bool (nonzero is true).
    public func bool(_ name: String) throws -> Bool { try bool(value(name), name) }

    /// The column as Int64, or nil when NULL.
    public func optionalInt64(_ name: String) throws -> Int64? { try isNull(name) ? nil : int64(name) }
    /// The column as UInt64, or nil when NULL.
    public func optionalUInt64(_ name: String) throws -> UInt64? { try isNull(name) ? nil : uint64(name) }
    /// The column as text, or nil when NULL.
    public func optionalString(_ name: String) throws -> String? { try isNull(name) ? nil : string(name) }
    /// The column as bytes, or nil when NULL.
    public func optionalBytes(_ name: String) throws -> [UInt8]? { try isNull(name) ? nil : bytes(name) }
    /// The column as Date, or nil when NULL.
    public func optionalDate(_ name: String) throws -> Date? { try isNull(name) ? nil : date(name) }
    /// The column as Double, or nil when NULL.
    public func optionalDouble(_ name: String) throws -> Double? { try isNull(name) ? nil : double(name) }

    // MARK: By position

    /// The column at `index` as Int64.
    public func int64(_ index: Int) throws -> Int64 { try int64(value(index), label(index)) }
    /// The column at `index` as UInt64.
    public func uint64(_ index: Int) throws -> UInt64 { try uint64(value(index), label(index)) }
    /// The column at `index` as Int32.
    public func int32(_ index: Int) throws -> Int32 {
        let v = try value(index)
        guard let x = Int32(exactly: try int64(v, label(index))) else { throw fail(label(index), v, "Int32") }
        return x
    }
    /// The column at `index` as Int.
    public func int(_ index: Int) throws -> Int { Int(try int64(index)) }
    /// The column at `index` as Double.
    public func double(_ index: Int) throws -> Double { try double(value(index), label(index)) }
    /// The column at `index` as text.
    public func string(_ index: Int) throws -> String { try string(value(index), label(index)) }
    /// The column at `index` as bytes.
    public func bytes(_ index: Int) throws -> [UInt8] { try bytes(value(index), label(index)) }
    /// The column at `index` as Date.
    public func date(_ index: Int) throws -> Date { try date(value(index), label(index)) }
    /// The column at `index` as decimal text.
    public func decimal(_ index: Int) throws -> String { try decimal(value(index), label(index)) }
    /// The column at `index` as minor units.
    public func minorUnits(_ index: Int, scale: Int) throws -> Int64 {
        try minorUnits(value(index), label(index), scale)
    }
    /// The column at `index` as JSON text.
    public func json(_ index: Int) throws -> String { try string(value(index), label(index)) }
    /// The column at `index` as Bool.
    public func bool(_ index: Int) throws -> Bool { try bool(value(index), label(index)) }
    /// The column at `index` as Int64, or nil when NULL.
    public func optionalInt64(_ index: Int) throws -> Int64? { try isNull(index) ? nil : int64(index) }
    /// The column at `index` as text, or nil when NULL.
    public func optionalString(_ index: Int) throws -> String? { try isNull(index) ? nil : string(index) }
}

/// The outcome of a statement that returns no rows.
public struct MySQLExecuteResult: Sendable, Hashable {
    /// Rows changed (or matched, per server flags) by the statement.
    public var affectedRows: UInt64
    /// The AUTO_INCREMENT value generated by the statement, or 0.
    public var lastInsertId: UInt64
}
