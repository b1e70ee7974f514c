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
    /// When the run began: provider records written since then that no payment intent names are audited too
    /// (nil for a standalone audit, which does that only when it audits everything).
    var runStart: ContinuousClock.Instant? = nil
    /// Checkouts the run sent again after the recovery window.
    var replays: [ReplayFacts] = []
}

/// Schema names of the services (`--<svc>-schema` flags; the embedded default).
struct SuiteSchemas: Sendable {
    var inventory = "oms_inventory"
    var orders = "oms_orders"
    var payments = "oms_payments"
    var checkout = "oms_checkout"
    var shipments = "oms_shipments"
}

/// Reads the facts of an audit straight from MySQL (admin URL, one pool per schema, read-only statements with
/// bound parameters) and Redis (the inventory gate keys).
final class AuditCollector: Sendable {
    let inventory: MySQLConnectionPool
    let orders: MySQLConnectionPool
    let payments: MySQLConnectionPool
    let checkout: MySQLConnectionPool
    let shipments: MySQLConnectionPool
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
        shipments = MySQLConnectionPool(
            configuration: base.with(database: schemas.shipments), name: "audit-shipments", logger: logger)
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
        await shipments.shutdown()
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

    /// Outbox rows the run's orders and shipments still owe (pending, not parked or failed): the fulfilment
    /// stream's captures, order records, refunds and restocks.
    func owedDeliveries(scope: AuditScope) async throws -> Int {
        let keyLike = MySQLValue.string(Self.likePrefix(scope.prefix))
        let orders = try await orders.queryOne(
            """
            SELECT COUNT(*) AS n FROM order_outbox x JOIN orders o ON o.id = x.order_id
            WHERE x.delivered_at IS NULL AND x.parked_at IS NULL AND o.customer_id LIKE ?
            """, [keyLike])
        let shipments = try await shipments.queryOne(
            """
            SELECT COUNT(*) AS n FROM outbox x JOIN shipments s ON s.id = x.shipment_id
            WHERE x.status = 'pending' AND s.idempotency_key LIKE ?
            """, [keyLike])
        return try (orders?.int("n") ?? 0) + (shipments?.int("n") ?? 0)
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
        var orderFacts: [String: OrderFacts] = [:]
        var reservationFacts: [ReservationFacts] = []
        var paymentFacts: [String: PaymentFacts] = [:]
        for chunk in Self.chunks(ids, of: 500) {
            let binds = chunk.map { MySQLValue.string($0) }
            for o in try await orders.query(
                """
                SELECT c.checkout_id, o.id, o.status, o.total_minor FROM order_checkouts c JOIN orders o ON o.id = c.order_id
                WHERE c.checkout_id IN \(Self.placeholders(chunk.count))
                """, binds
            ).map(Self.order) { orderFacts[o.orderID] = o }
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
        // Orders whatever their checkout: the run's customers are under its prefix, so an order whose checkout the
        // log does not know is found too.
        for o in try await orders.query(
            "SELECT checkout_id, id, status, total_minor FROM orders WHERE customer_id LIKE ?", [keyLike]
        ).map(Self.order) { orderFacts[o.orderID] = o }
        let orderIDs = orderFacts.keys.sorted()
        for chunk in Self.chunks(orderIDs, of: 500) {
            for p in try await readPayments(column: "order_id", values: chunk) { paymentFacts[p.paymentID] = p }
        }
        try await countPendingOperations(&paymentFacts)
        let provider = try await readProvider(payments: paymentFacts, scope: scope)
        let fulfilment = try await readFulfilment(orderIDs: orderIDs, scope: scope, skus: &skus)

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
            skus: skus.values.sorted { $0.sku < $1.sku }, checkouts: checkouts,
            orders: orderFacts.values.sorted { $0.orderID < $1.orderID },
            payments: paymentFacts.values.sorted { $0.paymentID < $1.paymentID }, reservations: reservationFacts,
            lapsedHolds: lapsed, providerAuthorizations: provider, shipments: fulfilment.shipments,
            returns: fulfilment.returns, undeliveredOutbox: fulfilment.outbox, clientOutcomes: scope.clientOutcomes,
            replays: scope.replays, redisChecked: redisChecked,
            recoveryWindowSeconds: scope.recoveryWindowSeconds, expiryGraceSeconds: scope.expiryGraceSeconds)
    }

