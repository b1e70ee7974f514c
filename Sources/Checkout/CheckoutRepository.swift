import Foundation
import OMSCore
import OMSMySQL
import OMSServiceKit

/// One row of the step log.
public struct CheckoutLogEntry: Sendable, Hashable {
    /// `recorded`, `intent`, `result`, `unknown`, `resolved`, `compensation`, `claimed`, `deferred`, `finished`.
    public var kind: String
    public var step: CheckoutStep?
    public var fromPhase: CheckoutPhase?
    public var toPhase: CheckoutPhase
    /// JSON object text or nil.
    public var detail: String?

    /// Creates an entry.
    public init(kind: String, step: CheckoutStep?, fromPhase: CheckoutPhase?, toPhase: CheckoutPhase, detail: String? = nil) {
        self.kind = kind
        self.step = step
        self.fromPhase = fromPhase
        self.toPhase = toPhase
        self.detail = detail
    }
}

/// All SQL of the coordinator (schema `oms_checkout`). Prepared statements with bound values only.
///
/// Every change of a checkouts row is one autocommit `UPDATE … WHERE checkout_id = ? AND version = ? AND
/// lease_owner = ?` that also appends its log entries to `step_log`; zero rows means another instance
/// took the checkout over (or it changed under us) and the caller stops driving it.
public struct CheckoutRepository: Sendable {
    let database: MySQLDatabase
    /// Saga-log writes of concurrent checkouts, committed together (see `insert` and `update`): each
    /// value is the rows a write changed.
    let logWrites: BatchCoalescer<LogWrite, Result<Int, any Error>>

    /// Most saga-log writes committed in one transaction, unless `write-batch-size` says otherwise.
    public static let defaultLogBatch = 256

    /// Creates a repository.
    /// - Parameters:
    ///   - database: the `oms_checkout` database.
    ///   - maxLogBatch: most saga-log writes of concurrent checkouts committed together (1: each alone).
    public init(database: MySQLDatabase, maxLogBatch: Int = defaultLogBatch) {
        self.database = database
        // Several writes share one transaction and one commit; each statement still decides its own row
        // (the version and lease checks are per checkout). A batch that fails (a duplicate key among
        // its inserts, a lost connection) is applied one write at a time, so one checkout's failure is
        // never its neighbours'.
        logWrites = BatchCoalescer(
            metricPrefix: "oms_checkout", name: "log", maxBatchSize: maxLogBatch, maxConcurrentBatches: 1,
            together: { writes in
                try await database.batchedTransaction(retryable: true) { tx in
                    try writes.map { Int(try tx.execute($0.sql, $0.binds).affectedRows) }
                }
            },
            alone: { w in Int(try await database.write { c in try await c.execute(w.sql, w.binds) }.affectedRows) })
    }

    /// One saga-log write: a single statement that touches one checkout's row.
    struct LogWrite: Sendable {
        var sql: String
        var binds: [MySQLValue]
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    private static let columns = """
        checkout_id, idempotency_key, request_hash, saga, request, result, attempts, version, lease_owner,
        created_at, updated_at, parked_at, parked_reason
        """

