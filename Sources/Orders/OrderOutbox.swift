import Foundation
import Logging
import Metrics
import OMSCore
import OMSMySQL
import OMSServiceKit

/// A refund the orders service asks payments for (outbox kind `refund`).
public struct OutboxRefund: Sendable, Hashable {
    /// Idempotency key of the refund, one per return (`oms-orders:return:<order>:<return>`).
    public var idempotencyKey: String
    /// The order.
    public var orderID: Int64
    /// The checkout that created the order.
    public var checkoutID: String
    /// The payment given at confirmation.
    public var paymentReference: String
    /// The amount.
    public var amount: OrderMoney
}

/// A restock the orders service asks inventory for (outbox kind `restock`).
public struct OutboxRestock: Sendable, Hashable {
    /// Reference of the stock adjustment, one per return (`oms-orders:return:<order>:<return>`).
    public var reference: String
    /// The order.
    public var orderID: Int64
    /// Units back per SKU.
    public var lines: [(sku: String, quantity: Int)]

    public static func == (a: OutboxRestock, b: OutboxRestock) -> Bool {
        a.reference == b.reference && a.orderID == b.orderID && a.lines.map(\.sku) == b.lines.map(\.sku)
            && a.lines.map(\.quantity) == b.lines.map(\.quantity)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(reference)
        hasher.combine(orderID)
    }
}

/// Where outbox messages go. Both calls may be repeated with the same key/reference (delivery is at
/// least once); the receivers must be idempotent on it (payments on the idempotency key, inventory on
/// the adjustment reference). The lead plugs in the typed OMSClient clients; tests use recording fakes.
public protocol OrdersOutboxReceiver: Sendable {
    /// Asks payments to refund. Returns when the refund is in effect (or was already).
    /// - Throws: anything; the message is retried later.
    func refund(_ refund: OutboxRefund) async throws
    /// Asks inventory to put units back. Returns when the adjustment is in effect (or was already).
    /// - Throws: anything; the message is retried later.
    func restock(_ restock: OutboxRestock) async throws
}

/// Delivers pending outbox rows, oldest first, at least once.
///
/// Each row is claimed with a lease (`lease_until`) by a conditional UPDATE, delivered with no database
/// transaction or lock held, then marked delivered. A relay that dies between delivery and marking leaves
/// the lease to expire; the next run delivers again and the idempotent receiver absorbs the repeat.
public struct OrdersOutboxRelay: Sendable {
    let database: MySQLDatabase
    let receiver: any OrdersOutboxReceiver
    let lease: Duration
    let batchSize: Int
    /// Deliveries after which a row that keeps failing is parked for an operator.
    let maxAttempts: Int
    /// The first retry delay; it doubles with every failed delivery up to 60 × this.
    let retryBase: Duration
    /// TEST-ONLY crash points (`outbox-after-delivery`).
    let failpoints: Failpoints<OrdersFailpoint>
    let logger: Logger
    private let delivered = Counter(label: "oms_orders_outbox_delivered_total")
    private let failed = Counter(label: "oms_orders_outbox_failures_total")
    private let parked = Gauge(label: "oms_orders_outbox_parked")

    /// - Parameters:
    ///   - database: the orders database.
    ///   - receiver: where refunds and restocks go.
    ///   - lease: how long a claimed row is left alone by other relays.
    ///   - batchSize: rows per run.
    ///   - maxAttempts: deliveries after which a failing row is parked (default 100: days of retries
    ///     at the one-minute cap).
    ///   - retryBase: the first retry delay (doubling, at most 60 times it).
    ///   - failpoints: TEST-ONLY crash points.
    ///   - logger: logger.
    public init(
        database: MySQLDatabase, receiver: any OrdersOutboxReceiver, lease: Duration = .seconds(30),
        batchSize: Int = 100, maxAttempts: Int = 100, retryBase: Duration = .seconds(1),
        failpoints: Failpoints<OrdersFailpoint> = .off, logger: Logger
    ) {
        self.retryBase = retryBase
        self.failpoints = failpoints
        self.database = database
        self.receiver = receiver
        self.lease = lease
        self.batchSize = batchSize
        self.maxAttempts = maxAttempts
        self.logger = logger
    }

    /// The wait before the next delivery of a row that failed `attempts` times: doubling from
    /// `base`, at most 60 × `base`, ±20 % jitter.
    static func retryDelay(attempts: Int, base: Duration) -> Duration {
        base * (min(60.0, Double(1 << max(0, min(attempts - 1, 6)))) * Double.random(in: 0.8...1.2))
    }

