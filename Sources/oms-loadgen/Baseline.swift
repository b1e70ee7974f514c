import Foundation
import Logging
import NIOConcurrencyHelpers
import OMSMySQL

/// The in-process baseline: the durable writes of one successful checkout — the coordinator's log, the
/// reservation, the order, the payment intent, confirmation and commit — as the same sequence of short
/// transactions the services run, but from one process over one MySQL pool, with no RPC hop and no Redis gate.
/// It runs against copies of the services' tables (`CREATE TABLE … LIKE`) in a scratch schema, so it measures
/// the same rows, indexes, CHECK constraints and partitioning without touching the suite's data.
///
/// Comparing the suite's checkouts/s with this one shows what the service split costs.
final class Baseline: Sendable {
    /// The tables each checkout writes (schema of origin, table).
    static let tables: [(service: String, table: String)] = [
        ("inventory", "products"), ("inventory", "stock"), ("inventory", "stock_ledger"),
        ("inventory", "reservations"), ("inventory", "reservation_lines"),
        ("orders", "orders"), ("orders", "order_items"), ("orders", "order_events"), ("orders", "order_checkouts"),
        ("orders", "order_search"),
        ("payments", "payment_intents"), ("payments", "payment_events"),
        ("checkout", "checkouts"),
    ]

    let pool: MySQLConnectionPool
    let schema: String
    let prefix: String
    private let ids = NIOLockedValueBox<(ms: Int64, seq: Int64)>((0, 0))

