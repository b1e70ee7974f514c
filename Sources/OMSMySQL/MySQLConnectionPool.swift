import Foundation
import Logging
import NIOConcurrencyHelpers
import OMSCore

/// A snapshot of a pool's counters.
public struct MySQLPoolStats: Sendable, Hashable {
    /// Most connections the pool may open.
    public var size: Int
    /// Connections open (idle or leased).
    public var open: Int
    /// Connections leased right now.
    public var inUse: Int
    /// Callers waiting for a connection right now.
    public var waiters: Int
    /// Most connections ever leased at the same time.
    public var highWaterInUse: Int
    /// Leases handed out since the pool started.
    public var leases: UInt64
}

/// A bounded pool of MySQL connections, each with its own worker thread.
///
/// Connections open lazily up to `configuration.poolSize`; callers beyond that wait (FIFO) until one is
/// returned. A connection the server closed while idle is replaced transparently on next use.
public final class MySQLConnectionPool: Sendable {
    private enum Grant {
        case connection(MySQLConnection)
        case slot
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Grant, Error>
    }

    private struct State {
        var idle: [MySQLConnection] = []
        var open = 0
        var inUse = 0
        var highWater = 0
        var leases: UInt64 = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    /// The configuration the pool connects with.
    public let configuration: MySQLConfiguration
    private let logger: Logger
    let metrics: MySQLMetrics
    private let state = NIOLockedValueBox(State())

    /// Creates a pool; no connection is opened until first use.
    /// - Parameters:
    ///   - configuration: server, credentials and pool size.
    ///   - name: the `pool` dimension of the metrics (e.g. `"inventory"`, `"inventory-replica"`).
    ///   - logger: logger for reconnects and retries.
    public init(
        configuration: MySQLConfiguration, name: String = "default", logger: Logger = Logger(label: "oms.mysql")
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = MySQLMetrics(pool: name)
    }

    /// Current counters.
    public var stats: MySQLPoolStats {
        state.withLockedValue {
            MySQLPoolStats(
                size: configuration.poolSize, open: $0.open, inUse: $0.inUse, waiters: $0.waiters.count,
                highWaterInUse: $0.highWater, leases: $0.leases)
        }
    }

    // MARK: Leasing

    private func noteLeased(_ s: inout State) {
        s.inUse += 1
        s.leases += 1
        s.highWater = max(s.highWater, s.inUse)
    }

    func lease() async throws -> MySQLConnection {
        let started = ContinuousClock.now
        enum Action {
            case use(MySQLConnection)
            case create
            case wait
        }
        let action: Action = try state.withLockedValue { s in
            if s.closed { throw MySQLError(kind: .poolClosed, message: "the pool is shut down") }
            if let c = s.idle.popLast() {
                noteLeased(&s)
                return .use(c)
            }
            if s.open < configuration.poolSize {
                s.open += 1
                noteLeased(&s)
                return .create
            }
            return .wait
        }
        let grant: Grant
        switch action {
        case .use(let c): grant = .connection(c)
        case .create: grant = .slot
        case .wait: grant = try await waitForGrant()
        }
        metrics.waitTime.record(duration: ContinuousClock.now - started)
        switch grant {
        case .connection(let c):
            return c
        case .slot:
            let c = MySQLConnection(configuration: configuration, logger: logger, metrics: metrics)
            do {
                try await c.perform { try $0.connect() }
            } catch {
                await c.close()
                giveBackSlot()
                throw error
            }
            return c
        }
    }

