import Foundation
import Logging
import Metrics
import OMSCore
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// Delivers the outbox rows written by `ShipmentsService` at least once: captures to `PaymentsPort`,
/// shipment records to `OrdersPort`. Both receivers are idempotent by the row's key, so a relay that crashes
/// after the effect but before marking the row done (or two relays racing) still yields one capture.
///
/// One run (`runOnce`):
/// 1. claims up to `batchSize` due rows with a lease (`lease_owner`, `lease_until`) in one UPDATE, so
///    concurrent relays rarely deliver the same row; a crashed relay's lease simply expires;
/// 2. delivers each claimed row in id order, with no database lock held during the remote call; a row
///    whose shipment has an earlier undelivered row to the same target waits, so orders sees `shipped`
///    before `delivered`;
/// 3. marks a delivered row done; a failed one is retried with exponential backoff (200 ms doubling,
///    capped at `maxBackoff`) and after `maxAttempts` is parked as `failed` (logged at error level,
///    `oms_shipments_outbox_failed_total`), for an operator to look at.
public struct OutboxRelay: Sendable {
    let database: MySQLDatabase
    let orders: any OrdersPort
    let payments: any PaymentsPort
    let owner: String
    let batchSize: Int
    let maxAttempts: Int
    let lease: Duration
    let maxBackoff: Duration
    /// TEST-ONLY crash points (`outbox-after-delivery`).
    let failpoints: Failpoints<ShipmentsFailpoint>
    let logger: Logger
    let now: @Sendable () -> Date

    /// What one run did.
    public struct Report: Sendable, Hashable {
        /// Rows delivered and marked done.
        public var delivered = 0
        /// Rows whose delivery failed this time (retried later, or parked when out of attempts).
        public var failed = 0
        /// Rows left for later because an earlier row of the same shipment is still undelivered.
        public var deferred = 0
    }

    /// Creates a relay.
    /// - Parameters:
    ///   - database: the shipments database.
    ///   - orders: receiver of shipment records.
    ///   - payments: receiver of captures.
    ///   - owner: this relay's name in leases (host and pid, say); each run adds a random suffix.
    ///   - batchSize: most rows per run.
    ///   - maxAttempts: deliveries before a row is parked as failed.
    ///   - lease: how long a claimed row is reserved for this relay.
    ///   - maxBackoff: longest wait between attempts of a row.
    ///   - failpoints: TEST-ONLY crash points.
    ///   - logger: logger.
    ///   - now: the clock (tests move it forward to expire leases).
    public init(
        database: MySQLDatabase, orders: any OrdersPort, payments: any PaymentsPort, owner: String,
        batchSize: Int = 100, maxAttempts: Int = 25, lease: Duration = .seconds(30), maxBackoff: Duration = .seconds(60),
        failpoints: Failpoints<ShipmentsFailpoint> = .off, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.orders = orders
        self.payments = payments
        self.owner = String(owner.prefix(90))
        self.batchSize = max(1, batchSize)
        self.maxAttempts = max(1, maxAttempts)
        self.lease = lease
        self.maxBackoff = maxBackoff
        self.failpoints = failpoints
        self.logger = logger
        self.now = now
    }

    private struct Row: Sendable {
        var id: Int64
        var shipmentID: Int64
        var target: String
        var kind: String
        var key: String
        var payload: String
        var attempts: Int
    }

