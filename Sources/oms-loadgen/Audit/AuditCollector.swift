import Foundation
import Logging
import OMSMySQL
import OMSRedis
import OMSLoadgenCore

/// Which data an audit looks at.
struct AuditScope: Sendable {
    /// Checkout idempotency keys starting with this text (empty: everything).
    var prefix: String
    /// SKUs starting with this text (nil: the same as `prefix`).
    var skuPrefix: String? = nil
    /// SKU → units the load generator stocked at setup (empty for a standalone audit).
    var expectedStock: [String: Int64] = [:]
    /// Idempotency key → what the client saw (empty for a standalone audit).
    var clientOutcomes: [String: ClientOutcome] = [:]
    var recoveryWindowSeconds: Double = 60
    var expiryGraceSeconds: Double = 30
}

/// Schema names of the services (`--<svc>-schema` flags; the embedded default).
struct SuiteSchemas: Sendable {
    var inventory = "oms_inventory"
    var orders = "oms_orders"
    var payments = "oms_payments"
    var checkout = "oms_checkout"
}

/// Reads the facts of an audit straight from MySQL (admin URL, one pool per schema, read-only statements with
/// bound parameters) and Redis (the inventory gate keys).
final class AuditCollector: Sendable {
    let inventory: MySQLConnectionPool
    let orders: MySQLConnectionPool
    let payments: MySQLConnectionPool
    let checkout: MySQLConnectionPool
    let redis: RedisClient?
    let redisKeyPrefix: String
    let logger: Logger

    /// - Parameters:
    ///   - adminURL: `mysql://…` of a user that may read every schema.
    ///   - schemas: the schema names.
    ///   - redisURL: the Redis URL, or nil to skip the Redis rule.
    ///   - redisKeyPrefix: the inventory gate's key prefix.
    init(adminURL: String, schemas: SuiteSchemas, redisURL: String?, redisKeyPrefix: String, logger: Logger) throws {
        var base = try MySQLConfiguration(url: adminURL)
        base.poolSize = 4
        inventory = MySQLConnectionPool(configuration: base.with(database: schemas.inventory), name: "audit-inventory", logger: logger)
        orders = MySQLConnectionPool(configuration: base.with(database: schemas.orders), name: "audit-orders", logger: logger)
        payments = MySQLConnectionPool(configuration: base.with(database: schemas.payments), name: "audit-payments", logger: logger)
        checkout = MySQLConnectionPool(configuration: base.with(database: schemas.checkout), name: "audit-checkout", logger: logger)
        if let redisURL, !redisURL.isEmpty {
            var rc = try RedisConfiguration(url: redisURL)
            rc.poolSize = 2
            rc.commandTimeout = .seconds(10)
            redis = RedisClient(configuration: rc, logger: logger)
        } else {
            redis = nil
        }
        self.redisKeyPrefix = redisKeyPrefix
        self.logger = logger
    }

    func shutdown() async {
        await inventory.shutdown()
        await orders.shutdown()
        await payments.shutdown()
        await checkout.shutdown()
        await redis?.shutdown()
    }

    /// `LIKE` pattern matching everything that starts with `prefix` (wildcards in it escaped).
    static func likePrefix(_ prefix: String) -> String {
        var out = ""
        for ch in prefix {
            if ch == "\\" || ch == "%" || ch == "_" { out.append("\\") }
            out.append(ch)
        }
        return out + "%"
    }

    /// `(?, ?, …)` for `n` bound values.
    static func placeholders(_ n: Int) -> String {
        "(" + Array(repeating: "?", count: n).joined(separator: ", ") + ")"
    }

    static func chunks<T>(_ items: [T], of size: Int) -> [[T]] {
        stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }

    /// How many checkouts in scope are still open.
    func openCheckouts(scope: AuditScope) async throws -> Int {
        let row = try await checkout.queryOne(
            "SELECT COUNT(*) AS n FROM checkouts WHERE is_open = 1 AND idempotency_key LIKE ?",
            [.string(Self.likePrefix(scope.prefix))])
        return try row?.int("n") ?? 0
    }