    private func readPayments(column: String, values: [String]) async throws -> [PaymentFacts] {
        precondition(column == "idempotency_key" || column == "order_id")  // fixed column names only
        return try await payments.query(
            """
            SELECT id, idempotency_key, order_id, status, amount, captured_amount, refunded_amount, provider_key,
              provider_reference
            FROM payment_intents WHERE \(column) IN \(Self.placeholders(values.count))
            """, values.map { .string($0) }
        ).map {
            PaymentFacts(
                paymentID: try $0.string("id"), idempotencyKey: try $0.string("idempotency_key"),
                orderID: try $0.string("order_id"), status: try $0.string("status"),
                capturedMinor: try $0.int64("captured_amount"), refundedMinor: try $0.int64("refunded_amount"),
                amountMinor: try $0.int64("amount"), providerKey: try $0.string("provider_key"),
                providerReference: try $0.optionalString("provider_reference"))
        }
    }

    private static func order(_ row: MySQLRow) throws -> OrderFacts {
        OrderFacts(
            orderID: try row.string("id"), checkoutID: try row.string("checkout_id"), status: try row.string("status"),
            totalMinor: try row.int64("total_minor"))
    }

    /// Bound BIGINT ids (the text ids of the facts are decimal).
    private static func ids(_ values: [String]) -> [MySQLValue] { values.compactMap { Int64($0).map(MySQLValue.int64) } }

    /// Captures, voids and refunds the provider has not confirmed yet, per payment.
    private func countPendingOperations(_ payments: inout [String: PaymentFacts]) async throws {
        for chunk in Self.chunks(payments.keys.sorted(), of: 500) {
            for r in try await self.payments.query(
                """
                SELECT payment_id, COUNT(*) AS n FROM payment_operations
                WHERE state = 'pending' AND payment_id IN \(Self.placeholders(chunk.count)) GROUP BY payment_id
                """, Self.ids(chunk))
            {
                payments[try r.string("payment_id")]?.pendingOperations = try r.int("n")
            }
        }
    }

    /// The sandbox provider's records (`sandbox_authorizations`) under the intents' provider keys, and those no
    /// intent names: every record when the audit covers everything, else those written since the run began.
    /// A record that names an intent of another run is left out.
    private func readProvider(payments: [String: PaymentFacts], scope: AuditScope) async throws
        -> [ProviderAuthorizationFacts]
    {
        let columns = "idempotency_key, amount, outcome, reference, captured, refunded, voided"
        func facts(_ rows: [MySQLRow]) throws -> [ProviderAuthorizationFacts] {
            try rows.map {
                ProviderAuthorizationFacts(
                    providerKey: try $0.string("idempotency_key"), approved: try $0.string("outcome") == "approved",
                    amountMinor: try $0.int64("amount"), reference: try $0.optionalString("reference"),
                    capturedMinor: try $0.int64("captured"), refundedMinor: try $0.int64("refunded"),
                    voided: try $0.int64("voided") != 0)
            }
        }
        var found: [String: ProviderAuthorizationFacts] = [:]
        for chunk in Self.chunks(payments.values.compactMap(\.providerKey).sorted(), of: 500) {
            for a in try facts(
                await self.payments.query(
                    "SELECT \(columns) FROM sandbox_authorizations WHERE idempotency_key IN \(Self.placeholders(chunk.count))",
                    chunk.map { .string($0) }))
            {
                found[a.providerKey] = a
            }
        }
        var unnamed: [ProviderAuthorizationFacts] = []
        if scope.prefix.isEmpty {
            unnamed = try facts(await self.payments.query("SELECT \(columns) FROM sandbox_authorizations", []))
        } else if let start = scope.runStart {
            let micros = (ContinuousClock.now - start).wholeMicroseconds + 5_000_000
            unnamed = try facts(
                await self.payments.query(
                    "SELECT \(columns) FROM sandbox_authorizations WHERE created_at >= NOW(6) - INTERVAL ? MICROSECOND",
                    [.int64(micros)]))
        }
        unnamed = unnamed.filter { found[$0.providerKey] == nil }
        // Of the rest, those whose key names an existing intent outside the audit belong to someone else.
        let named = unnamed.compactMap { ProviderAuthorizationFacts.paymentID(fromProviderKey: $0.providerKey) }
            .filter { payments[$0] == nil }
        var elsewhere = Set<String>()
        for chunk in Self.chunks(Array(Set(named)).sorted(), of: 500) {
            for r in try await self.payments.query(
                "SELECT id FROM payment_intents WHERE id IN \(Self.placeholders(chunk.count))", Self.ids(chunk))
            {
                elsewhere.insert(try r.string("id"))
            }
        }
        for a in unnamed {
            if let id = ProviderAuthorizationFacts.paymentID(fromProviderKey: a.providerKey), elsewhere.contains(id) {
                continue
            }
            found[a.providerKey] = a
        }
        return found.values.sorted { $0.providerKey < $1.providerKey }
    }