    private func waitForGrant() async throws -> Grant {
        let id = state.withLockedValue { s -> UInt64 in
            s.nextWaiterID += 1
            return s.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, Error>) in
                enum Now {
                    case wait
                    case fail(Error)
                    case grant(Grant)
                }
                let now: Now = state.withLockedValue { s in
                    if s.closed { return .fail(MySQLError(kind: .poolClosed, message: "the pool is shut down")) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    // A connection may have come back between the first check and now.
                    if let c = s.idle.popLast() {
                        noteLeased(&s)
                        return .grant(.connection(c))
                    }
                    if s.open < configuration.poolSize {
                        s.open += 1
                        noteLeased(&s)
                        return .grant(.slot)
                    }
                    s.waiters.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch now {
                case .wait: break
                case .fail(let e): continuation.resume(throwing: e)
                case .grant(let g): continuation.resume(returning: g)
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { s -> Waiter? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// A connection slot whose connection could not be opened: pass it to a waiter or free it.
    private func giveBackSlot() {
        let waiter = state.withLockedValue { s -> Waiter? in
            s.inUse -= 1
            if s.waiters.isEmpty || s.closed {
                s.open -= 1
                return nil
            }
            noteLeased(&s)
            return s.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: .slot)
    }

    func release(_ connection: MySQLConnection) async {
        enum Next {
            case handedOver(Waiter)
            case idle
            case close
        }
        let (next, inUse): (Next, Int) = state.withLockedValue { s in
            s.inUse -= 1
            if s.closed {
                s.open -= 1
                return (.close, s.inUse)
            }
            if !s.waiters.isEmpty {
                noteLeased(&s)
                return (.handedOver(s.waiters.removeFirst()), s.inUse)
            }
            s.idle.append(connection)
            return (.idle, s.inUse)
        }
        metrics.inUse.record(Double(inUse))
        switch next {
        case .handedOver(let w): w.continuation.resume(returning: .connection(connection))
        case .idle: break
        case .close: await connection.close()
        }
    }

    // MARK: Public API

    /// Leases a connection for the duration of `body`.
    /// - Parameters:
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: work with the connection; do not keep the connection after it returns.
    /// - Returns: what `body` returns.
    /// - Throws: `MySQLError` (`.poolClosed`, connection failures) or what `body` throws.
    @discardableResult
    public func withConnection<R>(
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLConnection) async throws -> R
    ) async throws -> R {
        try await withScopedLease(acquire: lease, release: release, body)
    }

    /// Runs one statement on a pooled connection and returns every row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func query(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> [MySQLRow] {
        try await withConnection { try await $0.query(sql, binds, timeout: timeout) }
    }

    /// Runs one statement on a pooled connection and returns its first row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func queryOne(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> MySQLRow?
    {
        try await query(sql, binds, timeout: timeout).first
    }

    /// Runs one row-less statement on a pooled connection (autocommit).
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Returns: affected rows and last insert id.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func execute(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws
        -> MySQLExecuteResult
    {
        try await withConnection { try await $0.execute(sql, binds, timeout: timeout) }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// When `retryable` is true, a body that fails with a deadlock (1213), a lock wait timeout (1205), or a
    /// connection lost before COMMIT was sent is rolled back and run again from the start, up to
    /// `maxAttempts` times, after a jittered exponential backoff (5 ms doubling, capped at 250 ms). Such a
    /// body must therefore be safe to repeat: no side effects outside the transaction. A connection lost
    /// during COMMIT itself is never retried (the outcome is unknown) and surfaces as `.connectionLost`.
    /// - Parameters:
    ///   - isolation: the isolation level, or nil for the session default.
    ///   - retryable: whether the body may be run again after a transient failure.
    ///   - maxAttempts: most runs of the body when retryable.
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: the transaction's work.
    /// - Returns: what `body` returns.
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func withTransaction<R>(
        isolation: MySQLIsolationLevel? = nil, retryable: Bool = false, maxAttempts: Int = 8,
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLTransaction) async throws -> R
    ) async throws -> R {
        var attempt = 0
        while true {
            attempt += 1
            let c = try await lease()
            var committing = false
            do {
                try await c.perform { try $0.begin(isolation) }
                let result = try await body(MySQLTransaction(connection: c))
                committing = true
                try await c.perform { try $0.commit() }
                await release(c)
                return result
            } catch {
                if !committing || (error as? MySQLError)?.kind != .connectionLost {
                    _ = try? await c.perform { $0.rollback() }
                }
                await release(c)
                try await retryOrThrow(error, committing: committing, attempt: attempt, retryable: retryable, maxAttempts: maxAttempts)
            }
        }
    }

    /// Runs `body` in a transaction whose BEGIN, statements and COMMIT all run in one hand-off to the
    /// connection's thread, instead of one hand-off (two thread switches) per statement as with
    /// `withTransaction`. For the hot write paths whose transactions only talk to the database:
    /// `body` is synchronous, runs on the connection's thread and must not wait for anything else.
    ///
    /// Commit, rollback and retries behave exactly as in `withTransaction`.
    /// - Parameters:
    ///   - isolation: the isolation level, or nil for the session default.
    ///   - retryable: whether the body may be run again after a transient failure.
    ///   - maxAttempts: most runs of the body when retryable.
    ///   - body: the transaction's work.
    /// - Returns: what `body` returns.
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func withBatchedTransaction<R: Sendable>(
        isolation: MySQLIsolationLevel? = nil, retryable: Bool = false, maxAttempts: Int = 8,
        _ body: @escaping @Sendable (MySQLBatchedTransaction) throws -> R
    ) async throws -> R {
        var attempt = 0
        while true {
            attempt += 1
            let c = try await lease()
            let metrics = self.metrics
            // (result, whether COMMIT had been sent)
            let outcome: (Swift.Result<R, any Error>, Bool)
            do {
                outcome = try await c.perform { session in
                    do {
                        try session.begin(isolation)
                        let r = try body(MySQLBatchedTransaction(session: session, metrics: metrics))
                        do {
                            try session.commit()
                            return (.success(r), true)
                        } catch {
                            if (error as? MySQLError)?.kind != .connectionLost { session.rollback() }
                            return (.failure(error), true)
                        }
                    } catch {
                        session.rollback()
                        return (.failure(error), false)
                    }
                }
            } catch {
                outcome = (.failure(error), false)  // the connection's thread is gone
            }
            await release(c)
            switch outcome.0 {
            case .success(let r):
                return r
            case .failure(let error):
                try await retryOrThrow(error, committing: outcome.1, attempt: attempt, retryable: retryable, maxAttempts: maxAttempts)
            }
        }
    }

    /// After a failed attempt of a transaction: throws `error` unless the transaction may run again,
    /// else counts the retry and sleeps a jittered exponential backoff (5 ms doubling, capped at 250 ms).
    private func retryOrThrow(_ error: any Error, committing: Bool, attempt: Int, retryable: Bool, maxAttempts: Int)
        async throws
    {
        guard retryable, attempt < maxAttempts, let e = error as? MySQLError,
            e.isTransient || (e.kind == .connectionLost && !committing)
        else { throw error }
        metrics.retries.increment()
        logger.debug(
            "mysql transaction retry",
            metadata: ["attempt": "\(attempt)", "kind": "\(e.kind)", "number": "\(e.number)"])
        let cap = min(250, 5 << min(attempt - 1, 6))
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...cap)))
    }

    /// Stops the pool: waiters fail with `.poolClosed`, idle connections close now, leased ones when returned.
    public func shutdown() async {
        let (idle, waiters) = state.withLockedValue { s -> ([MySQLConnection], [Waiter]) in
            s.closed = true
            let idle = s.idle
            let waiters = s.waiters
            s.idle.removeAll()
            s.waiters.removeAll()
            s.open -= idle.count
            return (idle, waiters)
        }
        for w in waiters {
            w.continuation.resume(throwing: MySQLError(kind: .poolClosed, message: "the pool is shut down"))
        }
        for c in idle { await c.close() }
    }
}

/// The connection of a running transaction; valid only inside the `withTransaction` body.
public struct MySQLTransaction: Sendable {
    /// The underlying connection.
    public let connection: MySQLConnection