    /// SKUs in scope.
    func skus(scope: AuditScope) async throws -> [String] {
        try await inventory.query(
            "SELECT sku FROM stock WHERE sku LIKE ? ORDER BY sku", [.string(Self.likePrefix(scope.skuPrefix ?? scope.prefix))]
        ).map { try $0.string("sku") }
    }

    /// Reads everything the rules need.
    func collect(scope: AuditScope) async throws -> AuditSnapshot {
        let like = MySQLValue.string(Self.likePrefix(scope.skuPrefix ?? scope.prefix))
        let keyLike = MySQLValue.string(Self.likePrefix(scope.prefix))
        // Stock, ledger, reservations per SKU.
        var skus: [String: SkuFacts] = [:]
        for r in try await inventory.query("SELECT sku, on_hand, reserved FROM stock WHERE sku LIKE ?", [like]) {
            let sku = try r.string("sku")
            skus[sku] = SkuFacts(
                sku: sku, onHand: try r.int64("on_hand"), reserved: try r.int64("reserved"), ledgerStocked: 0,
                ledgerSold: 0, committedUnits: 0, heldUnits: 0, orderedUnits: 0, expectedStocked: scope.expectedStock[sku])
        }
        for r in try await inventory.query(
            """
            SELECT sku,
              CAST(SUM(CASE WHEN kind = 'commit' THEN 0 ELSE delta_on_hand END) AS SIGNED) AS stocked,
              CAST(SUM(CASE WHEN kind = 'commit' THEN -delta_on_hand ELSE 0 END) AS SIGNED) AS sold
            FROM stock_ledger WHERE sku LIKE ? GROUP BY sku
            """, [like])
        {
            let sku = try r.string("sku")
            skus[sku]?.ledgerStocked = try r.int64("stocked")
            skus[sku]?.ledgerSold = try r.int64("sold")
        }
        for r in try await inventory.query(
            """
            SELECT l.sku,
              CAST(SUM(CASE WHEN r.state = 'committed' THEN l.quantity ELSE 0 END) AS SIGNED) AS committed_units,
              CAST(SUM(CASE WHEN r.state = 'held' THEN l.quantity ELSE 0 END) AS SIGNED) AS held_units
            FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id
            WHERE l.sku LIKE ? GROUP BY l.sku
            """, [like])
        {
            let sku = try r.string("sku")
            skus[sku]?.committedUnits = try r.int64("committed_units")
            skus[sku]?.heldUnits = try r.int64("held_units")
        }
        for r in try await orders.query(
            """
            SELECT i.sku, CAST(SUM(i.quantity) AS SIGNED) AS units
            FROM order_items i JOIN orders o ON o.id = i.order_id
            WHERE i.sku LIKE ? AND o.status NOT IN ('pending_payment', 'cancelled') GROUP BY i.sku
            """, [like])
        {
            let sku = try r.string("sku")
            skus[sku]?.orderedUnits = try r.int64("units")
        }
        let lapsed = try await inventory.query(
            """
            SELECT r.id, r.state, TIMESTAMPDIFF(MICROSECOND, r.expires_at, NOW(6)) AS past_us FROM reservations r
            WHERE r.state = 'held' AND r.expires_at < NOW(6)
              AND EXISTS (SELECT 1 FROM reservation_lines l WHERE l.reservation_id = r.id AND l.sku LIKE ?)
            """, [like]
        ).map {
            ReservationFacts(
                reservationID: try $0.string("id"), state: try $0.string("state"),
                secondsPastExpiry: Double(try $0.int64("past_us")) / 1e6)
        }

        // Checkouts and what they left behind.
        let checkouts = try await checkout.query(
            """
            SELECT checkout_id, idempotency_key, is_open, phase, outcome,
              TIMESTAMPDIFF(MICROSECOND, created_at, NOW(6)) AS age_us
            FROM checkouts WHERE idempotency_key LIKE ?
            """, [keyLike]
        ).map {
            CheckoutFacts(
                checkoutID: try $0.string("checkout_id"), idempotencyKey: try $0.string("idempotency_key"),
                isOpen: try $0.bool("is_open"), phase: try $0.string("phase"), outcome: try $0.optionalString("outcome"),
                ageSeconds: Double(try $0.int64("age_us")) / 1e6)
        }
        let ids = checkouts.map(\.checkoutID)
        var orderFacts: [OrderFacts] = []
        var reservationFacts: [ReservationFacts] = []
        var paymentFacts: [String: PaymentFacts] = [:]
        for chunk in Self.chunks(ids, of: 500) {
            let binds = chunk.map { MySQLValue.string($0) }
            orderFacts += try await orders.query(
                """
                SELECT c.checkout_id, o.id, o.status FROM order_checkouts c JOIN orders o ON o.id = c.order_id
                WHERE c.checkout_id IN \(Self.placeholders(chunk.count))
                """, binds
            ).map {
                OrderFacts(orderID: try $0.string("id"), checkoutID: try $0.string("checkout_id"), status: try $0.string("status"))
            }
            reservationFacts += try await inventory.query(
                """
                SELECT id, state, TIMESTAMPDIFF(MICROSECOND, expires_at, NOW(6)) AS past_us FROM reservations
                WHERE id IN \(Self.placeholders(chunk.count))
                """, binds
            ).map {
                ReservationFacts(
                    reservationID: try $0.string("id"), state: try $0.string("state"),
                    secondsPastExpiry: Double(try $0.int64("past_us")) / 1e6)
            }
            for p in try await readPayments(column: "idempotency_key", values: chunk) { paymentFacts[p.paymentID] = p }
        }
        for chunk in Self.chunks(orderFacts.map(\.orderID), of: 500) {
            for p in try await readPayments(column: "order_id", values: chunk) { paymentFacts[p.paymentID] = p }
        }

        // Redis gate.
        var redisChecked = false
        if let redis {
            do {
                try await readRedis(redis, into: &skus)
                redisChecked = true
            } catch {
                logger.warning("audit could not read Redis", metadata: ["error": "\(error)"])
            }
        }
        return AuditSnapshot(
            skus: skus.values.sorted { $0.sku < $1.sku }, checkouts: checkouts, orders: orderFacts,
            payments: paymentFacts.values.sorted { $0.paymentID < $1.paymentID }, reservations: reservationFacts,
            lapsedHolds: lapsed, clientOutcomes: scope.clientOutcomes, redisChecked: redisChecked,
            recoveryWindowSeconds: scope.recoveryWindowSeconds, expiryGraceSeconds: scope.expiryGraceSeconds)
    }

