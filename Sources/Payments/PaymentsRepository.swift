import Foundation
import OMSCore
import OMSMySQL

/// A `payment_intents` row with the columns the engine needs beyond `PaymentRecord`.
struct IntentRow: Sendable, Hashable {
    var record: PaymentRecord
    var requestHash: String
    var providerKey: String
    var claimedUntil: Date?
    /// The stored first answer to Authorize, once the outcome is known.
    var result: [UInt8]?
    var createdAt: Date

    var id: UInt64 { record.id }
    var version: Int64 { record.version }
}

/// A `payment_operations` row.
struct OperationRow: Sendable, Hashable {
    var record: PaymentOperationRecord
    var requestHash: String
    /// `pending` until the provider confirmed, then `succeeded`.
    var state: String
    var claimedUntil: Date?
    var attempts: Int64
    /// The answer replayed to repeats (written with the move, served once `state` is `succeeded`).
    var result: [UInt8]
    var version: Int64

    var id: UInt64 { record.id }
    /// The key under which this operation is sent to the provider.
    var providerKey: String { "oms-pay-\(record.paymentID)-\(record.kind.rawValue)-\(record.id)" }
}

/// The optimistic lock found another version: the caller re-reads and decides again.
struct VersionConflict: Error {}

/// SQL for the payments schema. Every caller-supplied value travels as a bound parameter.
struct PaymentsRepository: Sendable {
    let database: MySQLDatabase

    private static let intentColumns = """
        id, idempotency_key, request_hash, order_id, currency, amount, captured_amount, refunded_amount, status,
        card_brand, card_last4, card_exp_month, card_exp_year, provider_key, provider_reference, failure_code,
        claimed_until, result, version, created_at, updated_at
        """

    private static let operationColumns = """
        id, payment_id, kind, idempotency_key, request_hash, amount, state, claimed_until, attempts, result, version,
        created_at
        """

    // MARK: Intents

    func intent(id: UInt64) async throws -> IntentRow? {
        try await database.primary.queryOne(
            "SELECT \(Self.intentColumns) FROM payment_intents WHERE id = ?", [.uint64(id)]
        ).map(Self.intentRow)
    }

    func intent(idempotencyKey: String) async throws -> IntentRow? {
        try await database.primary.queryOne(
            "SELECT \(Self.intentColumns) FROM payment_intents WHERE idempotency_key = ?", [.string(idempotencyKey)]
        ).map(Self.intentRow)
    }

    func intents(orderID: String, limit: Int) async throws -> [IntentRow] {
        try await database.primary.query(
            "SELECT \(Self.intentColumns) FROM payment_intents WHERE order_id = ? ORDER BY id LIMIT ?",
            [.string(orderID), .int64(Int64(limit))]
        ).map(Self.intentRow)
    }

    /// Pending intents nobody holds a live claim on.
    func unclaimedPendingIntents(now: Date, limit: Int) async throws -> [IntentRow] {
        try await database.primary.query(
            """
            SELECT \(Self.intentColumns) FROM payment_intents
            WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?
            """, [.datetime(now), .int64(Int64(limit))]
        ).map(Self.intentRow)
    }