    private static func snapshot(_ row: MySQLRow) throws -> CheckoutSnapshot {
        var snapshot = CheckoutSnapshot(
            checkoutID: try row.int64("checkout_id"),
            idempotencyKey: try row.string("idempotency_key"),
            requestHash: try row.string("request_hash"),
            saga: try decode(CheckoutSaga.self, try row.string("saga")),
            request: try decode(StoredRequest.self, try row.string("request")),
            outcome: try row.optionalString("result").map { try decode(CheckoutOutcome.self, $0) },
            attempts: try row.int("attempts"),
            version: try row.int64("version"),
            leaseOwner: try row.optionalString("lease_owner"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
        if let parkedAt = try row.optionalDate("parked_at") {
            snapshot.parked = .init(at: parkedAt, reason: try row.optionalString("parked_reason") ?? "")
        }
        return snapshot
    }

    /// The checkout recorded under an idempotency key.
    /// - Throws: `MySQLError`.
    public func find(idempotencyKey: String) async throws -> CheckoutSnapshot? {
        try await database.write { c in
            try await c.queryOne(
                "SELECT \(Self.columns) FROM checkouts WHERE idempotency_key = ?", [.string(idempotencyKey)])
        }.map(Self.snapshot)
    }

    /// The checkout with an id.
    /// - Throws: `MySQLError`.
    public func find(checkoutID: Int64) async throws -> CheckoutSnapshot? {
        try await database.write { c in
            try await c.queryOne("SELECT \(Self.columns) FROM checkouts WHERE checkout_id = ?", [.int64(checkoutID)])
        }.map(Self.snapshot)
    }

    /// The step log of a checkout, oldest first: rows of `checkout_events` (checkouts written before
    /// the log moved into the row), then the entries of `checkouts.step_log`.
    /// - Throws: `MySQLError`.
    public func log(checkoutID: Int64) async throws -> [CheckoutLogEntry] {
        let (legacy, row) = try await database.write { c in
            (
                try await c.query(
                    "SELECT kind, step, from_phase, to_phase, detail FROM checkout_events WHERE checkout_id = ? ORDER BY event_id",
                    [.int64(checkoutID)]),
                try await c.queryOne("SELECT step_log FROM checkouts WHERE checkout_id = ?", [.int64(checkoutID)])
            )
        }
        var entries = try legacy.map { r in
            CheckoutLogEntry(
                kind: try r.string("kind"), step: try r.optionalString("step").flatMap(CheckoutStep.init(rawValue:)),
                fromPhase: try r.optionalString("from_phase").flatMap(CheckoutPhase.init(rawValue:)),
                toPhase: CheckoutPhase(rawValue: try r.string("to_phase")) ?? .recorded,
                detail: try r.optionalString("detail"))
        }
        if let text = try row?.optionalString("step_log") {
            guard let items = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
                throw MySQLError(kind: .other, message: "checkout \(checkoutID): step_log is not an array of objects")
            }
            entries += items.map { item in
                CheckoutLogEntry(
                    kind: item["kind"] as? String ?? "", step: (item["step"] as? String).flatMap(CheckoutStep.init(rawValue:)),
                    fromPhase: (item["from"] as? String).flatMap(CheckoutPhase.init(rawValue:)),
                    toPhase: (item["to"] as? String).flatMap(CheckoutPhase.init(rawValue:)) ?? .recorded,
                    detail: item["detail"] as? String)
            }
        }
        return entries
    }

    /// Outcome of `insert`.
    public enum InsertOutcome: Sendable {
        /// This call recorded the checkout (version 0) and holds its lease.
        case inserted
        /// The idempotency key is taken (by an earlier or concurrent call).
        case keyTaken
        /// The id is taken (two instances with one node id): mint another.
        case idTaken
    }

    /// Records a new checkout with its first log row (and `log`, e.g. the intent of the first step,
    /// in the same commit); the unique key decides the winner among concurrent calls with one
    /// idempotency key.
    /// - Throws: `MySQLError`.
    public func insert(
        checkoutID: Int64, idempotencyKey: String, requestHash: String, saga: CheckoutSaga, request: StoredRequest,
        outcome: CheckoutOutcome?, owner: String, lease: Duration, log: [CheckoutLogEntry] = []
    ) async throws -> InsertOutcome {
        let sagaJSON = try Self.json(saga)
        let requestJSON = try Self.json(request)
        let resultJSON = try outcome.map { try Self.json($0) }
        let entries = [
            CheckoutLogEntry(kind: saga.isFinal ? "finished" : "recorded", step: nil, fromPhase: nil,
                             toPhase: log.first?.fromPhase ?? saga.phase, detail: resultJSON)
        ] + log
        do {
            // One statement: the row and its first log entries, sharing a commit with concurrent writes.
            _ = try await logWrites.submit(LogWrite(
                sql: """
                    INSERT INTO checkouts (checkout_id, idempotency_key, request_hash, phase, saga, request, result,
                      is_open, attempts, next_attempt_at, lease_owner, lease_expires_at, version, created_at, updated_at,
                      finished_at, step_log)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, NOW(6), ?, TIMESTAMPADD(MICROSECOND, ?, NOW(6)), 0, NOW(6), NOW(6),
                      IF(? = 1, NOW(6), NULL), \(Self.newLog(count: entries.count)))
                    """,
                binds: [
                    .int64(checkoutID), .string(idempotencyKey), .string(requestHash), .string(saga.phase.rawValue),
                    .string(sagaJSON), .string(requestJSON), .optional(resultJSON) { .string($0) },
                    .bool(!saga.isFinal), .string(owner), .int64(lease.wholeMicroseconds), .bool(saga.isFinal),
                ] + Self.logBinds(entries, version: 0, owner: owner))).get()
            return .inserted
        } catch let e as MySQLError where e.kind == .duplicateKey {
            return e.message.contains("uq_checkouts_idempotency_key") ? .keyTaken : .idTaken
        }
    }


    /// One log entry as SQL: a `JSON_OBJECT` the server builds from seven bound scalars, so the text is
    /// valid JSON in MySQL 8 and MariaDB alike.
    private static let logObject = """
        JSON_OBJECT('version', ?, 'kind', ?, 'step', ?, 'from', ?, 'to', ?, 'detail', ?, 'owner', ?,
          'at', DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f'))
        """

    /// The binds of `entries` for as many `logObject`s.
    private static func logBinds(_ entries: [CheckoutLogEntry], version: Int64, owner: String) -> [MySQLValue] {
        var binds: [MySQLValue] = []
        binds.reserveCapacity(entries.count * 7)
        for e in entries {
            binds += [
                .int64(version), .string(e.kind), .optional(e.step) { .string($0.rawValue) },
                .optional(e.fromPhase) { .string($0.rawValue) }, .string(e.toPhase.rawValue),
                .optional(e.detail) { .string($0) }, .string(owner),
            ]
        }
        return binds
    }

    /// A new log holding `count` entries (SQL expression).
    private static func newLog(count: Int) -> String {
        "JSON_ARRAY(" + Array(repeating: logObject, count: count).joined(separator: ", ") + ")"
    }

    /// `step_log` with `count` entries appended (SQL expression).
    private static func appendedLog(count: Int) -> String {
        "JSON_ARRAY_APPEND(COALESCE(step_log, JSON_ARRAY()), "
            + Array(repeating: "'$', " + logObject, count: count).joined(separator: ", ") + ")"
    }

    /// Writes a new saga state with its log rows, renewing the lease (optimistic lock + lease check).
    /// - Parameters:
    ///   - checkoutID: the checkout.
    ///   - expectedVersion: the version read or last written.
    ///   - owner: this instance's lease name.
    ///   - saga: the new state.
    ///   - outcome: the final answer, when the saga ended.
    ///   - log: the log rows for the change.
    ///   - lease: how long the lease lasts from now.
    /// - Returns: the new version, or nil when the row changed or the lease is someone else's.
    /// - Throws: `MySQLError`.
    public func update(
        checkoutID: Int64, expectedVersion: Int64, owner: String, saga: CheckoutSaga, outcome: CheckoutOutcome?,
        log: [CheckoutLogEntry], lease: Duration
    ) async throws -> Int64? {
        let sagaJSON = try Self.json(saga)
        let resultJSON = try outcome.map { try Self.json($0) }
        // One statement: the row and its log entries change together or not at all. Concurrent
        // checkouts' writes share a commit (`logWrites`); none is answered before its commit.
        let write = LogWrite(
            sql: """
                UPDATE checkouts SET phase = ?, saga = ?, order_id = ?, payment_id = ?, result = ?, is_open = ?,
                  finished_at = IF(? = 1, NOW(6), NULL), lease_expires_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)),
                  updated_at = NOW(6), version = version + 1, step_log = \(Self.appendedLog(count: log.count))
                WHERE checkout_id = ? AND version = ? AND lease_owner = ?
                """,
            binds: [
                .string(saga.phase.rawValue), .string(sagaJSON), .optional(saga.orderID) { .string($0) },
                .optional(saga.paymentID) { .string($0) }, .optional(resultJSON) { .string($0) },
                .bool(!saga.isFinal), .bool(saga.isFinal), .int64(lease.wholeMicroseconds),
            ] + Self.logBinds(log, version: expectedVersion + 1, owner: owner) + [
                .int64(checkoutID), .int64(expectedVersion), .string(owner),
            ])
        return try await logWrites.submit(write).get() == 1 ? expectedVersion + 1 : nil
    }

    /// Gives the lease up after a pass that could not finish (a service is down): recovery may
    /// claim the checkout again after `retryAfter`.
    /// - Returns: the new version, or nil when the row changed or the lease is someone else's.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func deferRetry(
        checkoutID: Int64, expectedVersion: Int64, owner: String, phase: CheckoutPhase, reason: String,
        retryAfter: Duration
    ) async throws -> Int64? {
        let detail = try Self.json(["reason": reason])
        let entry = CheckoutLogEntry(kind: "deferred", step: nil, fromPhase: phase, toPhase: phase, detail: detail)
        let r = try await database.write { c in
            try await c.execute(
                """
                UPDATE checkouts SET lease_owner = NULL, lease_expires_at = NOW(6),
                  next_attempt_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)), updated_at = NOW(6), version = version + 1,
                  step_log = \(Self.appendedLog(count: 1))
                WHERE checkout_id = ? AND version = ? AND lease_owner = ?
                """,
                [.int64(retryAfter.wholeMicroseconds)] + Self.logBinds([entry], version: expectedVersion + 1, owner: owner)
                    + [.int64(checkoutID), .int64(expectedVersion), .string(owner)])
        }
        return r.affectedRows == 1 ? expectedVersion + 1 : nil
    }