    /// Delivers what is pending now.
    /// - Returns: rows delivered.
    /// - Throws: database errors (delivery errors are recorded on the row and retried later).
    @discardableResult
    public func runOnce() async throws -> Int {
        let now = Date()
        let rows = try await database.primary.query(
            """
            SELECT id, kind, payload, attempts FROM order_outbox
            WHERE delivered_at IS NULL AND parked_at IS NULL AND (lease_until IS NULL OR lease_until < ?)
            ORDER BY id LIMIT ?
            """, [.datetime(now), .int64(Int64(batchSize))])
        var count = 0
        for row in rows {
            try Task.checkCancellation()
            let id = try row.int64("id")
            let claimed = try await database.primary.execute(
                """
                UPDATE order_outbox SET lease_until = ?, attempts = attempts + 1
                WHERE id = ? AND delivered_at IS NULL AND (lease_until IS NULL OR lease_until < ?)
                """, [.datetime(Date().addingTimeInterval(lease.inSeconds)), .int64(id), .datetime(Date())])
            guard claimed.affectedRows == 1 else { continue }
            do {
                try await deliver(kind: try row.string("kind"), payload: try row.json("payload"))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failed.increment()
                let attempts = try row.int("attempts") + 1
                let park = attempts >= maxAttempts
                if park {
                    logger.error(
                        "outbox row parked: delivery keeps failing; fix the receiver, then `omsctl outbox resume <id>`",
                        metadata: ["outbox_id": "\(id)", "attempts": "\(attempts)", "error": "\(error)"])
                } else {
                    logger.warning(
                        "outbox delivery failed", metadata: ["outbox_id": "\(id)", "attempts": "\(attempts)", "error": "\(error)"])
                }
                let retryAt = Date().addingTimeInterval(Self.retryDelay(attempts: attempts, base: retryBase).inSeconds)
                try await database.primary.execute(
                    "UPDATE order_outbox SET last_error = ?, lease_until = ?, parked_at = ? WHERE id = ?",
                    [
                        .string(String("\(error)".prefix(500))), .datetime(retryAt), park ? .datetime(Date()) : .null,
                        .int64(id),
                    ])
                continue
            }
            failpoints.reach(.outboxAfterDelivery, logger: logger)
            try await database.primary.execute(
                "UPDATE order_outbox SET delivered_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
                [.datetime(Date()), .int64(id)])
            delivered.increment()
            count += 1
        }
        parked.record(Double(try await parkedCount()))
        return count
    }

    /// Rows the relay gave up on (they wait for an operator).
    /// - Throws: `MySQLError`.
    public func parkedCount() async throws -> Int {
        try await database.primary.queryOne(
            "SELECT COUNT(*) AS n FROM order_outbox WHERE parked_at IS NOT NULL AND delivered_at IS NULL")?.int("n") ?? 0
    }

    /// Takes every parked row back into delivery with a fresh attempt budget (after the cause is fixed).
    /// - Returns: how many rows were resumed.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func resumeParked() async throws -> Int {
        let r = try await database.primary.execute(
            "UPDATE order_outbox SET parked_at = NULL, attempts = 0, lease_until = NULL "
                + "WHERE parked_at IS NOT NULL AND delivered_at IS NULL")
        return Int(r.affectedRows)
    }

    func deliver(kind: String, payload: String) async throws {
        guard let object = JSONText.parseObject(payload) else {
            throw OutboxPayloadError(message: "payload is not an object")
        }
        switch kind {
        case "refund":
            try await receiver.refund(
                OutboxRefund(
                    idempotencyKey: try Self.string(object, "idempotency_key"), orderID: try Self.int(object, "order_id"),
                    checkoutID: try Self.string(object, "checkout_id"),
                    paymentReference: try Self.string(object, "payment_reference"),
                    amount: OrderMoney(
                        minorUnits: try Self.int(object, "amount_minor"), currency: try Self.string(object, "currency"))))
        case "restock":
            let lines = (object["lines"] as? [[String: Any]]) ?? []
            try await receiver.restock(
                OutboxRestock(
                    reference: try Self.string(object, "reference"), orderID: try Self.int(object, "order_id"),
                    lines: try lines.map { (try Self.string($0, "sku"), Int(try Self.int($0, "quantity"))) }))
        default:
            throw OutboxPayloadError(message: "unknown outbox kind \(kind)")
        }
    }

    // MariaDB renders numbers of procedure variables as JSON strings; accept both.
    static func int(_ o: [String: Any], _ key: String) throws -> Int64 {
        if let n = o[key] as? NSNumber, !(o[key] is String) { return n.int64Value }
        if let s = o[key] as? String, let n = Int64(s) { return n }
        throw OutboxPayloadError(message: "\(key) is not an integer")
    }

    static func string(_ o: [String: Any], _ key: String) throws -> String {
        if let s = o[key] as? String { return s }
        if let n = o[key] as? NSNumber { return n.stringValue }
        throw OutboxPayloadError(message: "\(key) is missing")
    }
}

/// An outbox row that cannot be decoded (a bug; it stays pending and is logged).
struct OutboxPayloadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
