import Foundation
import OMSMySQL
import OMSRPCCore

/// Something that runs prepared statements: a pooled connection or a running transaction.
protocol SQLExecutor: Sendable {
    func query(_ sql: String, _ binds: [MySQLValue], timeout: Duration?) async throws -> [MySQLRow]
    func execute(_ sql: String, _ binds: [MySQLValue], timeout: Duration?) async throws -> MySQLExecuteResult
}

extension MySQLConnection: SQLExecutor {}
extension MySQLTransaction: SQLExecutor {}

extension SQLExecutor {
    func rows(_ sql: String, _ binds: [MySQLValue] = []) async throws -> [MySQLRow] {
        try await query(sql, binds, timeout: nil)
    }

    func row(_ sql: String, _ binds: [MySQLValue] = []) async throws -> MySQLRow? {
        try await query(sql, binds, timeout: nil).first
    }

    @discardableResult
    func run(_ sql: String, _ binds: [MySQLValue] = []) async throws -> MySQLExecuteResult {
        try await execute(sql, binds, timeout: nil)
    }
}

/// One row of `order_line_allocations`.
struct LineAllocation: Sendable, Hashable {
    var lineID: String
    var ordered: Int64
    var allocated: Int64
    var shipped: Int64
    var delivered: Int64
}

/// Thrown inside a transaction when an optimistic `version` check updated no row; the caller reruns.
struct VersionConflict: Error {}

/// SQL of the shipments schema. Every caller-supplied value travels as a bound parameter.
struct ShipmentsRepository: Sendable {
    // MARK: Reads

    /// Loads a shipment with its lines and events, or nil.
    func load(_ db: some SQLExecutor, id: Int64) async throws -> StoredShipment? {
        guard
            let r = try await db.row(
                """
                SELECT id, order_id, warehouse, status, payment_id, currency, amount_minor, carrier, tracking_number,
                       cancel_reason, version, created_at, updated_at
                FROM shipments WHERE id = ?
                """, [.int64(id)])
        else { return nil }
        return try await assemble(db, r)
    }

    /// Shipments of an order with id > `after`, ascending, at most `limit`.
    func list(_ db: some SQLExecutor, orderID: Int64, after: Int64, limit: Int) async throws -> [StoredShipment] {
        let rows = try await db.rows(
            """
            SELECT id, order_id, warehouse, status, payment_id, currency, amount_minor, carrier, tracking_number,
                   cancel_reason, version, created_at, updated_at
            FROM shipments WHERE order_id = ? AND id > ? ORDER BY id LIMIT ?
            """, [.int64(orderID), .int64(after), .int64(Int64(limit))])
        var result: [StoredShipment] = []
        for r in rows { result.append(try await assemble(db, r)) }
        return result
    }

