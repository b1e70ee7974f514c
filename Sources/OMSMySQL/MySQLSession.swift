import CMySQLClient
import Foundation
import Logging
import OMSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Transaction isolation levels (`SET TRANSACTION ISOLATION LEVEL …`).
public enum MySQLIsolationLevel: String, Sendable, CaseIterable {
    /// READ UNCOMMITTED.
    case readUncommitted = "READ UNCOMMITTED"
    /// READ COMMITTED.
    case readCommitted = "READ COMMITTED"
    /// REPEATABLE READ (the InnoDB default).
    case repeatableRead = "REPEATABLE READ"
    /// SERIALIZABLE.
    case serializable = "SERIALIZABLE"
}

/// The state of one server connection: the C handle, its statement cache and session settings.
///
/// `@unchecked Sendable`: each session belongs to one `MySQLConnection` whose single worker thread is the only
/// thread that ever calls into it (all calls go through `MySQLConnection.perform`), so there is no concurrent
/// access; the reference merely crosses into that thread's work items.
final class MySQLSession: @unchecked Sendable {
    let configuration: MySQLConfiguration
    let logger: Logger
    private var handle: MySQLConnectionHandle?
    private var statements: [String: MySQLStatementHandle] = [:]
    private var threadInitialized = false
    private var isMariaDB = true
    private var appliedTimeout: Duration?
    /// The session's isolation level as this session last set it (nil: the server's default).
    private var sessionIsolation: MySQLIsolationLevel?
    private(set) var inTransaction = false
    private(set) var connectCount = 0