    /// - Parameters:
    ///   - adminURL: a MySQL URL of a user who may create the scratch schema.
    ///   - schema: the scratch schema (letters, digits, `_`).
    ///   - poolSize: connections.
    ///   - prefix: this run's prefix (SKUs, keys).
    init(adminURL: String, schema: String, poolSize: Int, prefix: String, logger: Logger) throws {
        guard Self.isIdentifier(schema) else { throw LoadgenError("--baseline-schema must be letters, digits and _") }
        var config = try MySQLConfiguration(url: adminURL)
        config.poolSize = poolSize
        pool = MySQLConnectionPool(configuration: config.with(database: nil), name: "baseline", logger: logger)
        self.schema = schema
        self.prefix = prefix
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }
    }

    func shutdown() async { await pool.shutdown() }

    /// Creates the scratch schema and copies of the tables (identifiers are checked flag values, never request data).
    func prepare(schemas: SuiteSchemas) async throws {
        for s in [schema, schemas.inventory, schemas.orders, schemas.payments, schemas.checkout] {
            guard Self.isIdentifier(s) else { throw LoadgenError("schema name '\(s)' must be letters, digits and _") }
        }
        try await pool.execute("CREATE DATABASE IF NOT EXISTS `\(schema)`")
        let source = ["inventory": schemas.inventory, "orders": schemas.orders, "payments": schemas.payments, "checkout": schemas.checkout]
        for (service, table) in Self.tables {
            try await pool.execute("CREATE TABLE IF NOT EXISTS `\(schema)`.`\(table)` LIKE `\(source[service]!)`.`\(table)`")
        }
    }

    /// Drops the scratch schema.
    func drop() async throws {
        try await pool.execute("DROP DATABASE IF EXISTS `\(schema)`")
    }

    /// Inserts the catalog with its stock (one statement per SKU row batch).
    func stock(_ products: [SuiteDriver.Product]) async throws {
        for chunk in AuditCollector.chunks(products, of: 500) {
            try await pool.withTransaction { tx in
                var binds: [MySQLValue] = []
                var stockBinds: [MySQLValue] = []
                for p in chunk {
                    binds += [.string(p.sku), .string(p.name), .int64(p.priceMinor), .string("USD"), .string(p.attributesJSON.isEmpty ? "{}" : p.attributesJSON)]
                    stockBinds += [.string(p.sku), .int64(p.stock)]
                }
                let rows = Array(repeating: "(?, ?, ?, ?, ?, 1, 1, NOW(6), NOW(6))", count: chunk.count).joined(separator: ", ")
                try await tx.execute(
                    "INSERT INTO `\(schema)`.products (sku, name, price_minor, currency, attributes, active, version, created_at, updated_at) VALUES \(rows)",
                    binds)
                let stockRows = Array(repeating: "(?, ?, 0, 1, NOW(6))", count: chunk.count).joined(separator: ", ")
                try await tx.execute(
                    "INSERT INTO `\(schema)`.stock (sku, on_hand, reserved, version, updated_at) VALUES \(stockRows)", stockBinds)
                let ledgerRows = Array(repeating: "(?, ?, 0, ?, 0, 'receive', 'baseline setup', '', NOW(6))", count: chunk.count)
                    .joined(separator: ", ")
                try await tx.execute(
                    "INSERT INTO `\(schema)`.stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, "
                        + "reason, reference, created_at) VALUES \(ledgerRows)",
                    chunk.flatMap { [.string($0.sku), .int64($0.stock), .int64($0.stock)] })
            }
        }
    }

    /// A time-ordered 64-bit id: milliseconds since 2020 in the high bits, a sequence below.
    func nextID() -> Int64 {
        let ms = Int64(Date().timeIntervalSince1970 * 1000) - 1_577_836_800_000
        return ids.withLockedValue { s in
            if ms > s.ms {
                s = (ms, 0)
            } else {
                s.seq += 1
            }
            return (s.ms << 22) | (s.seq & 0x3F_FFFF)
        }
    }

    /// Runs one checkout's transactions; returns false when stock ran out (nothing written after the check).
    func checkout(key: String, customer: String, lines: [(sku: String, quantity: Int64)]) async throws -> Bool {
        let s = "`\(schema)`."
        let lines = lines.sorted { $0.sku < $1.sku }
        let checkoutID = nextID()
        let reservationID = String(checkoutID)
        // Prices from the catalog.
        let skuList = AuditCollector.placeholders(lines.count)
        var prices: [String: (Int64, String)] = [:]
        for r in try await pool.query("SELECT sku, name, price_minor FROM \(s)products WHERE sku IN \(skuList)", lines.map { .string($0.sku) }) {
            prices[try r.string("sku")] = (try r.int64("price_minor"), try r.string("name"))
        }
        let total = lines.reduce(Int64(0)) { $0 + (prices[$1.sku]?.0 ?? 0) * $1.quantity }

        // 1. Record the checkout.
        var version: Int64 = 0
        // Like the coordinator: each saga write is one autocommit statement that also appends its log
        // entries to the row; a step's result and the next step's intent go in one write.
        let object = "JSON_OBJECT('version', ?, 'kind', ?, 'to', ?, 'owner', 'baseline', 'at', DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f'))"
        func binds(_ events: [(kind: String, to: String)], version: Int64) -> [MySQLValue] {
            events.flatMap { [MySQLValue.int64(version), .string($0.kind), .string($0.to)] }
        }
        let first = Array(repeating: object, count: 2).joined(separator: ", ")
        let firstBinds = binds([("recorded", "recorded"), ("intent", "reserving")], version: 0)
        try await pool.execute(
            """
            INSERT INTO \(s)checkouts (checkout_id, idempotency_key, request_hash, phase, saga, request, is_open, attempts,
              next_attempt_at, lease_owner, lease_expires_at, version, created_at, updated_at, step_log)
            VALUES (?, ?, ?, 'reserving', '{}', ?, 1, 1, NOW(6), 'baseline', TIMESTAMPADD(SECOND, 30, NOW(6)), 0, NOW(6), NOW(6),
              JSON_ARRAY(\(first)))
            """,
            [.int64(checkoutID), .string(key), .string(String(repeating: "0", count: 64)),
             .string("{\"draft\":{\"customer\":{\"customerID\":\"\(customer)\"}}}")] + firstBinds)
        func phase(_ events: [(kind: String, to: String)], final: Bool = false, outcome: String = "placed") async throws {
            let to = events.last!.to
            let appended = "JSON_ARRAY_APPEND(COALESCE(step_log, JSON_ARRAY()), "
                + Array(repeating: "'$', " + object, count: events.count).joined(separator: ", ") + ")"
            let r = try await pool.execute(
                """
                UPDATE \(s)checkouts SET phase = ?, saga = ?, is_open = ?, result = ?, finished_at = IF(? = 1, NOW(6), NULL),
                  lease_expires_at = TIMESTAMPADD(SECOND, 30, NOW(6)), updated_at = NOW(6), version = version + 1,
                  step_log = \(appended)
                WHERE checkout_id = ? AND version = ? AND lease_owner = 'baseline'
                """,
                [.string(to), .string("{\"phase\":\"\(to)\"}"), .bool(!final), final ? .string("{\"kind\":\"\(outcome)\"}") : .null,
                 .bool(final)] + binds(events, version: version + 1) + [.int64(checkoutID), .int64(version)])
            guard r.affectedRows == 1 else { throw LoadgenError("baseline: checkout changed concurrently") }
            version += 1
        }

        // 2. Reserve: stock rows locked by primary key in sorted order.
        let reserved: Bool = try await pool.withTransaction(isolation: .readCommitted, retryable: true) { tx in
            var stock: [String: (Int64, Int64)] = [:]
            for r in try await tx.query(
                "SELECT sku, on_hand, reserved FROM \(s)stock WHERE sku IN \(skuList) ORDER BY sku FOR UPDATE",
                lines.map { .string($0.sku) })
            {
                stock[try r.string("sku")] = (try r.int64("on_hand"), try r.int64("reserved"))
            }
            for l in lines {
                guard let row = stock[l.sku], row.0 - row.1 >= l.quantity else { return false }
            }
            var ledger: [MySQLValue] = []
            for l in lines {
                let (onHand, held) = stock[l.sku]!
                try await tx.execute(
                    "UPDATE \(s)stock SET on_hand = ?, reserved = ?, version = version + 1, updated_at = NOW(6) WHERE sku = ?",
                    [.int64(onHand), .int64(held + l.quantity), .string(l.sku)])
                ledger += [.string(l.sku), .int64(l.quantity), .int64(onHand), .int64(held + l.quantity), .string(reservationID)]
            }
            try await tx.execute(
                "INSERT INTO \(s)stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, reason, reference, created_at) VALUES "
                    + Array(repeating: "(?, 0, ?, ?, ?, 'reserve', '', ?, NOW(6))", count: lines.count).joined(separator: ", "),
                ledger)
            try await tx.execute(
                """
                INSERT INTO \(s)reservations (id, state, tombstone, reference, gate_token, lines_digest, expires_at, version, created_at, updated_at)
                VALUES (?, 'held', 0, ?, NULL, ?, TIMESTAMPADD(SECOND, 600, NOW(6)), 1, NOW(6), NOW(6))
                """, [.string(reservationID), .string(reservationID), .string(String(repeating: "0", count: 64))])
            try await tx.execute(
                "INSERT INTO \(s)reservation_lines (reservation_id, sku, quantity) VALUES "
                    + Array(repeating: "(?, ?, ?)", count: lines.count).joined(separator: ", "),
                lines.flatMap { [.string(reservationID), .string($0.sku), .int64($0.quantity)] })
            return true
        }
        guard reserved else {
            try await phase([("result", "releasingReservation"), ("finished", "compensated")], final: true, outcome: "out_of_stock")
            return false
        }
        try await phase([("result", "reserved"), ("intent", "creatingOrder")])

        // 3. Create the order.
        let orderID = nextID()
        try await pool.withTransaction(retryable: true) { tx in
            try await tx.execute(
                "INSERT INTO \(s)order_checkouts (checkout_id, order_id, request_hash, created_at) VALUES (?, ?, ?, NOW(6))",
                [.string(reservationID), .int64(orderID), .string(String(repeating: "0", count: 64))])
            try await tx.execute(
                """
                INSERT INTO \(s)orders (id, checkout_id, customer_id, customer_name, customer_email, status, currency, total_minor,
                  reservation_id, shipping_address, metadata, version, created_at, updated_at)
                VALUES (?, ?, ?, 'Buyer', 'buyer@example.test', 'pending_payment', 'USD', ?, ?, '{"country":"US"}', '{}', 1, NOW(6), NOW(6))
                """, [.int64(orderID), .string(reservationID), .string(customer), .int64(total), .string(reservationID)])
            var items: [MySQLValue] = []
            for (i, l) in lines.enumerated() {
                let (price, name) = prices[l.sku] ?? (0, l.sku)
                items += [.int64(orderID), .int64(Int64(i + 1)), .string(l.sku), .string(name), .int64(l.quantity), .int64(price), .int64(price * l.quantity)]
            }
            try await tx.execute(
                "INSERT INTO \(s)order_items (order_id, line_no, sku, product_name, quantity, unit_price_minor, line_total_minor, attributes) VALUES "
                    + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, '{}')", count: lines.count).joined(separator: ", "), items)
            try await tx.execute(
                "INSERT INTO \(s)order_events (order_id, seq, event, from_status, to_status, detail, created_at) VALUES (?, 1, 'created', NULL, 'pending_payment', '{}', NOW(6))",
                [.int64(orderID)])
            try await tx.execute(
                "INSERT INTO \(s)order_search (order_id, customer_id, status, created_at, doc) VALUES (?, ?, 'pending_payment', NOW(6), ?)",
                [.int64(orderID), .string(customer), .string("\(orderID) \(customer) " + lines.map(\.sku).joined(separator: " "))])
        }
        try await phase([("result", "orderCreated"), ("intent", "authorizing")])

        // 4. Authorize: the intent is written before the provider is asked, its outcome after.
        let paymentID = nextID()
        try await pool.withTransaction(retryable: true) { tx in
            try await tx.execute(
                """
                INSERT INTO \(s)payment_intents (id, idempotency_key, request_hash, order_id, currency, amount, status, card_brand,
                  card_last4, card_exp_month, card_exp_year, provider, provider_key, claimed_until, metadata, version, created_at, updated_at)
                VALUES (?, ?, ?, ?, 'USD', ?, 'pending', 'visa', '4242', 12, 2034, 'sandbox', ?, TIMESTAMPADD(SECOND, 10, NOW(6)), ?, 0, NOW(6), NOW(6))
                """,
                [.int64(paymentID), .string(reservationID), .string(String(repeating: "0", count: 64)), .string(String(orderID)),
                 .int64(max(1, total)), .string("sandbox-\(reservationID)"), .string("{\"checkout_id\":\"\(reservationID)\"}")])
            try await tx.execute(
                "INSERT INTO \(s)payment_events (payment_id, event, amount, from_status, to_status, intent_version, created_at) VALUES (?, 'created', ?, NULL, 'pending', 0, NOW(6))",
                [.int64(paymentID), .int64(max(1, total))])
        }
        try await pool.withTransaction(retryable: true) { tx in
            let r = try await tx.execute(
                "UPDATE \(s)payment_intents SET status = 'authorized', provider_reference = ?, claimed_until = NULL, version = version + 1, updated_at = NOW(6) WHERE id = ? AND version = 0",
                [.string("auth-\(paymentID)"), .int64(paymentID)])
            guard r.affectedRows == 1 else { throw LoadgenError("baseline: payment changed concurrently") }
            try await tx.execute(
                "INSERT INTO \(s)payment_events (payment_id, event, amount, from_status, to_status, intent_version, created_at) VALUES (?, 'authorized', ?, 'pending', 'authorized', 1, NOW(6))",
                [.int64(paymentID), .int64(max(1, total))])
        }
        try await phase([("result", "authorized"), ("intent", "confirmingOrder")])

        // 5. Confirm the order (optimistic lock).
        try await pool.withTransaction(retryable: true) { tx in
            let r = try await tx.execute(
                "UPDATE \(s)orders SET status = 'confirmed', paid_minor = ?, payment_reference = ?, version = version + 1, updated_at = NOW(6) WHERE id = ? AND version = 1",
                [.int64(total), .string(String(paymentID)), .int64(orderID)])
            guard r.affectedRows == 1 else { throw LoadgenError("baseline: order changed concurrently") }
            try await tx.execute(
                "INSERT INTO \(s)order_events (order_id, seq, event, from_status, to_status, detail, created_at) VALUES (?, 2, 'confirmed', 'pending_payment', 'confirmed', '{}', NOW(6))",
                [.int64(orderID)])
            try await tx.execute("UPDATE \(s)order_search SET status = 'confirmed' WHERE order_id = ?", [.int64(orderID)])
        }
        try await phase([("result", "orderConfirmed"), ("intent", "committingReservation")])

        // 6. Commit the reservation: reservation row, then stock rows in SKU order.
        try await pool.withTransaction(retryable: true) { tx in
            _ = try await tx.query("SELECT id, version FROM \(s)reservations WHERE id = ? FOR UPDATE", [.string(reservationID)])
            var stock: [String: (Int64, Int64)] = [:]
            for r in try await tx.query(
                "SELECT sku, on_hand, reserved FROM \(s)stock WHERE sku IN \(skuList) ORDER BY sku FOR UPDATE",
                lines.map { .string($0.sku) })
            {
                stock[try r.string("sku")] = (try r.int64("on_hand"), try r.int64("reserved"))
            }
            var ledger: [MySQLValue] = []
            for l in lines {
                let (onHand, held) = stock[l.sku] ?? (0, 0)
                try await tx.execute(
                    "UPDATE \(s)stock SET on_hand = ?, reserved = ?, version = version + 1, updated_at = NOW(6) WHERE sku = ?",
                    [.int64(onHand - l.quantity), .int64(held - l.quantity), .string(l.sku)])
                ledger += [.string(l.sku), .int64(-l.quantity), .int64(-l.quantity), .int64(onHand - l.quantity), .int64(held - l.quantity), .string(reservationID)]
            }
            try await tx.execute(
                "INSERT INTO \(s)stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, reason, reference, created_at) VALUES "
                    + Array(repeating: "(?, ?, ?, ?, ?, 'commit', '', ?, NOW(6))", count: lines.count).joined(separator: ", "),
                ledger)
            let r = try await tx.execute(
                "UPDATE \(s)reservations SET state = 'committed', order_id = ?, version = version + 1, updated_at = NOW(6) WHERE id = ? AND version = 1",
                [.string(String(orderID)), .string(reservationID)])
            guard r.affectedRows == 1 else { throw LoadgenError("baseline: reservation changed concurrently") }
        }
        try await phase([("result", "completed"), ("finished", "completed")], final: true)
        return true
    }
}
