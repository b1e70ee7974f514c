import CMySQLClient
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `mysql_library_init` exactly once per process (Swift globals initialise once, thread-safely).
let mysqlLibraryInitialized: Bool = {
    // The connector writes to sockets the server may have closed; never die of SIGPIPE for it.
    signal(SIGPIPE, SIG_IGN)
    return mysql_server_init(0, nil, nil) == 0
}()

/// Owns one `MYSQL*`; closes it in deinit.
///
/// Not Sendable: it is created, used and released on its connection's worker thread only.
final class MySQLConnectionHandle {
    let mysql: UnsafeMutablePointer<MYSQL>

    init() throws {
        guard let mysql = mysql_init(nil) else {
            throw MySQLError(kind: .other, message: "mysql_init failed (out of memory)")
        }
        self.mysql = mysql
    }

    deinit {
        mysql_close(mysql)
    }

    var lastError: MySQLError {
        MySQLError(
            number: mysql_errno(mysql), sqlState: String(cString: mysql_sqlstate(mysql)),
            message: String(cString: mysql_error(mysql)))
    }
}

/// Owns one `MYSQL_STMT*`; closes it in deinit. Keeps its connection handle alive because a statement must be
/// closed before the connection it belongs to.
final class MySQLStatementHandle {
    let stmt: UnsafeMutablePointer<MYSQL_STMT>
    let connection: MySQLConnectionHandle
    var parameterCount = 0
    /// Shape of the first result set, kept across executions (the server re-prepares after DDL; a changed
    /// column count rebuilds it).
    var resultColumns: MySQLColumns?
    var resultBuffers: MySQLResultBuffers?

    init(connection: MySQLConnectionHandle) throws {
        guard let stmt = mysql_stmt_init(connection.mysql) else { throw connection.lastError }
        self.stmt = stmt
        self.connection = connection
    }

    deinit {
        mysql_stmt_close(stmt)
    }

    var lastError: MySQLError {
        MySQLError(
            number: mysql_stmt_errno(stmt), sqlState: String(cString: mysql_stmt_sqlstate(stmt)),
            message: String(cString: mysql_stmt_error(stmt)))
    }
}

/// Parameter buffers for one execution, in one allocation freed in deinit (after `mysql_stmt_execute` returned).
final class MySQLParameterBuffers {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private let count: Int
    private let arena: UnsafeMutableRawPointer
    private var used = 0

    init(_ values: [MySQLValue]) {
        count = max(values.count, 1)
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        var size = 0
        for v in values { size += Self.storage(for: v) }
        arena = .allocate(byteCount: max(size, 8), alignment: 16)
        for (i, v) in values.enumerated() { set(i, v) }
    }

    deinit {
        arena.deallocate()
        binds.deinitialize(count: count)
        binds.deallocate()
    }

    private static func aligned(_ n: Int) -> Int { (n + 15) & ~15 }

    /// Bytes of arena a value needs (payload and, for variable-length values, its length word).
    private static func storage(for value: MySQLValue) -> Int {
        switch value {
        case .null: return 0
        case .int64, .uint64, .int32, .double: return 16
        case .datetime: return aligned(MemoryLayout<MYSQL_TIME>.size)
        // `take` hands out at least one aligned slot even for an empty value; 16 is the length word.
        case .decimal(let s), .string(let s), .json(let s): return aligned(max(s.utf8.count, 1)) + 16
        case .bytes(let b): return aligned(max(b.count, 1)) + 16
        }
    }

    private func take(_ size: Int) -> UnsafeMutableRawPointer {
        let p = arena + used
        used += Self.aligned(max(size, 1))
        return p
    }

    private func setScalar<T>(_ i: Int, _ value: T, _ type: enum_field_types, unsigned: Bool = false) {
        let p = take(MemoryLayout<T>.size)
        p.storeBytes(of: value, as: T.self)
        binds[i].buffer = p
        binds[i].buffer_type = type
        binds[i].is_unsigned = unsigned ? 1 : 0
    }

    private func setBytes<C: Collection>(_ i: Int, _ bytes: C, _ type: enum_field_types) where C.Element == UInt8 {
        let n = bytes.count
        let length = take(MemoryLayout<UInt>.size).bindMemory(to: UInt.self, capacity: 1)
        length.pointee = UInt(n)
        let p = take(n)
        UnsafeMutableRawBufferPointer(start: p, count: n).copyBytes(from: bytes)
        binds[i].buffer = p
        binds[i].buffer_length = UInt(n)
        binds[i].length = length
        binds[i].buffer_type = type
    }

    private func set(_ i: Int, _ value: MySQLValue) {
        switch value {
        case .null: binds[i].buffer_type = MYSQL_TYPE_NULL
        case .int64(let x): setScalar(i, x, MYSQL_TYPE_LONGLONG)
        case .uint64(let x): setScalar(i, x, MYSQL_TYPE_LONGLONG, unsigned: true)
        case .int32(let x): setScalar(i, x, MYSQL_TYPE_LONG)
        case .double(let x): setScalar(i, x, MYSQL_TYPE_DOUBLE)
        case .decimal(let s): setBytes(i, s.utf8, MYSQL_TYPE_NEWDECIMAL)
        case .string(let s), .json(let s): setBytes(i, s.utf8, MYSQL_TYPE_STRING)
        case .bytes(let b): setBytes(i, b, MYSQL_TYPE_BLOB)
        case .datetime(let d):
            let c = CivilTime.components(of: d)
            var t = MYSQL_TIME()
            t.year = UInt32(clamping: c.year)
            t.month = UInt32(c.month)
            t.day = UInt32(c.day)
            t.hour = UInt32(c.hour)
            t.minute = UInt32(c.minute)
            t.second = UInt32(c.second)
            t.second_part = UInt(c.microsecond)
            t.time_type = MYSQL_TIMESTAMP_DATETIME
            setScalar(i, t, MYSQL_TYPE_DATETIME)
        }
    }
}