    /// Inserts a new pending intent (claimed by its creator) and its first event, in one transaction.
    /// - Throws: `MySQLError` `.duplicateKey` when the idempotency key (or, rarely, the id) exists.
    func insertPendingIntent(_ row: IntentRow, metadataJSON: String) async throws {
        let r = row.record
        try await database.batchedTransaction(retryable: true) { tx in
            try tx.execute(
                """
                INSERT INTO payment_intents (id, idempotency_key, request_hash, order_id, currency, amount, status,
                    card_brand, card_last4, card_exp_month, card_exp_year, provider, provider_key, claimed_until,
                    metadata, version, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, 'sandbox', ?, ?, ?, 0, ?, ?)
                """,
                [
                    .uint64(r.id), .string(r.idempotencyKey), .string(row.requestHash), .string(r.orderID),
                    .string(r.currency), .int64(r.amount), .string(r.cardBrand), .string(r.cardLastFour),
                    .int64(Int64(r.cardExpiryMonth)), .int64(Int64(r.cardExpiryYear)), .string(row.providerKey),
                    .optional(row.claimedUntil, MySQLValue.datetime), .json(metadataJSON), .datetime(row.createdAt),
                    .datetime(row.createdAt),
                ])
            try Self.insertEvent(
                tx, paymentID: r.id, event: .authorizationRequested, amount: r.amount, from: nil, to: .pending,
                version: 0, operationID: nil, details: nil, at: row.createdAt)
            // After our key is locked by the insert: a cancellation committed first wins (see V002).
            if try tx.queryOne(
                "SELECT idempotency_key FROM authorization_cancellations WHERE idempotency_key = ? FOR UPDATE",
                [.string(r.idempotencyKey)]) != nil
            {
                throw AuthorizationCancelled()
            }
        }
    }

    /// Thrown (and the insert rolled back) when the authorization was cancelled by its key first.
    struct AuthorizationCancelled: Error {}

    /// Records that Authorize with `idempotencyKey` must not happen, then reads the intent if one was
    /// recorded first. The two orders of arrival are serialised by the keys' locks (see V002).
    /// - Returns: the intent recorded before the cancellation, or nil.
    func cancelAuthorization(idempotencyKey: String, reason: String, at: Date) async throws -> IntentRow? {
        try await database.batchedTransaction(retryable: true) { tx in
            try tx.execute(
                """
                INSERT INTO authorization_cancellations (idempotency_key, reason, created_at) VALUES (?, ?, ?)
                ON DUPLICATE KEY UPDATE idempotency_key = idempotency_key
                """, [.string(idempotencyKey), .string(reason), .datetime(at)])
            return try tx.queryOne(
                "SELECT \(Self.intentColumns) FROM payment_intents WHERE idempotency_key = ? FOR UPDATE",
                [.string(idempotencyKey)]
            ).map(Self.intentRow)
        }
    }

    /// Takes the claim on a pending intent whose previous claim is gone or expired.
    /// - Returns: false when the version moved (someone else got there first).
    func claimIntent(id: UInt64, version: Int64, until: Date) async throws -> Bool {
        try await database.primary.execute(
            """
            UPDATE payment_intents SET claimed_until = ?, version = version + 1
            WHERE id = ? AND version = ? AND status = 'pending'
            """, [.datetime(until), .uint64(id), .int64(version)]
        ).affectedRows == 1
    }

    /// Gives a claim back so the next caller (or the resolver) can ask the provider at once.
    func releaseIntentClaim(id: UInt64, version: Int64) async throws -> Bool {
        try await database.primary.execute(
            """
            UPDATE payment_intents SET claimed_until = NULL, version = version + 1
            WHERE id = ? AND version = ? AND status = 'pending'
            """, [.uint64(id), .int64(version)]
        ).affectedRows == 1
    }

    /// Records the authorization outcome, the stored answer and the event in one transaction.
    /// - Throws: `VersionConflict` when the row is no longer at `expectedVersion`.
    func completeAuthorization(
        _ updated: PaymentRecord, expectedVersion: Int64, transition: PaymentTransition, result: [UInt8], at: Date
    ) async throws {
        try await database.batchedTransaction(retryable: true) { tx in
            let changed = try tx.execute(
                """
                UPDATE payment_intents SET status = ?, provider_reference = ?, failure_code = ?, claimed_until = NULL,
                    result_code = 0, result = ?, version = version + 1, updated_at = ?
                WHERE id = ? AND version = ? AND status = 'pending'
                """,
                [
                    .string(updated.status.rawValue), .optional(updated.providerReference, MySQLValue.string),
                    .optional(updated.failureCode, MySQLValue.string), .bytes(result), .datetime(at),
                    .uint64(updated.id), .int64(expectedVersion),
                ])
            guard changed.affectedRows == 1 else { throw VersionConflict() }
            var details: [String: String] = [:]
            if let reference = updated.providerReference { details["provider_reference"] = reference }
            if let code = updated.failureCode { details["failure_code"] = code }
            try Self.insertEvent(
                tx, paymentID: updated.id, event: transition.event, amount: transition.amount, from: transition.from,
                to: transition.to, version: updated.version, operationID: nil, details: details, at: at)
        }
    }