    /// Claims and delivers one batch of due rows.
    /// - Returns: counts of what happened.
    /// - Throws: `CancellationError` when the task is cancelled (rows stay claimed until their lease ends);
    ///   `MySQLError` when the database cannot be reached.
    @discardableResult
    public func runOnce() async throws -> Report {
        let token = "\(owner):\(UInt64.random(in: 0...UInt64.max))"
        let start = now()
        let rows = try await database.write { c -> [Row] in
            try await c.execute(
                """
                UPDATE outbox SET lease_owner = ?, lease_until = ?
                WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
                ORDER BY id LIMIT ?
                """,
                [
                    .string(token), .datetime(start.addingTimeInterval(lease.inSeconds)), .datetime(start),
                    .datetime(start), .int64(Int64(batchSize)),
                ])
            return try await c.query(
                """
                SELECT id, shipment_id, target, kind, idempotency_key, payload, attempts
                FROM outbox WHERE lease_owner = ? AND status = 'pending' ORDER BY id
                """, [.string(token)]
            ).map {
                Row(
                    id: try $0.int64("id"), shipmentID: try $0.int64("shipment_id"), target: try $0.string("target"),
                    kind: try $0.string("kind"), key: try $0.string("idempotency_key"), payload: try $0.json("payload"),
                    attempts: try $0.int("attempts"))
            }
        }
        var report = Report()
        for row in rows {
            try Task.checkCancellation()
            let blocked = try await database.write { c in
                try await c.queryOne(
                    "SELECT id FROM outbox WHERE shipment_id = ? AND target = ? AND status = 'pending' AND id < ? LIMIT 1",
                    [.int64(row.shipmentID), .string(row.target), .int64(row.id)]) != nil
            }
            if blocked {
                report.deferred += 1
                try await release(row, token: token)
                continue
            }
            let result: String?
            do {
                result = try await deliver(row)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                report.failed += 1
                try await recordFailure(row, token: token, error: error)
                continue
            }
            failpoints.reach(.outboxAfterDelivery, logger: logger)
            _ = try await database.write { c in
                try await c.execute(
                    """
                    UPDATE outbox SET status = 'done', done_at = ?, result = ?, lease_owner = NULL, lease_until = NULL,
                      attempts = attempts + 1, last_error = NULL
                    WHERE id = ? AND status = 'pending'
                    """, [.datetime(now()), .optional(result, MySQLValue.string), .int64(row.id)])
            }
            report.delivered += 1
            Counter(label: "oms_shipments_outbox_delivered_total", dimensions: [("kind", row.kind)]).increment()
        }
        if !rows.isEmpty {
            let pending = try await database.read { c in
                try await c.queryOne("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")?.int64("n") ?? 0
            }
            Gauge(label: "oms_shipments_outbox_pending").record(pending)
        }
        return report
    }

    /// Performs the row's effect; answers the receiver's reference (capture id) when there is one.
    private func deliver(_ row: Row) async throws -> String? {
        switch row.kind {
        case ShipmentsRepository.OutboxKind.capture.rawValue:
            let p = try JSONText.decode(CapturePayload.self, row.payload)
            let captureID = try await payments.capture(
                CaptureCommand(
                    paymentID: p.paymentID, orderID: p.orderID, amountMinor: p.amountMinor, currency: p.currency,
                    idempotencyKey: row.key))
            logger.info(
                "payment captured for shipment",
                metadata: [
                    "shipment_id": "\(p.shipmentID)", "order_id": "\(p.orderID)", "amount_minor": "\(p.amountMinor)",
                    "currency": "\(p.currency)", "capture_id": "\(captureID)",
                ])
            return String(captureID.prefix(128))
        case ShipmentsRepository.OutboxKind.orderShipped.rawValue,
            ShipmentsRepository.OutboxKind.orderDelivered.rawValue:
            let p = try JSONText.decode(OrderEventPayload.self, row.payload)
            guard let event = ShipmentEventKind(rawValue: p.event) else {
                throw RPCError(.internalError, "outbox row \(row.id) has an unknown event \(p.event)")
            }
            try await orders.recordShipment(
                OrderShipmentEvent(
                    orderID: p.orderID, shipmentID: p.shipmentID, event: event, lines: p.lines,
                    atMicroseconds: p.atMicroseconds, orderFullyShipped: p.orderFullyShipped,
                    allDelivered: p.allDelivered))
            return nil
        default:
            throw RPCError(.internalError, "outbox row \(row.id) has an unknown kind \(row.kind)")
        }
    }

    private func release(_ row: Row, token: String) async throws {
        _ = try await database.write { c in
            try await c.execute(
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                [.int64(row.id), .string(token)])
        }
    }

    private func recordFailure(_ row: Row, token: String, error: any Error) async throws {
        let attempts = row.attempts + 1
        let parked = attempts >= maxAttempts
        let exponent = min(attempts - 1, 20)
        let backoff = min(0.2 * Double(1 << exponent), maxBackoff.inSeconds)
        let message = String(String(describing: error).prefix(500))
        _ = try await database.write { c in
            try await c.execute(
                """
                UPDATE outbox SET attempts = ?, status = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL,
                  lease_until = NULL
                WHERE id = ? AND lease_owner = ? AND status = 'pending'
                """,
                [
                    .int64(Int64(attempts)), .string(parked ? "failed" : "pending"),
                    .datetime(now().addingTimeInterval(backoff)), .string(message), .int64(row.id), .string(token),
                ])
        }
        let metadata: Logger.Metadata = [
            "outbox_id": "\(row.id)", "shipment_id": "\(row.shipmentID)", "kind": "\(row.kind)",
            "attempts": "\(attempts)", "error": "\(message)",
        ]
        if parked {
            Counter(label: "oms_shipments_outbox_failed_total", dimensions: [("kind", row.kind)]).increment()
            logger.error("outbox row parked after too many failed deliveries", metadata: metadata)
        } else {
            Counter(label: "oms_shipments_outbox_retries_total", dimensions: [("kind", row.kind)]).increment()
            logger.warning("outbox delivery failed; will retry", metadata: metadata)
        }
    }
}