    private func readPayments(column: String, values: [String]) async throws -> [PaymentFacts] {
        precondition(column == "idempotency_key" || column == "order_id")  // fixed column names only
        return try await payments.query(
            """
            SELECT id, idempotency_key, order_id, status, captured_amount, refunded_amount FROM payment_intents
            WHERE \(column) IN \(Self.placeholders(values.count))
            """, values.map { .string($0) }
        ).map {
            PaymentFacts(
                paymentID: try $0.string("id"), idempotencyKey: try $0.string("idempotency_key"),
                orderID: try $0.string("order_id"), status: try $0.string("status"),
                capturedMinor: try $0.int64("captured_amount"), refundedMinor: try $0.int64("refunded_amount"))
        }
    }

    private func readRedis(_ redis: RedisClient, into skus: inout [String: SkuFacts]) async throws {
        for chunk in Self.chunks(skus.keys.sorted(), of: 200) {
            var commands: [RedisCommand] = [RedisCommand("MGET", chunk.map { "\(redisKeyPrefix){\($0)}:avail" })]
            commands += chunk.map { RedisCommand("HGETALL", "\(redisKeyPrefix){\($0)}:holds") }
            let replies = try await redis.pipeline(commands)
            guard replies.count == commands.count, let units = replies[0].array, units.count == chunk.count else {
                throw RedisError(kind: .protocol, message: "unexpected reply to the audit pipeline")
            }
            for (i, sku) in chunk.enumerated() {
                skus[sku]?.redisUnits = units[i].int
                var held: Int64 = 0
                let flat = replies[i + 1].array ?? []
                for j in stride(from: 1, to: flat.count, by: 2) {
                    if let text = flat[j].string, let q = text.split(separator: ":").first.flatMap({ Int64($0) }) {
                        held += q
                    }
                }
                skus[sku]?.redisHeldUnits = held
            }
        }
    }
}