    // MARK: Operations

    func operation(kind: PaymentOperationKind, idempotencyKey: String) async throws -> OperationRow? {
        try await database.primary.queryOne(
            "SELECT \(Self.operationColumns) FROM payment_operations WHERE kind = ? AND idempotency_key = ?",
            [.string(kind.rawValue), .string(idempotencyKey)]
        ).map(Self.operationRow)
    }

    func operations(paymentID: UInt64) async throws -> [OperationRow] {
        try await database.primary.query(
            "SELECT \(Self.operationColumns) FROM payment_operations WHERE payment_id = ? ORDER BY id",
            [.uint64(paymentID)]
        ).map(Self.operationRow)
    }

    func unclaimedPendingOperations(now: Date, limit: Int) async throws -> [OperationRow] {
        try await database.primary.query(
            """
            SELECT \(Self.operationColumns) FROM payment_operations
            WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?
            """, [.datetime(now), .int64(Int64(limit))]
        ).map(Self.operationRow)
    }

    /// Moves the intent's ledger (optimistic lock), inserts the operation (claimed by its creator)
    /// and the event, in one transaction.
    /// - Throws: `VersionConflict` when the intent moved since it was read; `MySQLError`
    ///   `.duplicateKey` when the operation key exists.
    func insertOperation(
        _ op: OperationRow, updatedIntent: PaymentRecord, expectedVersion: Int64, transition: PaymentTransition,
        at: Date
    ) async throws {
        try await database.batchedTransaction(retryable: true) { tx in
            // The intent row first: its exclusive lock orders concurrent moves on one payment (the
            // operation's foreign key would otherwise take a shared lock first and deadlock).
            let changed = try tx.execute(
                """
                UPDATE payment_intents SET status = ?, captured_amount = ?, refunded_amount = ?, version = version + 1,
                    updated_at = ?
                WHERE id = ? AND version = ?
                """,
                [
                    .string(updatedIntent.status.rawValue), .int64(updatedIntent.capturedAmount),
                    .int64(updatedIntent.refundedAmount), .datetime(at), .uint64(updatedIntent.id),
                    .int64(expectedVersion),
                ])
            guard changed.affectedRows == 1 else { throw VersionConflict() }
            try tx.execute(
                """
                INSERT INTO payment_operations (id, payment_id, kind, idempotency_key, request_hash, amount, state,
                    claimed_until, attempts, result, version, created_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, 0, ?, 0, ?)
                """,
                [
                    .uint64(op.id), .uint64(op.record.paymentID), .string(op.record.kind.rawValue),
                    .string(op.record.idempotencyKey), .string(op.requestHash), .int64(op.record.amount),
                    .optional(op.claimedUntil, MySQLValue.datetime), .bytes(op.result), .datetime(at),
                ])
            try Self.insertEvent(
                tx, paymentID: updatedIntent.id, event: transition.event, amount: transition.amount,
                from: transition.from, to: transition.to, version: updatedIntent.version, operationID: op.id,
                details: ["idempotency_key": op.record.idempotencyKey], at: at)
        }
    }

    func claimOperation(id: UInt64, version: Int64, until: Date) async throws -> Bool {
        try await database.primary.execute(
            """
            UPDATE payment_operations SET claimed_until = ?, attempts = attempts + 1, version = version + 1
            WHERE id = ? AND version = ? AND state = 'pending'
            """, [.datetime(until), .uint64(id), .int64(version)]
        ).affectedRows == 1
    }