    /// Shipments (of the audited orders, and those created under the run's prefix), returns and the units they
    /// returned and the ledger restocked per SKU, and the outbox rows still undelivered.
    private func readFulfilment(orderIDs: [String], scope: AuditScope, skus: inout [String: SkuFacts]) async throws
        -> (shipments: [ShipmentFacts], returns: [ReturnFacts], outbox: [OutboxFacts])
    {
        func shipment(_ r: MySQLRow) throws -> ShipmentFacts {
            ShipmentFacts(
                shipmentID: try r.string("id"), orderID: try r.string("order_id"), status: try r.string("status"),
                amountMinor: try r.int64("amount_minor"))
        }
        var shipmentFacts: [String: ShipmentFacts] = [:]
        for s in try await shipments.query(
            "SELECT id, order_id, status, amount_minor FROM shipments WHERE idempotency_key LIKE ?",
            [.string(Self.likePrefix(scope.prefix))]
        ).map(shipment) { shipmentFacts[s.shipmentID] = s }
        var returns: [ReturnFacts] = []
        var outbox: [OutboxFacts] = []
        for chunk in Self.chunks(orderIDs, of: 500) {
            let binds = Self.ids(chunk)
            let list = Self.placeholders(binds.count)
            for s in try await shipments.query(
                "SELECT id, order_id, status, amount_minor FROM shipments WHERE order_id IN \(list)", binds
            ).map(shipment) { shipmentFacts[s.shipmentID] = s }
            returns += try await orders.query(
                "SELECT id, order_id, refund_minor FROM order_returns WHERE order_id IN \(list)", binds
            ).map {
                ReturnFacts(
                    returnID: try $0.string("id"), orderID: try $0.string("order_id"), refundMinor: try $0.int64("refund_minor"))
            }
            for r in try await orders.query(
                """
                SELECT l.sku, CAST(SUM(l.quantity) AS SIGNED) AS units
                FROM order_return_lines l JOIN order_returns r ON r.id = l.return_id
                WHERE r.order_id IN \(list) GROUP BY l.sku
                """, binds)
            {
                skus[try r.string("sku")]?.returnedUnits += try r.int64("units")
            }
            outbox += try await orders.query(
                """
                SELECT id, kind, CASE WHEN parked_at IS NULL THEN 'pending' ELSE 'parked' END AS state
                FROM order_outbox WHERE delivered_at IS NULL AND order_id IN \(list)
                """, binds
            ).map {
                OutboxFacts(service: "orders", rowID: try $0.string("id"), kind: try $0.string("kind"), state: try $0.string("state"))
            }
            outbox += try await shipments.query(
                "SELECT id, kind, status FROM outbox WHERE status <> 'done' AND order_id IN \(list)", binds
            ).map {
                OutboxFacts(service: "shipments", rowID: try $0.string("id"), kind: try $0.string("kind"), state: try $0.string("status"))
            }
        }
        // Restocks carry the reference `oms-orders:return:<order>:<return>[:<sku>]`; only the audited orders' count.
        let audited = Set(orderIDs)
        for r in try await inventory.query(
            """
            SELECT sku, reference, CAST(SUM(delta_on_hand) AS SIGNED) AS units FROM stock_ledger
            WHERE reference LIKE ? AND sku LIKE ? GROUP BY sku, reference
            """, [.string("oms-orders:return:%"), .string(Self.likePrefix(scope.skuPrefix ?? scope.prefix))])
        {
            let parts = try r.string("reference").split(separator: ":")
            guard parts.count >= 3, audited.contains(String(parts[2])) else { continue }
            skus[try r.string("sku")]?.ledgerRestocked += try r.int64("units")
        }
        return (shipmentFacts.values.sorted { $0.shipmentID < $1.shipmentID }, returns, outbox)
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
