import Logging
import NIOConcurrencyHelpers

/// A primary and an optional read replica.
///
/// `read` goes to the replica when one is configured and reachable, else to the primary; `write` and
/// `transaction` always go to the primary. When the replica cannot be reached the read runs on the primary and
/// the replica is skipped for `replicaRetryInterval`.
public final class MySQLDatabase: Sendable {
    /// The pool of the primary.
    public let primary: MySQLConnectionPool
    /// The pool of the replica, if configured.
    public let replica: MySQLConnectionPool?
    /// How long reads avoid a replica after it failed to connect.
    public let replicaRetryInterval: Duration
    private let replicaDownUntil = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let logger: Logger

    /// Creates the pools (no connection is opened until first use).
    /// - Parameters:
    ///   - primary: the primary's configuration.
    ///   - replica: the replica's configuration, or nil.
    ///   - name: the metrics `pool` dimension (the replica's is `<name>-replica`).
    ///   - replicaRetryInterval: how long to avoid a replica after a connection failure.
    ///   - logger: logger.
    public init(
        primary: MySQLConfiguration, replica: MySQLConfiguration? = nil, name: String = "default",
        replicaRetryInterval: Duration = .seconds(5), logger: Logger = Logger(label: "oms.mysql")
    ) {
        self.primary = MySQLConnectionPool(configuration: primary, name: name, logger: logger)
        self.replica = replica.map { MySQLConnectionPool(configuration: $0, name: "\(name)-replica", logger: logger) }
        self.replicaRetryInterval = replicaRetryInterval
        self.logger = logger
    }

    /// Runs read-only work on the replica (or the primary as a fallback).
    ///
    /// The body may run twice — first on the replica, then on the primary when the replica connection fails —
    /// so it must only read.
    /// - Parameters:
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: the reads.
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func read<R>(
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLConnection) async throws -> R
    ) async throws -> R {
        if let replica, replicaAvailable {
            do {
                return try await replica.withConnection(body)
            } catch let e as MySQLError where e.kind == .connectionFailed || e.kind == .connectionLost {
                replicaDownUntil.withLockedValue { $0 = ContinuousClock.now + replicaRetryInterval }
                logger.warning("mysql replica unavailable; reading from primary", metadata: ["error": "\(e)"])
            }
        }
        return try await primary.withConnection(body)
    }

    /// Runs autocommit work on the primary.
    /// - Parameters:
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: the work.
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func write<R>(
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLConnection) async throws -> R
    ) async throws -> R {
        try await primary.withConnection(body)
    }

    /// Runs a transaction on the primary; see `MySQLConnectionPool.withTransaction`.
    /// - Parameters:
    ///   - isolation: isolation level or nil.
    ///   - retryable: whether transient failures rerun the body.
    ///   - maxAttempts: most runs of the body.
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: the transaction's work.
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func transaction<R>(
        isolation: MySQLIsolationLevel? = nil, retryable: Bool = false, maxAttempts: Int = 8,
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLTransaction) async throws -> R
    ) async throws -> R {
        try await primary.withTransaction(isolation: isolation, retryable: retryable, maxAttempts: maxAttempts, body)
    }

    /// Runs a batched transaction on the primary; see `MySQLConnectionPool.withBatchedTransaction`.
    /// - Parameters:
    ///   - isolation: isolation level or nil.
    ///   - retryable: whether transient failures rerun the body.
    ///   - maxAttempts: most runs of the body.
    ///   - body: the transaction's work (synchronous, on the connection's thread).
    /// - Throws: `MySQLError` or what `body` throws.
    @discardableResult
    public func batchedTransaction<R: Sendable>(
        isolation: MySQLIsolationLevel? = nil, retryable: Bool = false, maxAttempts: Int = 8,
        _ body: @escaping @Sendable (MySQLBatchedTransaction) throws -> R
    ) async throws -> R {
        try await primary.withBatchedTransaction(
            isolation: isolation, retryable: retryable, maxAttempts: maxAttempts, body)
    }

    /// Shuts both pools down.
    public func shutdown() async {
        await primary.shutdown()
        await replica?.shutdown()
    }

    private var replicaAvailable: Bool {
        replicaDownUntil.withLockedValue { until in
            guard let u = until else { return true }
            if ContinuousClock.now >= u {
                until = nil
                return true
            }
            return false
        }
    }
}

/// Runs `body` again, up to `attempts` runs in all, when it fails with a duplicate key: the "insert if
/// absent" writes (tombstones, new products, provider operations), where a concurrent writer inserted the
/// same key first and the next run decides on that writer's row.
/// - Throws: what the last run threw.
public func retryingOnDuplicateKey<R: Sendable>(attempts: Int = 3, _ body: () async throws -> R) async throws -> R {
    var attempt = 0
    while true {
        attempt += 1
        do {
            return try await body()
        } catch let e as MySQLError where e.kind == .duplicateKey && attempt < attempts {
            continue
        }
    }
}
