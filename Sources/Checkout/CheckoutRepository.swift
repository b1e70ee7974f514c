import Foundation
import OMSMySQL

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
/// Every change of a checkouts row is `UPDATE … WHERE checkout_id = ? AND version = ? AND lease_owner = ?`
/// together with its log rows in one transaction; zero rows means another instance took the
/// checkout over (or it changed under us) and the caller stops driving it.
public struct CheckoutRepository: Sendable {
    let database: MySQLDatabase

    /// Creates a repository.
    /// - Parameter database: the `oms_checkout` database.
    public init(database: MySQLDatabase) {
        self.database = database
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
        created_at, updated_at
        """

    private static func snapshot(_ row: MySQLRow) throws -> CheckoutSnapshot {
        CheckoutSnapshot(
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

    /// The step log of a checkout, oldest first.
    /// - Throws: `MySQLError`.
    public func log(checkoutID: Int64) async throws -> [CheckoutLogEntry] {
        let rows = try await database.write { c in
            try await c.query(
                "SELECT kind, step, from_phase, to_phase, detail FROM checkout_events WHERE checkout_id = ? ORDER BY event_id",
                [.int64(checkoutID)])
        }
        return try rows.map { r in
            CheckoutLogEntry(
                kind: try r.string("kind"), step: try r.optionalString("step").flatMap(CheckoutStep.init(rawValue:)),
                fromPhase: try r.optionalString("from_phase").flatMap(CheckoutPhase.init(rawValue:)),
                toPhase: CheckoutPhase(rawValue: try r.string("to_phase")) ?? .recorded,
                detail: try r.optionalString("detail"))
        }
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
        do {
            try await database.batchedTransaction { tx in
                try tx.execute(
                    """
                    INSERT INTO checkouts (checkout_id, idempotency_key, request_hash, phase, saga, request, result,
                      is_open, attempts, next_attempt_at, lease_owner, lease_expires_at, version, created_at, updated_at,
                      finished_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, NOW(6), ?, TIMESTAMPADD(MICROSECOND, ?, NOW(6)), 0, NOW(6), NOW(6),
                      IF(? = 1, NOW(6), NULL))
                    """,
                    [
                        .int64(checkoutID), .string(idempotencyKey), .string(requestHash), .string(saga.phase.rawValue),
                        .string(sagaJSON), .string(requestJSON), .optional(resultJSON) { .string($0) },
                        .bool(!saga.isFinal), .string(owner), .int64(Self.micros(lease)), .bool(saga.isFinal),
                    ])
                try Self.appendLog(
                    tx, checkoutID: checkoutID, version: 0, owner: owner,
                    [CheckoutLogEntry(kind: saga.isFinal ? "finished" : "recorded", step: nil, fromPhase: nil,
                                      toPhase: log.first?.fromPhase ?? saga.phase, detail: resultJSON)] + log)
            }
            return .inserted
        } catch let e as MySQLError where e.kind == .duplicateKey {
            return e.message.contains("uq_checkouts_idempotency_key") ? .keyTaken : .idTaken
        }
    }

    static func micros(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000 + atto / 1_000_000_000_000
    }

    /// Appends log rows in one multi-row INSERT (one round trip whatever their number).
    private static func appendLog(
        _ tx: MySQLBatchedTransaction, checkoutID: Int64, version: Int64, owner: String, _ entries: [CheckoutLogEntry]
    ) throws {
        guard !entries.isEmpty else { return }
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, NOW(6))"
        var values: [MySQLValue] = []
        values.reserveCapacity(entries.count * 8)
        for e in entries {
            values += [
                .int64(checkoutID), .int64(version), .string(e.kind), .optional(e.step) { .string($0.rawValue) },
                .optional(e.fromPhase) { .string($0.rawValue) }, .string(e.toPhase.rawValue),
                .optional(e.detail) { .string($0) }, .string(owner),
            ]
        }
        try tx.execute(
            """
            INSERT INTO checkout_events (checkout_id, version, kind, step, from_phase, to_phase, detail, owner, created_at)
            VALUES \(Array(repeating: row, count: entries.count).joined(separator: ", "))
            """, values)
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
        return try await database.batchedTransaction { tx in
            let r = try tx.execute(
                """
                UPDATE checkouts SET phase = ?, saga = ?, order_id = ?, payment_id = ?, result = ?, is_open = ?,
                  finished_at = IF(? = 1, NOW(6), NULL), lease_expires_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)),
                  updated_at = NOW(6), version = version + 1
                WHERE checkout_id = ? AND version = ? AND lease_owner = ?
                """,
                [
                    .string(saga.phase.rawValue), .string(sagaJSON), .optional(saga.orderID) { .string($0) },
                    .optional(saga.paymentID) { .string($0) }, .optional(resultJSON) { .string($0) },
                    .bool(!saga.isFinal), .bool(saga.isFinal), .int64(Self.micros(lease)),
                    .int64(checkoutID), .int64(expectedVersion), .string(owner),
                ])
            guard r.affectedRows == 1 else { return nil }
            try Self.appendLog(tx, checkoutID: checkoutID, version: expectedVersion + 1, owner: owner, log)
            return expectedVersion + 1
        }
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
        return try await database.batchedTransaction { tx in
            let r = try tx.execute(
                """
                UPDATE checkouts SET lease_owner = NULL, lease_expires_at = NOW(6),
                  next_attempt_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)), updated_at = NOW(6), version = version + 1
                WHERE checkout_id = ? AND version = ? AND lease_owner = ?
                """,
                [.int64(Self.micros(retryAfter)), .int64(checkoutID), .int64(expectedVersion), .string(owner)])
            guard r.affectedRows == 1 else { return nil }
            try Self.appendLog(
                tx, checkoutID: checkoutID, version: expectedVersion + 1, owner: owner,
                [CheckoutLogEntry(kind: "deferred", step: nil, fromPhase: phase, toPhase: phase, detail: detail)])
            return expectedVersion + 1
        }
    }

    /// Open checkouts whose lease has expired and whose retry time has come, oldest first.
    /// - Throws: `MySQLError`.
    public func recoverable(limit: Int) async throws -> [(checkoutID: Int64, version: Int64)] {
        let rows = try await database.write { c in
            try await c.query(
                """
                SELECT checkout_id, version FROM checkouts
                WHERE is_open = 1 AND lease_expires_at < NOW(6) AND next_attempt_at <= NOW(6)
                ORDER BY checkout_id LIMIT ?
                """, [.int64(Int64(limit))])
        }
        return try rows.map { (try $0.int64("checkout_id"), try $0.int64("version")) }
    }

    /// Takes over a checkout whose lease expired (one winner among instances).
    /// - Returns: the new version, or nil when another instance won or the lease is live again.
    /// - Throws: `MySQLError`.
    public func claim(checkoutID: Int64, expectedVersion: Int64, owner: String, lease: Duration) async throws -> Int64? {
        try await database.batchedTransaction { tx in
            let r = try tx.execute(
                """
                UPDATE checkouts SET lease_owner = ?, lease_expires_at = TIMESTAMPADD(MICROSECOND, ?, NOW(6)),
                  attempts = attempts + 1, updated_at = NOW(6), version = version + 1
                WHERE checkout_id = ? AND version = ? AND is_open = 1 AND lease_expires_at < NOW(6)
                """,
                [.string(owner), .int64(Self.micros(lease)), .int64(checkoutID), .int64(expectedVersion)])
            guard r.affectedRows == 1 else { return nil }
            guard let row = try tx.queryOne("SELECT phase FROM checkouts WHERE checkout_id = ?", [.int64(checkoutID)]),
                let phase = CheckoutPhase(rawValue: try row.string("phase"))
            else { return nil }
            try Self.appendLog(
                tx, checkoutID: checkoutID, version: expectedVersion + 1, owner: owner,
                [CheckoutLogEntry(kind: "claimed", step: nil, fromPhase: phase, toPhase: phase)])
            return expectedVersion + 1
        }
    }

    /// Number of open checkouts (a gauge, and tests).
    /// - Throws: `MySQLError`.
    public func openCount() async throws -> Int {
        try await database.write { c in
            try await c.queryOne("SELECT COUNT(*) AS n FROM checkouts WHERE is_open = 1")?.int("n") ?? 0
        }
    }
}