/// How a result column is fetched and turned into a `MySQLValue`.
enum MySQLColumnKind {
    case signed, unsigned, double, decimal, text, bytes, json, time, null

    init(field: MYSQL_FIELD) {
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24,
            MYSQL_TYPE_YEAR:
            self = (field.flags & UInt32(UNSIGNED_FLAG)) != 0 ? .unsigned : .signed
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE: self = .double
        case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL: self = .decimal
        case MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_NEWDATE, MYSQL_TYPE_DATETIME2,
            MYSQL_TYPE_TIMESTAMP2:
            self = .time
        case MYSQL_TYPE_JSON: self = .json
        case MYSQL_TYPE_BIT: self = .bytes
        case MYSQL_TYPE_NULL: self = .null
        default: self = field.charsetnr == 63 ? .bytes : .text
        }
    }
}

/// Result buffers for one result set; freed in deinit.
final class MySQLResultBuffers {
    let count: Int
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    let kinds: [MySQLColumnKind]
    let isNull: UnsafeMutablePointer<CChar>
    let lengths: UnsafeMutablePointer<UInt>
    let errors: UnsafeMutablePointer<CChar>
    private var buffers: [UnsafeMutableRawPointer]

    init(fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) {
        self.count = count
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        isNull = .allocate(capacity: count)
        isNull.initialize(repeating: 0, count: count)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        errors = .allocate(capacity: count)
        errors.initialize(repeating: 0, count: count)
        var kinds: [MySQLColumnKind] = []
        var buffers: [UnsafeMutableRawPointer] = []
        kinds.reserveCapacity(count)
        buffers.reserveCapacity(count)
        for i in 0..<count {
            let kind = MySQLColumnKind(field: fields[i])
            kinds.append(kind)
            let size: Int
            switch kind {
            case .signed, .unsigned:
                size = 8
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                binds[i].is_unsigned = kind == .unsigned ? 1 : 0
            case .double:
                size = 8
                binds[i].buffer_type = MYSQL_TYPE_DOUBLE
            case .time:
                size = MemoryLayout<MYSQL_TIME>.size
                binds[i].buffer_type = MYSQL_TYPE_DATETIME
            case .null:
                size = 8
                binds[i].buffer_type = MYSQL_TYPE_NULL
            case .bytes:
                size = Int(min(max(UInt(fields[i].length), 16), 2048))
                binds[i].buffer_type = MYSQL_TYPE_BLOB
            case .decimal, .text, .json:
                size = Int(min(max(UInt(fields[i].length), 16), 2048))
                binds[i].buffer_type = MYSQL_TYPE_STRING
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            buffers.append(buffer)
            binds[i].buffer = buffer
            binds[i].buffer_length = UInt(size)
            binds[i].is_null = isNull + i
            binds[i].length = lengths + i
            binds[i].error = errors + i
        }
        self.kinds = kinds
        self.buffers = buffers
    }

    deinit {
        for b in buffers { b.deallocate() }
        binds.deinitialize(count: count)
        binds.deallocate()
        isNull.deallocate()
        lengths.deallocate()
        errors.deallocate()
    }

    /// Decodes the current row; refetches columns whose value did not fit the buffer.
    func row(stmt: UnsafeMutablePointer<MYSQL_STMT>) throws -> [MySQLValue] {
        var values: [MySQLValue] = []
        values.reserveCapacity(count)
        for i in 0..<count {
            if isNull[i] != 0 {
                values.append(.null)
                continue
            }
            let buffer = buffers[i]
            switch kinds[i] {
            case .signed: values.append(.int64(buffer.load(as: Int64.self)))
            case .unsigned: values.append(.uint64(buffer.load(as: UInt64.self)))
            case .double: values.append(.double(buffer.load(as: Double.self)))
            case .null: values.append(.null)
            case .time:
                let t = buffer.load(as: MYSQL_TIME.self)
                if t.month == 0 || t.day == 0 {
                    values.append(.null)  // zero date
                } else {
                    let c = CivilTime.Components(
                        year: Int(t.year), month: Int(t.month), day: Int(t.day), hour: Int(t.hour),
                        minute: Int(t.minute), second: Int(t.second), microsecond: Int(t.second_part))
                    values.append(.datetime(CivilTime.date(c)))
                }
            case .bytes, .decimal, .text, .json:
                let length = Int(lengths[i])
                var bytes: [UInt8]
                if length <= Int(binds[i].buffer_length) {
                    bytes = Array(UnsafeRawBufferPointer(start: buffer, count: length))
                } else {
                    bytes = [UInt8](repeating: 0, count: length)
                    var column = binds[i]
                    let rc = bytes.withUnsafeMutableBytes { raw -> Int32 in
                        column.buffer = raw.baseAddress
                        column.buffer_length = UInt(length)
                        return mysql_stmt_fetch_column(stmt, &column, UInt32(i), 0)
                    }
                    if rc != 0 {
                        throw MySQLError(
                            number: mysql_stmt_errno(stmt), sqlState: String(cString: mysql_stmt_sqlstate(stmt)),
                            message: String(cString: mysql_stmt_error(stmt)))
                    }
                }
                switch kinds[i] {
                case .bytes: values.append(.bytes(bytes))
                case .decimal: values.append(.decimal(String(decoding: bytes, as: UTF8.self)))
                case .json: values.append(.json(String(decoding: bytes, as: UTF8.self)))
                default: values.append(.string(String(decoding: bytes, as: UTF8.self)))
                }
            }
        }
        return values
    }
}
