import Logging
import Metrics
import NIOCore
import NIOPosix

/// One pooled server connection with its own worker thread.
///
/// Every call into the C client runs on that thread; callers `await` the result, so no blocking call runs on
/// a NIO event loop or the cooperative pool. Obtain connections from `MySQLConnectionPool.withConnection`;
/// do not keep one after the closure returns. Calls on one connection are serialised.
public final class MySQLConnection: Sendable {
    let session: MySQLSession
    private let worker: NIOThreadPool
    let metrics: MySQLMetrics

    init(configuration: MySQLConfiguration, logger: Logger, metrics: MySQLMetrics) {
        session = MySQLSession(configuration: configuration, logger: logger)
        worker = NIOThreadPool(numberOfThreads: 1)
        worker.start()
        self.metrics = metrics
    }

    /// Runs `body` on the connection's thread.
    func perform<T: Sendable>(_ body: @escaping @Sendable (MySQLSession) throws -> T) async throws -> T {
        let session = self.session
        do {
            return try await worker.runIfActive { try body(session) }
        } catch let error as MySQLError {
            metrics.failed(error.kind)
            throw error
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw MySQLError(kind: .poolClosed, message: "the connection was closed")
        }
    }

    /// Closes the server connection and stops the worker thread.
    func close() async {
        _ = try? await worker.runIfActive { [session] in session.close() }
        try? await worker.shutdownGracefully()
    }

    /// Runs a statement with bound parameters and returns every row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders; a fixed string of the program, never caller data.
    ///   - binds: one value per placeholder.
    ///   - timeout: server-side statement timeout for this call (overrides the configuration's).
    /// - Throws: `MySQLError`.
    public func query(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> [MySQLRow] {
        metrics.queries.increment()
        return try await perform { try $0.run(sql, binds, timeout: timeout).0 }
    }

    /// Runs a statement and returns its first row, or nil when there is none.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func queryOne(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> MySQLRow?
    {
        try await query(sql, binds, timeout: timeout).first
    }

    /// Runs a statement that returns no rows (INSERT, UPDATE, DELETE, DDL).
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Returns: affected rows and the generated AUTO_INCREMENT id.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func execute(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws
        -> MySQLExecuteResult
    {
        metrics.queries.increment()
        return try await perform { try $0.run(sql, binds, timeout: timeout).1 }
    }

    /// Runs a trusted multi-statement SQL script (migrations, test fixtures) statement by statement over the
    /// text protocol. The script is split by `MySQLScript.split` (quotes, comments and `DELIMITER` aware).
    ///
    /// Never pass text that contains caller data: nothing is bound here.
    /// - Parameter script: the SQL script.
    /// - Throws: `MySQLError` from the first statement that fails.
    public func executeScript(_ script: String) async throws {
        let statements = MySQLScript.split(script)
        for sql in statements {
            metrics.queries.increment()
            try await perform { try $0.text(sql) }
        }
    }

    /// The server's id for this connection (`CONNECTION_ID()`), e.g. for `KILL`.
    /// - Throws: `MySQLError`.
    public func connectionID() async throws -> UInt64 {
        guard let row = try await queryOne("SELECT CONNECTION_ID()") else { return 0 }
        return try row.uint64(0)
    }
}

/// Counters and timers exported through swift-metrics.
///
/// Labels: `oms_mysql_queries_total`, `oms_mysql_errors_total{kind}`, `oms_mysql_pool_wait_seconds`,
/// `oms_mysql_transaction_retries_total`, `oms_mysql_pool_in_use`, all with a `pool` dimension.
struct MySQLMetrics: Sendable {
    let pool: String
    let queries: Counter
    let retries: Counter
    let waitTime: Timer
    let inUse: Gauge

    init(pool: String) {
        self.pool = pool
        queries = Counter(label: "oms_mysql_queries_total", dimensions: [("pool", pool)])
        retries = Counter(label: "oms_mysql_transaction_retries_total", dimensions: [("pool", pool)])
        waitTime = Timer(label: "oms_mysql_pool_wait_seconds", dimensions: [("pool", pool)])
        inUse = Gauge(label: "oms_mysql_pool_in_use", dimensions: [("pool", pool)])
    }

    func failed(_ kind: MySQLError.Kind) {
        Counter(label: "oms_mysql_errors_total", dimensions: [("pool", pool), ("kind", kind.description)])
            .increment()
    }
}