    /// Open checkouts whose lease has expired and whose retry time has come, oldest first.
    /// - Throws: `MySQLError`.
    public func recoverable(limit: Int) async throws -> [(checkoutID: Int64, version: Int64)] {
        let rows = try await database.write { c in
            try await c.query(
                """
                SELECT checkout_id, version FROM checkouts
                WHERE is_open = 1 AND lease_expires_at < NOW(6) AND next_attempt_at <= NOW(6) AND parked_at IS NULL
                ORDER BY checkout_id LIMIT ?
                """, [.int64(Int64(limit))])
        }
        return try rows.map { (try $0.int64("checkout_id"), try $0.int64("version")) }
    }

    /// Takes over a checkout whose lease expired (one winner among instances).
    /// - Returns: the new version, or nil when another instance won or the lease is live again.
    /// - Throws: `MySQLError`.
    public func claim(checkoutID: Int64, expectedVersion: Int64, owner: String, lease: Duration) async throws -> Int64? {
        // The log entry names the phase the row is in (read by the same statement).
        let r = try await database.write { c in
            try await c.execute(
                """
                UPDATE checkouts SET lease_owner = ?, lease_expires_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)),
                  attempts = attempts + 1, updated_at = NOW(6), version = version + 1,
                  step_log = JSON_ARRAY_APPEND(COALESCE(step_log, JSON_ARRAY()), '$', JSON_OBJECT(
                    'version', ?, 'kind', 'claimed', 'step', NULL, 'from', phase, 'to', phase, 'detail', NULL,
                    'owner', ?, 'at', DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')))
                WHERE checkout_id = ? AND version = ? AND is_open = 1 AND lease_expires_at < NOW(6)
                """,
                [
                    .string(owner), .int64(lease.wholeMicroseconds), .int64(expectedVersion + 1), .string(owner),
                    .int64(checkoutID), .int64(expectedVersion),
                ])
        }
        return r.affectedRows == 1 ? expectedVersion + 1 : nil
    }