    private func assemble(_ db: some SQLExecutor, _ r: MySQLRow) async throws -> StoredShipment {
        let id = try r.int64("id")
        guard let state = ShipmentState(rawValue: try r.string("status")) else {
            throw RPCError(.internalError, "shipment \(id) has an unknown status")
        }
        let lines = try await db.rows(
            "SELECT line_id, sku, quantity, unit_price_minor FROM shipment_lines WHERE shipment_id = ? ORDER BY position",
            [.int64(id)]
        ).map {
            StoredShipmentLine(
                lineID: try $0.string("line_id"), sku: try $0.string("sku"), quantity: try $0.int64("quantity"),
                unitPriceMinor: try $0.int64("unit_price_minor"))
        }
        let events = try await db.rows(
            "SELECT status, detail, at FROM shipment_tracking_events WHERE shipment_id = ? ORDER BY id",
            [.int64(id)]
        ).map {
            StoredTrackingEvent(
                state: ShipmentState(rawValue: try $0.string("status")) ?? .pending, detail: try $0.string("detail"),
                at: try $0.date("at"))
        }
        return StoredShipment(
            id: id, orderID: try r.int64("order_id"), warehouse: try r.string("warehouse"), state: state,
            paymentID: try r.string("payment_id"), currency: try r.string("currency"),
            amountMinor: try r.int64("amount_minor"), carrier: try r.optionalString("carrier"),
            trackingNumber: try r.optionalString("tracking_number"), cancelReason: try r.optionalString("cancel_reason"),
            version: try r.int64("version"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
            lines: lines, events: events)
    }

    /// The shipment created under an idempotency key, and the request fingerprint stored with it.
    func findByIdempotencyKey(_ db: some SQLExecutor, key: String) async throws -> (id: Int64, requestHash: String)? {
        guard
            let r = try await db.row(
                "SELECT id, request_hash FROM shipments WHERE idempotency_key = ?", [.string(key)])
        else { return nil }
        return (try r.int64("id"), try r.optionalString("request_hash") ?? "")
    }

    // MARK: Allocations

    /// Makes sure every line of the order has an allocation row. Autocommit, one row per statement, no-op
    /// for rows that exist (order lines never change), so it can run before the locking transaction.
    func seedAllocations(_ db: some SQLExecutor, order: OrderSnapshot, orderID: Int64, now: Date) async throws {
        for line in order.lines where line.quantity > 0 {
            try await db.run(
                """
                INSERT INTO order_line_allocations
                  (order_id, line_id, sku, ordered_quantity, unit_price_minor, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE order_id = order_id
                """,
                [
                    .int64(orderID), .string(line.lineID), .string(line.sku), .int64(line.quantity),
                    .int64(line.unitPriceMinor), .datetime(now),
                ])
        }
    }

    /// Locks one allocation row by primary key (`SELECT … FOR UPDATE`).
    func lockAllocation(_ tx: MySQLTransaction, orderID: Int64, lineID: String) async throws -> LineAllocation? {
        try await tx.row(
            """
            SELECT line_id, ordered_quantity, allocated_quantity, shipped_quantity, delivered_quantity
            FROM order_line_allocations WHERE order_id = ? AND line_id = ? FOR UPDATE
            """, [.int64(orderID), .string(lineID)]
        ).map(Self.allocation)
    }

    /// Locks every allocation row of an order, in primary-key order.
    func lockAllocations(_ tx: MySQLTransaction, orderID: Int64) async throws -> [LineAllocation] {
        try await tx.rows(
            """
            SELECT line_id, ordered_quantity, allocated_quantity, shipped_quantity, delivered_quantity
            FROM order_line_allocations WHERE order_id = ? ORDER BY line_id FOR UPDATE
            """, [.int64(orderID)]
        ).map(Self.allocation)
    }

    private static func allocation(_ r: MySQLRow) throws -> LineAllocation {
        LineAllocation(
            lineID: try r.string("line_id"), ordered: try r.int64("ordered_quantity"),
            allocated: try r.int64("allocated_quantity"), shipped: try r.int64("shipped_quantity"),
            delivered: try r.int64("delivered_quantity"))
    }

    /// Which counter of an allocation row a move changes.
    enum AllocationColumn: String {
        case allocated = "allocated_quantity"
        case shipped = "shipped_quantity"
        case delivered = "delivered_quantity"
    }

    /// Adds `delta` to one counter of a locked allocation row.
    func adjustAllocation(
        _ tx: MySQLTransaction, orderID: Int64, lineID: String, column: AllocationColumn, delta: Int64, now: Date
    ) async throws {
        // The column name comes from the enum above, never from a caller.
        let sql: String
        switch column {
        case .allocated:
            sql = "UPDATE order_line_allocations SET allocated_quantity = allocated_quantity + ?, updated_at = ? "
                + "WHERE order_id = ? AND line_id = ?"
        case .shipped:
            sql = "UPDATE order_line_allocations SET shipped_quantity = shipped_quantity + ?, updated_at = ? "
                + "WHERE order_id = ? AND line_id = ?"
        case .delivered:
            sql = "UPDATE order_line_allocations SET delivered_quantity = delivered_quantity + ?, updated_at = ? "
                + "WHERE order_id = ? AND line_id = ?"
        }
        let r = try await tx.run(sql, [.int64(delta), .datetime(now), .int64(orderID), .string(lineID)])
        guard r.affectedRows == 1 else {
            throw RPCError(.internalError, "allocation of order \(orderID) line \(lineID) is missing")
        }
    }

    // MARK: Writes

    /// Inserts a new pending shipment with its lines and first tracking event.
    func insertShipment(
        _ tx: MySQLTransaction, id: Int64, orderID: Int64, warehouse: String, paymentID: String, currency: String,
        amountMinor: Int64, idempotencyKey: String?, fingerprint: String?, lines: [StoredShipmentLine], now: Date
    ) async throws {
        try await tx.run(
            """
            INSERT INTO shipments
              (id, order_id, warehouse, status, payment_id, currency, amount_minor, idempotency_key, request_hash,
               version, created_at, updated_at)
            VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, 1, ?, ?)
            """,
            [
                .int64(id), .int64(orderID), .string(warehouse), .string(paymentID), .string(currency),
                .int64(amountMinor), .optional(idempotencyKey, MySQLValue.string),
                .optional(fingerprint, MySQLValue.string), .datetime(now), .datetime(now),
            ])
        for (position, line) in lines.enumerated() {
            try await tx.run(
                """
                INSERT INTO shipment_lines (shipment_id, line_id, position, sku, quantity, unit_price_minor)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    .int64(id), .string(line.lineID), .int64(Int64(position)), .string(line.sku),
                    .int64(line.quantity), .int64(line.unitPriceMinor),
                ])
        }
        try await addEvent(tx, shipmentID: id, state: .pending, detail: "shipment created at warehouse \(warehouse)", at: now)
    }

    /// Moves a shipment to `state` if it still has `version`; sets the timestamp column of the state and
    /// the extra columns given.
    /// - Throws: `VersionConflict` when another writer changed the shipment first.
    func updateState(
        _ tx: MySQLTransaction, id: Int64, expectedVersion: Int64, to state: ShipmentState, label: String? = nil,
        cancelReason: String? = nil, now: Date
    ) async throws {
        let sql: String
        var binds: [MySQLValue] = [.datetime(now)]
        switch state {
        case .labelCreated:
            sql = "UPDATE shipments SET status = 'label_created', updated_at = ?, label = ?, version = version + 1 "
                + "WHERE id = ? AND version = ?"
            binds.append(.optional(label, MySQLValue.json))
        case .shipped:
            sql = "UPDATE shipments SET status = 'shipped', updated_at = ?, shipped_at = ?, version = version + 1 "
                + "WHERE id = ? AND version = ?"
            binds.append(.datetime(now))
        case .delivered:
            sql = "UPDATE shipments SET status = 'delivered', updated_at = ?, delivered_at = ?, version = version + 1 "
                + "WHERE id = ? AND version = ?"
            binds.append(.datetime(now))
        case .cancelled:
            sql = "UPDATE shipments SET status = 'cancelled', updated_at = ?, cancelled_at = ?, cancel_reason = ?, "
                + "version = version + 1 WHERE id = ? AND version = ?"
            binds.append(.datetime(now))
            binds.append(.optional(cancelReason, MySQLValue.string))
        case .pending:
            throw RPCError(.internalError, "no move leads back to pending")
        }
        binds.append(.int64(id))
        binds.append(.int64(expectedVersion))
        let r = try await tx.run(sql, binds)
        if r.affectedRows != 1 { throw VersionConflict() }
    }

    /// Appends a tracking event.
    func addEvent(_ tx: MySQLTransaction, shipmentID: Int64, state: ShipmentState, detail: String, at: Date) async throws {
        try await tx.run(
            "INSERT INTO shipment_tracking_events (shipment_id, status, detail, at) VALUES (?, ?, ?, ?)",
            [.int64(shipmentID), .string(state.rawValue), .string(String(detail.prefix(600))), .datetime(at)])
    }

    /// Kinds of outbox rows.
    enum OutboxKind: String, Sendable {
        case capture
        case orderShipped = "order_shipped"
        case orderDelivered = "order_delivered"

        var target: String { self == .capture ? "payments" : "orders" }
    }

    /// Writes an outbox row (in the caller's transaction).
    func enqueue(
        _ tx: MySQLTransaction, shipmentID: Int64, orderID: Int64, kind: OutboxKind, idempotencyKey: String,
        payload: String, now: Date
    ) async throws {
        try await tx.run(
            """
            INSERT INTO outbox
              (shipment_id, order_id, target, kind, idempotency_key, payload, status, attempts, next_attempt_at,
               created_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
            """,
            [
                .int64(shipmentID), .int64(orderID), .string(kind.target), .string(kind.rawValue),
                .string(idempotencyKey), .json(payload), .datetime(now), .datetime(now),
            ])
    }
}