    /// Runs a statement in the transaction and returns every row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func query(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> [MySQLRow] {
        try await connection.query(sql, binds, timeout: timeout)
    }

    /// Runs a statement in the transaction and returns its first row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func queryOne(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws -> MySQLRow?
    {
        try await connection.queryOne(sql, binds, timeout: timeout)
    }

    /// Runs a row-less statement in the transaction.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func execute(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) async throws
        -> MySQLExecuteResult
    {
        try await connection.execute(sql, binds, timeout: timeout)
    }
}

/// The statements of a `withBatchedTransaction` body: synchronous, on the connection's thread.
/// Valid only inside that body; do not keep it.
public struct MySQLBatchedTransaction {
    let session: MySQLSession
    let metrics: MySQLMetrics

    /// Runs a statement in the transaction and returns every row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders; a fixed string of the program, never caller data.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func query(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) throws -> [MySQLRow] {
        metrics.queries.increment()
        return try session.run(sql, binds, timeout: timeout).0
    }

    /// Runs a statement in the transaction and returns its first row.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Throws: `MySQLError`.
    public func queryOne(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) throws -> MySQLRow? {
        try query(sql, binds, timeout: timeout).first
    }

    /// Runs a row-less statement in the transaction.
    /// - Parameters:
    ///   - sql: SQL text with `?` placeholders.
    ///   - binds: one value per placeholder.
    ///   - timeout: statement timeout for this call.
    /// - Returns: affected rows and last insert id.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func execute(_ sql: String, _ binds: [MySQLValue] = [], timeout: Duration? = nil) throws -> MySQLExecuteResult {
        metrics.queries.increment()
        return try session.run(sql, binds, timeout: timeout).1
    }
}