    /// Deletes up to `limit` finished checkouts that ended more than `olderThan` ago (with any rows of the
    /// old `checkout_events` table that belong to them). Open checkouts are never touched.
    /// - Returns: how many checkouts were deleted.
    /// - Throws: `MySQLError`.
    public func purgeFinished(olderThan: Duration, limit: Int) async throws -> Int {
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            let ids = try tx.query(
                """
                SELECT checkout_id FROM checkouts
                WHERE is_open = 0 AND finished_at < TIMESTAMPADD(MICROSECOND, ?, NOW(6))
                ORDER BY finished_at LIMIT ? FOR UPDATE
                """, [.int64(-olderThan.wholeMicroseconds), .int64(Int64(limit))]
            ).map { MySQLValue.int64(try $0.int64("checkout_id")) }
            guard !ids.isEmpty else { return 0 }
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            try tx.execute("DELETE FROM checkout_events WHERE checkout_id IN (\(marks))", ids)
            return Int(try tx.execute("DELETE FROM checkouts WHERE checkout_id IN (\(marks)) AND is_open = 0", ids).affectedRows)
        }
    }

    /// Number of open checkouts (a gauge, and tests).
    /// - Throws: `MySQLError`.
    /// Parks a checkout this instance holds: recovery stops claiming it until `resume`.
    /// - Returns: the new version, or nil when the lease was lost.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func park(
        checkoutID: Int64, expectedVersion: Int64, owner: String, phase: CheckoutPhase, reason: String
    ) async throws -> Int64? {
        let detail = try Self.json(["reason": reason])
        let entry = CheckoutLogEntry(kind: "parked", step: nil, fromPhase: phase, toPhase: phase, detail: detail)
        let r = try await database.write { c in
            try await c.execute(
                """
                UPDATE checkouts SET lease_owner = NULL, lease_expires_at = NOW(6), parked_at = NOW(6),
                  parked_reason = ?, updated_at = NOW(6), version = version + 1,
                  step_log = \(Self.appendedLog(count: 1))
                WHERE checkout_id = ? AND version = ? AND lease_owner = ?
                """,
                [.string(String(reason.prefix(500)))]
                    + Self.logBinds([entry], version: expectedVersion + 1, owner: owner)
                    + [.int64(checkoutID), .int64(expectedVersion), .string(owner)])
        }
        return r.affectedRows == 1 ? expectedVersion + 1 : nil
    }

    /// Parks a checkout whose lease has expired (its drive failed with something that is not a
    /// port failure, so no instance holds it).
    /// - Throws: `MySQLError`.
    public func parkUnleased(checkoutID: Int64, reason: String) async throws {
        try await database.write { c in
            _ = try await c.execute(
                """
                UPDATE checkouts SET parked_at = NOW(6), parked_reason = ?, updated_at = NOW(6), version = version + 1
                WHERE checkout_id = ? AND is_open = 1 AND parked_at IS NULL
                """, [.string(String(reason.prefix(500))), .int64(checkoutID)])
        }
    }

    /// Takes a parked checkout back into recovery with a fresh attempt budget.
    /// - Returns: whether it was parked.
    /// - Throws: `MySQLError`.
    public func resume(checkoutID: Int64) async throws -> Bool {
        let r = try await database.write { c in
            try await c.execute(
                """
                UPDATE checkouts SET parked_at = NULL, parked_reason = NULL, attempts = 0, next_attempt_at = NOW(6),
                  updated_at = NOW(6), version = version + 1
                WHERE checkout_id = ? AND parked_at IS NOT NULL
                """, [.int64(checkoutID)])
        }
        return r.affectedRows == 1
    }

    /// Parked checkouts, oldest first.
    /// - Throws: `MySQLError`.
    public func parked(limit: Int) async throws -> [CheckoutSnapshot] {
        try await database.write { c in
            try await c.query(
                "SELECT \(Self.columns) FROM checkouts WHERE parked_at IS NOT NULL ORDER BY parked_at LIMIT ?",
                [.int64(Int64(limit))])
        }.map(Self.snapshot)
    }

    /// How many checkouts are parked.
    /// - Throws: `MySQLError`.
    public func parkedCount() async throws -> Int {
        try await database.write { c in
            try await c.queryOne("SELECT COUNT(*) AS n FROM checkouts WHERE parked_at IS NOT NULL")?.int("n") ?? 0
        }
    }

    public func openCount() async throws -> Int {
        try await database.write { c in
            try await c.queryOne("SELECT COUNT(*) AS n FROM checkouts WHERE is_open = 1")?.int("n") ?? 0
        }
    }
}