    func releaseOperationClaim(id: UInt64, version: Int64) async throws -> Bool {
        try await database.primary.execute(
            """
            UPDATE payment_operations SET claimed_until = NULL, version = version + 1
            WHERE id = ? AND version = ? AND state = 'pending'
            """, [.uint64(id), .int64(version)]
        ).affectedRows == 1
    }

    /// Marks an operation confirmed by the provider.
    func completeOperation(id: UInt64, version: Int64, at: Date) async throws -> Bool {
        try await database.primary.execute(
            """
            UPDATE payment_operations SET state = 'succeeded', result_code = 0, claimed_until = NULL,
                completed_at = ?, version = version + 1
            WHERE id = ? AND version = ? AND state = 'pending'
            """, [.datetime(at), .uint64(id), .int64(version)]
        ).affectedRows == 1
    }

    // MARK: Rows

    private static func insertEvent(
        _ tx: MySQLBatchedTransaction, paymentID: UInt64, event: PaymentEventKind, amount: Int64, from: PaymentStatus?,
        to: PaymentStatus, version: Int64, operationID: UInt64?, details: [String: String]?, at: Date
    ) throws {
        try tx.execute(
            """
            INSERT INTO payment_events (payment_id, event, amount, from_status, to_status, intent_version,
                operation_id, details, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .uint64(paymentID), .string(event.rawValue), .int64(amount),
                .optional(from?.rawValue, MySQLValue.string),
                .string(to.rawValue), .int64(version), .optional(operationID, MySQLValue.uint64),
                .optional(details.map(jsonObject), MySQLValue.json), .datetime(at),
            ])
    }

    /// A JSON object of strings, keys sorted.
    static func jsonObject(_ values: [String: String]) -> String {
        JSONText.object(values)
    }

    private static func intentRow(_ row: MySQLRow) throws -> IntentRow {
        let createdAt = try row.date("created_at")
        let record = PaymentRecord(
            id: try row.uint64("id"), idempotencyKey: try row.string("idempotency_key"),
            orderID: try row.string("order_id"), status: try status(row.string("status")),
            currency: try row.string("currency"), amount: try row.int64("amount"),
            capturedAmount: try row.int64("captured_amount"), refundedAmount: try row.int64("refunded_amount"),
            cardBrand: try row.string("card_brand"), cardLastFour: try row.string("card_last4"),
            cardExpiryMonth: try row.int("card_exp_month"), cardExpiryYear: try row.int("card_exp_year"),
            providerReference: try row.optionalString("provider_reference"),
            failureCode: try row.optionalString("failure_code"), version: try row.int64("version"),
            createdAtMicros: createdAt.unixMicroseconds, updatedAtMicros: try row.date("updated_at").unixMicroseconds)
        return IntentRow(
            record: record, requestHash: try row.string("request_hash"), providerKey: try row.string("provider_key"),
            claimedUntil: try row.optionalDate("claimed_until"), result: try row.optionalBytes("result"),
            createdAt: createdAt)
    }

    private static func operationRow(_ row: MySQLRow) throws -> OperationRow {
        guard let kind = PaymentOperationKind(rawValue: try row.string("kind")) else {
            throw MySQLError(kind: .decoding, message: "payment_operations.kind holds an unknown value")
        }
        let record = PaymentOperationRecord(
            id: try row.uint64("id"), paymentID: try row.uint64("payment_id"), kind: kind,
            idempotencyKey: try row.string("idempotency_key"), amount: try row.int64("amount"),
            createdAtMicros: try row.date("created_at").unixMicroseconds)
        return OperationRow(
            record: record, requestHash: try row.string("request_hash"), state: try row.string("state"),
            claimedUntil: try row.optionalDate("claimed_until"), attempts: try row.int64("attempts"),
            result: try row.bytes("result"), version: try row.int64("version"))
    }

    private static func status(_ raw: String) throws -> PaymentStatus {
        guard let s = PaymentStatus(rawValue: raw) else {
            throw MySQLError(kind: .decoding, message: "payment_intents.status holds an unknown value")
        }
        return s
    }
}
