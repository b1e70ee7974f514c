import Foundation
import OMSCore
import OMSMySQL
import OMSServiceKit

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
    /// New intents of concurrent Authorize calls, recorded together (see `insertPendingIntent`).
    private let newIntents: BatchCoalescer<NewIntent, Result<Void, any Error>>

    init(database: MySQLDatabase, maxIntentBatch: Int = PaymentsEngineSettings.defaultIntentBatch) {
        self.database = database
        newIntents = BatchCoalescer(
            metricPrefix: "oms_payments", name: "intent", maxBatchSize: maxIntentBatch, maxConcurrentBatches: 1,
            together: { intents in
                try await Self.insertPendingIntents(intents, database: database)
                return intents.map { _ in () }
            },
            alone: { intent in try await Self.insertPendingIntents([intent], database: database) })
    }

    /// A pending intent to record, with its metadata.
    struct NewIntent: Sendable {
        var row: IntentRow
        var metadataJSON: String
    }

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

    /// Records a new pending intent (claimed by its creator) and its first event. Concurrent calls
    /// share one transaction; a batch that cannot record every intent is undone and each is recorded
    /// alone, so each caller gets its own answer.
    /// - Throws: `MySQLError` `.duplicateKey` when the idempotency key (or, rarely, the id) exists;
    ///   `AuthorizationCancelled` when the key was cancelled first.
    func insertPendingIntent(_ row: IntentRow, metadataJSON: String) async throws {
        try await newIntents.submit(NewIntent(row: row, metadataJSON: metadataJSON)).get()
    }

    /// Inserts intents and their first events with one multi-row statement each, in one transaction.
    /// - Throws: as `insertPendingIntent`, for any of them (the transaction is then rolled back).
    private static func insertPendingIntents(_ intents: [NewIntent], database: MySQLDatabase) async throws {
        try await database.batchedTransaction(retryable: true) { tx in
            try tx.execute(
                """
                INSERT INTO payment_intents (id, idempotency_key, request_hash, order_id, currency, amount, status,
                    card_brand, card_last4, card_exp_month, card_exp_year, provider, provider_key, claimed_until,
                    metadata, version, created_at, updated_at)
                VALUES
                """ + " "
                    + Array(repeating: "(?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, 'sandbox', ?, ?, ?, 0, ?, ?)",
                            count: intents.count).joined(separator: ", "),
                intents.flatMap { intent -> [MySQLValue] in
                    let row = intent.row
                    let r = row.record
                    return [
                        .uint64(r.id), .string(r.idempotencyKey), .string(row.requestHash), .string(r.orderID),
                        .string(r.currency), .int64(r.amount), .string(r.cardBrand), .string(r.cardLastFour),
                        .int64(Int64(r.cardExpiryMonth)), .int64(Int64(r.cardExpiryYear)), .string(row.providerKey),
                        .optional(row.claimedUntil, MySQLValue.datetime), .json(intent.metadataJSON),
                        .datetime(row.createdAt), .datetime(row.createdAt),
                    ]
                })
            try insertEvents(tx, intents.map { intent in
                EventRow(
                    paymentID: intent.row.record.id, event: .authorizationRequested, amount: intent.row.record.amount,
                    from: nil, to: .pending, version: 0, operationID: nil, details: nil, at: intent.row.createdAt)
            })
            // After our keys are locked by the insert: a cancellation committed first wins (see V002).
            // Every key is looked up (and locked), so none can be cancelled between this check and the commit.
            if try !tx.query(
                "SELECT idempotency_key FROM authorization_cancellations WHERE idempotency_key IN ("
                    + Array(repeating: "?", count: intents.count).joined(separator: ", ") + ") FOR UPDATE",
                intents.map { .string($0.row.record.idempotencyKey) }).isEmpty
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
        try insertEvents(tx, [
            EventRow(
                paymentID: paymentID, event: event, amount: amount, from: from, to: to, version: version,
                operationID: operationID, details: details, at: at)
        ])
    }

    /// One row of `payment_events`.
    struct EventRow: Sendable {
        var paymentID: UInt64
        var event: PaymentEventKind
        var amount: Int64
        var from: PaymentStatus?
        var to: PaymentStatus
        var version: Int64
        var operationID: UInt64?
        var details: [String: String]?
        var at: Date
    }

    /// Writes event rows with one multi-row INSERT.
    private static func insertEvents(_ tx: MySQLBatchedTransaction, _ events: [EventRow]) throws {
        try tx.execute(
            """
            INSERT INTO payment_events (payment_id, event, amount, from_status, to_status, intent_version,
                operation_id, details, created_at)
            VALUES
            """ + " " + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: events.count).joined(separator: ", "),
            events.flatMap { e -> [MySQLValue] in
                [
                    .uint64(e.paymentID), .string(e.event.rawValue), .int64(e.amount),
                    .optional(e.from?.rawValue, MySQLValue.string),
                    .string(e.to.rawValue), .int64(e.version), .optional(e.operationID, MySQLValue.uint64),
                    .optional(e.details.map(jsonObject), MySQLValue.json), .datetime(e.at),
                ]
            })
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