    init(configuration: MySQLConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Connection lifecycle

    private static func seconds(_ d: Duration) -> UInt32 {
        UInt32(clamping: max(1, Int64(d.inSeconds.rounded(.up))))
    }

    func connect() throws {
        if !threadInitialized {
            guard mysqlLibraryInitialized else {
                throw MySQLError(kind: .other, message: "mysql_library_init failed")
            }
            _ = mysql_thread_init()
            threadInitialized = true
        }
        drop()
        let h = try MySQLConnectionHandle()
        var connectTimeout = Self.seconds(configuration.connectTimeout)
        var readTimeout = Self.seconds(configuration.readTimeout)
        var writeTimeout = Self.seconds(configuration.writeTimeout)
        mysql_options(h.mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(h.mysql, MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        mysql_options(h.mysql, MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        mysql_options(h.mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        let c = configuration
        let ok = mysql_real_connect(
            h.mysql, c.unixSocket == nil ? c.host : nil, c.user, c.password, c.database, UInt32(c.port),
            c.unixSocket, 0)
        guard ok != nil else {
            var e = h.lastError
            if e.kind == .other || e.kind == .connectionLost { e.kind = .connectionFailed }
            throw e
        }
        handle = h
        isMariaDB = String(cString: mysql_get_server_info(h.mysql)).contains("MariaDB")
        appliedTimeout = nil
        sessionIsolation = nil
        inTransaction = false
        connectCount += 1
        try text("SET time_zone = '+00:00'")
        if connectCount > 1 {
            logger.info("mysql reconnected", metadata: ["host": "\(c.host):\(c.port)", "connects": "\(connectCount)"])
        }
    }

    /// Forgets the connection (statements first, then the handle).
    func drop() {
        statements.removeAll()
        handle = nil
        inTransaction = false
        appliedTimeout = nil
        sessionIsolation = nil
    }

    /// Ends the connection and the thread's client-library state; the last call on the worker thread.
    func close() {
        drop()
        if threadInitialized {
            mysql_thread_end()
            threadInitialized = false
        }
    }

    /// An idle connection has nothing to read; readability means the server closed it (KILL, restart,
    /// wait_timeout) — cheap to detect with a zero-timeout poll, so a dead connection is replaced before use.
    private func isDeadWhileIdle(_ h: MySQLConnectionHandle) -> Bool {
        let fd = mysql_get_socket(h.mysql)
        guard fd >= 0 else { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) != 0
    }

    /// The live handle, connecting or replacing a dead idle connection first.
    func usableHandle() throws -> MySQLConnectionHandle {
        if let h = handle {
            if inTransaction || !isDeadWhileIdle(h) { return h }
            logger.debug("mysql connection closed by server while idle; reconnecting")
        }
        try connect()
        return handle!
    }

    private func fail(_ error: MySQLError, started: ContinuousClock.Instant) -> MySQLError {
        var e = error
        if e.kind == .connectionLost {
            let limit = min(configuration.readTimeout, configuration.writeTimeout)
            if ContinuousClock.now - started >= limit * 0.95 { e.kind = .timeout }
            drop()
        } else if e.kind == .timeout && e.number < 2000 {
            // Server-side statement timeout: the statement failed, the session is fine.
        }
        return e
    }

    // MARK: Text protocol (trusted, fixed SQL only)

    /// Runs SQL text through `mysql_real_query`, discarding any result. Only for fixed statements of this
    /// module and migration scripts; never for text that contains caller data.
    func text(_ sql: String) throws {
        let h = try usableHandle()
        let started = ContinuousClock.now
        let rc = sql.withCString { mysql_real_query(h.mysql, $0, UInt(strlen($0))) }
        if rc != 0 { throw fail(h.lastError, started: started) }
        while true {
            if let res = mysql_store_result(h.mysql) {
                mysql_free_result(res)
            } else if mysql_field_count(h.mysql) != 0 {
                throw fail(h.lastError, started: started)
            }
            let next = mysql_next_result(h.mysql)
            if next > 0 { throw fail(h.lastError, started: started) }
            if next != 0 { break }
        }
    }

    /// Starts a transaction at `level` (nil: the server's default). The level is a session setting,
    /// changed only when it differs from the last one: a pool whose callers use one level pays for it
    /// once per connection, not once per transaction.
    func begin(_ level: MySQLIsolationLevel?) throws {
        if level != sessionIsolation {
            if let level {
                try text("SET SESSION TRANSACTION ISOLATION LEVEL \(level.rawValue)")
            } else {
                try text(isMariaDB ? "SET SESSION tx_isolation = DEFAULT" : "SET SESSION transaction_isolation = DEFAULT")
            }
            sessionIsolation = level
        }
        try text("START TRANSACTION")
        inTransaction = true
    }

    func commit() throws {
        defer { inTransaction = false }
        try text("COMMIT")
    }

    func rollback() {
        guard handle != nil, inTransaction else {
            inTransaction = false
            return
        }
        inTransaction = false
        do { try text("ROLLBACK") } catch { drop() }
    }

    private func applyTimeout(_ timeout: Duration?) throws {
        let wanted = timeout ?? configuration.statementTimeout
        guard wanted != appliedTimeout else { return }
        let seconds = wanted?.inSeconds ?? 0
        if isMariaDB {
            try text("SET SESSION max_statement_time = \(String(format: "%.3f", seconds))")
        } else {
            try text("SET SESSION max_execution_time = \(Int64((seconds * 1000).rounded()))")
        }
        appliedTimeout = wanted
    }

    // MARK: Prepared statements

    private func statement(_ sql: String, on h: MySQLConnectionHandle) throws -> MySQLStatementHandle {
        if let s = statements[sql] { return s }
        if statements.count >= configuration.statementCacheSize { statements.removeAll() }
        let s = try MySQLStatementHandle(connection: h)
        let rc = sql.withCString { mysql_stmt_prepare(s.stmt, $0, UInt(strlen($0))) }
        if rc != 0 { throw s.lastError }
        s.parameterCount = Int(mysql_stmt_param_count(s.stmt))
        statements[sql] = s
        return s
    }

    /// Prepares (or reuses) `sql`, binds `binds`, executes it and reads every row.
    func run(_ sql: String, _ binds: [MySQLValue], timeout: Duration?) throws -> ([MySQLRow], MySQLExecuteResult) {
        var attempt = 0
        while true {
            attempt += 1
            let h = try usableHandle()
            let wasInTransaction = inTransaction
            let started = ContinuousClock.now
            do {
                try applyTimeout(timeout)
                let s = try statement(sql, on: h)
                guard s.parameterCount == binds.count else {
                    throw MySQLError(
                        kind: .invalidArgument,
                        message: "statement has \(s.parameterCount) parameters but \(binds.count) values were bound")
                }
                return try execute(s, binds)
            } catch let error as MySQLError {
                let e = fail(error, started: started)
                // 2006: the request could not be sent, so nothing ran; safe to resend once outside a transaction.
                if e.number == 2006 && !wasInTransaction && attempt == 1 { continue }
                if e.kind == .connectionLost && wasInTransaction { inTransaction = false }
                throw e
            }
        }
    }

    private func execute(_ s: MySQLStatementHandle, _ binds: [MySQLValue]) throws -> ([MySQLRow], MySQLExecuteResult) {
        let stmt = s.stmt
        let params = MySQLParameterBuffers(binds)
        if !binds.isEmpty, mysql_stmt_bind_param(stmt, params.binds) != 0 { throw s.lastError }
        if mysql_stmt_execute(stmt) != 0 { throw s.lastError }
        withExtendedLifetime(params) {}
        var rows: [MySQLRow] = []
        var result = MySQLExecuteResult(affectedRows: 0, lastInsertId: 0)
        var first = true
        while true {
            let fieldCount = Int(mysql_stmt_field_count(stmt))
            if fieldCount > 0 {
                let (columns, buffers) = try resultShape(s, fieldCount: fieldCount, cache: first)
                if mysql_stmt_bind_result(stmt, buffers.binds) != 0 { throw s.lastError }
                if mysql_stmt_store_result(stmt) != 0 { throw s.lastError }
                let collect = rows.isEmpty
                if collect { rows.reserveCapacity(Int(mysql_stmt_num_rows(stmt))) }
                while true {
                    let rc = mysql_stmt_fetch(stmt)
                    if rc == MYSQL_NO_DATA { break }
                    if rc == 1 { throw s.lastError }
                    let values = try buffers.row(stmt: stmt)
                    if collect { rows.append(MySQLRow(columns: columns, values: values)) }
                }
                mysql_stmt_free_result(stmt)
            } else if mysql_stmt_errno(stmt) != 0 {
                throw s.lastError
            } else if first {
                result = MySQLExecuteResult(
                    affectedRows: mysql_stmt_affected_rows(stmt), lastInsertId: mysql_stmt_insert_id(stmt))
            }
            first = false
            guard mysql_stmt_more_results(stmt) != 0 else { break }
            let next = mysql_stmt_next_result(stmt)
            if next > 0 { throw s.lastError }
            if next != 0 { break }
        }
        if !rows.isEmpty || result.affectedRows == UInt64.max {
            result.affectedRows = UInt64(rows.count)
        }
        return (rows, result)
    }

    /// Column names and fetch buffers for the current result set; cached on the statement for its first
    /// result set.
    private func resultShape(_ s: MySQLStatementHandle, fieldCount: Int, cache: Bool) throws
        -> (MySQLColumns, MySQLResultBuffers)
    {
        if cache, let columns = s.resultColumns, let buffers = s.resultBuffers, buffers.count == fieldCount {
            return (columns, buffers)
        }
        guard let meta = mysql_stmt_result_metadata(s.stmt) else { throw s.lastError }
        defer { mysql_free_result(meta) }
        let count = Int(mysql_num_fields(meta))
        let fields = mysql_fetch_fields(meta)!
        let buffers = MySQLResultBuffers(fields: fields, count: count)
        let columns = MySQLColumns(names: (0..<count).map { String(cString: fields[$0].name) })
        if cache {
            s.resultColumns = columns
            s.resultBuffers = buffers
        }
        return (columns, buffers)
    }
}
