import Foundation
import Logging
import OMSMySQL

/// One row of `order_outbox` as operators see it.
public struct OutboxEntryRecord: Sendable, Equatable {
    public var id: Int64
    /// `refund` or `restock`.
    public var kind: String
    public var orderID: Int64
    public var dedupeKey: String
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Date
    public var parkedAt: Date?
    public var deliveredAt: Date?
}

/// The operators' side of outbox parking (`ListParkedOutbox`, `ResumeOutbox`, `omsctl outbox`): rows the
/// relay gave up on after `outbox-max-attempts` failed deliveries, and taking one back into delivery.
public struct OutboxParking: Sendable {
    let database: MySQLDatabase
    let logger: Logger

    static let columns = "id, kind, order_id, dedupe_key, attempts, last_error, created_at, parked_at, delivered_at"

    public init(database: MySQLDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Parked rows not delivered, oldest first.
    /// - Throws: `MySQLError`.
    public func parked(limit: Int) async throws -> [OutboxEntryRecord] {
        try await database.primary.query(
            "SELECT \(Self.columns) FROM order_outbox WHERE parked_at IS NOT NULL AND delivered_at IS NULL "
                + "ORDER BY parked_at, id LIMIT ?", [.int64(Int64(limit))]
        ).map(Self.entry)
    }

    /// Takes a parked row back into delivery with a fresh attempt budget: the relay's next run delivers it.
    /// A row that is not parked (any more) is left as it is.
    /// - Returns: the row after the change, or nil when there is no such row.
    /// - Throws: `MySQLError`.
    public func resume(outboxID: Int64) async throws -> OutboxEntryRecord? {
        let r = try await database.primary.execute(
            "UPDATE order_outbox SET parked_at = NULL, attempts = 0, lease_until = NULL "
                + "WHERE id = ? AND parked_at IS NOT NULL AND delivered_at IS NULL", [.int64(outboxID)])
        if r.affectedRows == 1 {
            logger.notice("parked outbox row resumed by an operator", metadata: ["outbox_id": "\(outboxID)"])
        }
        return try await database.primary.queryOne(
            "SELECT \(Self.columns) FROM order_outbox WHERE id = ?", [.int64(outboxID)]
        ).map(Self.entry)
    }

    static func entry(_ row: MySQLRow) throws -> OutboxEntryRecord {
        OutboxEntryRecord(
            id: try row.int64("id"), kind: try row.string("kind"), orderID: try row.int64("order_id"),
            dedupeKey: try row.string("dedupe_key"), attempts: try row.int("attempts"),
            lastError: try row.optionalString("last_error"), createdAt: try row.date("created_at"),
            parkedAt: try row.optionalDate("parked_at"), deliveredAt: try row.optionalDate("delivered_at"))
    }
}
