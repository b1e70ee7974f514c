import Foundation
import OMSCore
import OMSMySQL

/// SQL of the orders schema. Every statement is a fixed string with `?` placeholders; caller data
/// only ever travels as bound values.
struct OrderRepository: Sendable {
    static let orderColumns = """
        id, checkout_id, customer_id, customer_name, customer_email, status, currency, total_minor, paid_minor, \
        refunded_minor, payment_reference, reservation_id, cancel_reason, shipping_address, metadata, version, \
        created_at, updated_at
        """

    /// `order_checkouts.order_id` of a fence: the checkout was cancelled before any order existed.
    static let fenceOrderID: Int64 = 0

    // MARK: Writes (inside a transaction)

    /// Takes a checkout id for no order (see `OrdersCore.cancel(checkoutID:reason:)`).
    /// - Throws: `MySQLError` `.duplicateKey` when the checkout id has an order or a fence already.
    func insertFence(_ tx: MySQLTransaction, checkoutID: String, now: Date) async throws {
        try await tx.execute(
            "INSERT INTO order_checkouts (checkout_id, order_id, request_hash, created_at) VALUES (?, ?, 'fence', ?)",
            [.string(checkoutID), .int64(Self.fenceOrderID), .datetime(now)])
    }

    /// One order of a batched create (see `insertBatch`).
    struct NewOrderRow: Sendable {
        var id: Int64
        var order: NewOrder
        var requestHash: String
        var now: Date
    }

    /// Inserts orders, each with its lines, its `created` event, its checkout key and its search
    /// document: one multi-row statement per table, whether for one order or a batch.
    /// - Throws: `MySQLError` (`.duplicateKey` when any checkout id exists: the caller then creates the
    ///   orders one by one, so each gets its own answer).
    func insertBatch(_ tx: MySQLTransaction, _ rows: [NewOrderRow]) async throws {
        func values(_ tuple: String, _ count: Int) -> String {
            Array(repeating: tuple, count: count).joined(separator: ", ")
        }
        try await tx.execute(
            "INSERT INTO order_checkouts (checkout_id, order_id, request_hash, created_at) VALUES "
                + values("(?, ?, ?, ?)", rows.count),
            rows.flatMap { r -> [MySQLValue] in
                [.string(r.order.checkoutID), .int64(r.id), .string(r.requestHash), .datetime(r.now)]
            })
        try await tx.execute(
            """
            INSERT INTO orders (id, checkout_id, customer_id, customer_name, customer_email, status, currency,
                total_minor, paid_minor, refunded_minor, reservation_id, shipping_address, metadata, version,
                created_at, updated_at)
            VALUES
            """ + " " + values("(?, ?, ?, ?, ?, 'pending_payment', ?, ?, 0, 0, ?, ?, ?, 1, ?, ?)", rows.count),
            rows.flatMap { r -> [MySQLValue] in
                let o = r.order
                return [
                    .int64(r.id), .string(o.checkoutID), .string(o.customer.id), .string(o.customer.name),
                    .string(o.customer.email), .string(o.currency), .int64(o.totalMinor ?? 0),
                    o.reservationID.isEmpty ? .null : .string(o.reservationID), .json(o.shippingAddressJSON),
                    .json(o.metadataJSON.isEmpty ? "{}" : o.metadataJSON), .datetime(r.now), .datetime(r.now),
                ]
            })
        let lines = rows.flatMap { r in r.order.lines.enumerated().map { (r.id, $0.offset + 1, $0.element) } }
        if !lines.isEmpty {
            try await tx.execute(
                """
                INSERT INTO order_items (order_id, line_no, sku, product_name, quantity, unit_price_minor,
                    line_total_minor, attributes)
                VALUES
                """ + " " + values("(?, ?, ?, ?, ?, ?, ?, ?)", lines.count),
                lines.flatMap { id, no, line -> [MySQLValue] in
                    [
                        .int64(id), .int32(Int32(no)), .string(line.sku), .string(line.productName),
                        .int32(line.quantity), .int64(line.unitPriceMinor),
                        .int64(line.unitPriceMinor * Int64(line.quantity)),
                        .json(line.attributesJSON.isEmpty ? "{}" : line.attributesJSON),
                    ]
                })
        }
        try await tx.execute(
            "INSERT INTO order_events (order_id, seq, event, from_status, to_status, detail, created_at) VALUES "
                + values("(?, 1, 'created', NULL, ?, ?, ?)", rows.count),
            rows.flatMap { r -> [MySQLValue] in
                [
                    .int64(r.id), .string(OrderStatus.pendingPayment.rawValue),
                    .json(JSONText.object(["checkout_id": r.order.checkoutID])), .datetime(r.now),
                ]
            })
        try await tx.execute(
            "INSERT INTO order_search (order_id, customer_id, status, created_at, doc) VALUES "
                + values("(?, ?, 'pending_payment', ?, ?)", rows.count),
            rows.flatMap { r -> [MySQLValue] in
                [
                    .int64(r.id), .string(r.order.customer.id), .datetime(r.now),
                    .string(Self.searchDocument(
                        id: r.id, customer: r.order.customer, productNames: r.order.lines.map(\.productName))),
                ]
            })
    }

    /// The text indexed for search: order id, product names, customer name and e-mail (with its parts
    /// split out, since the full-text parser breaks words at `@` and `.`).
    static func searchDocument(id: Int64, customer: OrderCustomer, productNames: [String]) -> String {
        var parts = [String(id), customer.name, customer.email]
        parts.append(contentsOf: productNames)
        return parts.joined(separator: " \n")
    }

    /// Writes one audit-trail row.
    func insertEvent(
        _ tx: MySQLTransaction, orderID: Int64, seq: Int, event: String, from: OrderStatus?, to: OrderStatus,
        detail: [String: String], now: Date
    ) async throws {
        try await tx.execute(
            """
            INSERT INTO order_events (order_id, seq, event, from_status, to_status, detail, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .int64(orderID), .int32(Int32(seq)), .string(event), from.map { .string($0.rawValue) } ?? .null,
                .string(to.rawValue), .json(JSONText.object(detail)), .datetime(now),
            ])
    }

    /// Moves an order to `to` if it is still at `version`; also sets the optional columns.
    /// - Returns: false when another writer got there first (0 rows).
    func updateStatus(
        _ tx: MySQLTransaction, orderID: Int64, version: Int, to: OrderStatus, now: Date,
        paymentReference: String? = nil, paidMinor: Int64? = nil, cancelReason: String? = nil
    ) async throws -> Bool {
        let result = try await tx.execute(
            """
            UPDATE orders SET status = ?, version = version + 1, updated_at = ?,
                payment_reference = COALESCE(?, payment_reference), paid_minor = COALESCE(?, paid_minor),
                cancel_reason = COALESCE(?, cancel_reason)
            WHERE id = ? AND version = ?
            """,
            [
                .string(to.rawValue), .datetime(now), .optional(paymentReference) { .string($0) },
                .optional(paidMinor) { .int64($0) }, .optional(cancelReason) { .string($0) }, .int64(orderID),
                .int32(Int32(version)),
            ])
        guard result.affectedRows == 1 else { return false }
        try await tx.execute(
            "UPDATE order_search SET status = ? WHERE order_id = ?", [.string(to.rawValue), .int64(orderID)])
        return true
    }

    // MARK: Reads

    /// Loads an order with its lines, or nil.
    func load(_ c: MySQLConnection, id: Int64) async throws -> OrderRecord? {
        guard let row = try await c.queryOne("SELECT \(Self.orderColumns) FROM orders WHERE id = ?", [.int64(id)])
        else { return nil }
        var order = try Self.order(from: row)
        order.lines = try await lines(c, ids: [id])[id] ?? []
        return order
    }

    /// The version of an order, or nil when absent (replica freshness probe).
    func version(_ c: MySQLConnection, id: Int64) async throws -> Int? {
        try await c.queryOne("SELECT version FROM orders WHERE id = ?", [.int64(id)]).map { try $0.int("version") }
    }

    /// The order id recorded for a checkout, with the hash of its request.
    func checkout(_ c: MySQLConnection, checkoutID: String) async throws -> (orderID: Int64, hash: String)? {
        try await c.queryOne(
            "SELECT order_id, request_hash FROM order_checkouts WHERE checkout_id = ?", [.string(checkoutID)]
        ).map { (try $0.int64("order_id"), try $0.string("request_hash")) }
    }

    /// Lines of several orders.
    func lines(_ c: MySQLConnection, ids: [Int64]) async throws -> [Int64: [OrderLine]] {
        guard !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let rows = try await c.query(
            """
            SELECT order_id, line_no, sku, product_name, quantity, unit_price_minor, line_total_minor, shipped_qty,
                returned_qty, attributes
            FROM order_items WHERE order_id IN (\(marks)) ORDER BY order_id, line_no
            """, ids.map { .int64($0) })
        var result: [Int64: [OrderLine]] = [:]
        for row in rows {
            let line = OrderLine(
                lineNo: try row.int("line_no"), sku: try row.string("sku"), productName: try row.string("product_name"),
                quantity: try row.int("quantity"), unitPriceMinor: try row.int64("unit_price_minor"),
                lineTotalMinor: try row.int64("line_total_minor"), shippedQuantity: try row.int("shipped_qty"),
                returnedQuantity: try row.int("returned_qty"), attributesJSON: try row.json("attributes"))
            result[try row.int64("order_id"), default: []].append(line)
        }
        return result
    }

    /// Orders by id list, keeping the given order, lines included.
    func loadMany(_ c: MySQLConnection, ids: [Int64]) async throws -> [OrderRecord] {
        guard !ids.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let rows = try await c.query(
            "SELECT \(Self.orderColumns) FROM orders WHERE id IN (\(marks))", ids.map { .int64($0) })
        var byID: [Int64: OrderRecord] = [:]
        for row in rows {
            let o = try Self.order(from: row)
            byID[o.id] = o
        }
        let lines = try await lines(c, ids: ids)
        return ids.compactMap { id in
            guard var o = byID[id] else { return nil }
            o.lines = lines[id] ?? []
            return o
        }
    }

    /// The audit trail of an order, oldest first.
    func events(_ c: MySQLConnection, orderID: Int64) async throws -> [OrderEventRecord] {
        try await c.query(
            """
            SELECT seq, event, from_status, to_status, detail, created_at FROM order_events
            WHERE order_id = ? ORDER BY seq
            """, [.int64(orderID)]
        ).map { row in
            OrderEventRecord(
                seq: try row.int("seq"), event: try row.string("event"),
                fromStatus: try row.optionalString("from_status").flatMap(OrderStatus.init(rawValue:)),
                toStatus: OrderStatus(rawValue: try row.string("to_status")) ?? .pendingPayment,
                detailJSON: try row.json("detail"), createdAt: try row.date("created_at"))
        }
    }

    /// Orders in `pending_payment` with an id below `beforeID` (created before the instant it stands for),
    /// oldest first. `orders` has no status index; the search table's `(status, order_id)` finds them and is
    /// written in the same transactions, and the status is checked on `orders` itself.
    func pendingPayment(_ c: MySQLConnection, beforeID: Int64, limit: Int) async throws
        -> [(orderID: Int64, checkoutID: String)]
    {
        try await c.query(
            """
            SELECT o.id, o.checkout_id FROM order_search s JOIN orders o ON o.id = s.order_id
            WHERE s.status = 'pending_payment' AND s.order_id < ? AND o.status = 'pending_payment'
            ORDER BY s.order_id LIMIT ?
            """, [.int64(beforeID), .int64(Int64(limit))]
        ).map { (try $0.int64("id"), try $0.string("checkout_id")) }
    }

    /// A customer's order ids below `beforeID`, newest first.
    func customerOrderIDs(_ c: MySQLConnection, customerID: String, beforeID: Int64?, limit: Int) async throws
        -> [Int64]
    {
        try await c.query(
            "SELECT id FROM orders WHERE customer_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            [.string(customerID), .int64(beforeID ?? Int64.max), .int64(Int64(limit))]
        ).map { try $0.int64("id") }
    }

    /// Order ids matching a search, newest first. The SQL is assembled from fixed fragments only.
    func search(_ c: MySQLConnection, _ q: OrderSearchQuery, fullText: String?, exactID: Int64?) async throws
        -> [Int64]
    {
        var sql = "SELECT o.id FROM orders o WHERE 1 = 1"
        var binds: [MySQLValue] = []
        // Date range → id range, so the partitions outside it are pruned.
        if let from = q.createdFrom {
            sql += " AND o.id >= ? AND o.created_at >= ?"
            binds += [.int64(OrderID.firstID(at: from)), .datetime(from)]
        }
        if let before = q.createdBefore {
            sql += " AND o.id < ? AND o.created_at < ?"
            binds += [.int64(OrderID.firstID(at: before.addingTimeInterval(0.001))), .datetime(before)]
        }
        if let beforeID = q.beforeID {
            sql += " AND o.id < ?"
            binds.append(.int64(beforeID))
        }
        if !q.statuses.isEmpty {
            sql += " AND o.status IN (" + Array(repeating: "?", count: q.statuses.count).joined(separator: ", ") + ")"
            binds += q.statuses.map { .string($0.rawValue) }
        }
        if let p = q.deliveryPreference {
            sql += " AND o.delivery_preference = ?"
            binds.append(.string(p))
        }
        if q.giftOnly { sql += " AND o.is_gift = 1" }
        if q.itemColour != nil || q.itemSize != nil {
            sql += " AND o.id IN (SELECT i.order_id FROM order_items i WHERE 1 = 1"
            if let colour = q.itemColour {
                sql += " AND i.attr_colour = ?"
                binds.append(.string(colour))
            }
            if let size = q.itemSize {
                sql += " AND i.attr_size = ?"
                binds.append(.string(size))
            }
            sql += ")"
        }
        switch (fullText, exactID) {
        case (let text?, let id?):
            sql += " AND (o.id = ? OR o.id IN (SELECT s.order_id FROM order_search s"
            sql += " WHERE MATCH(s.doc) AGAINST (? IN BOOLEAN MODE)))"
            binds += [.int64(id), .string(text)]
        case (let text?, nil):
            sql += " AND o.id IN (SELECT s.order_id FROM order_search s WHERE MATCH(s.doc) AGAINST (? IN BOOLEAN MODE))"
            binds.append(.string(text))
        case (nil, let id?):
            sql += " AND o.id = ?"
            binds.append(.int64(id))
        case (nil, nil):
            break
        }
        sql += " ORDER BY o.id DESC LIMIT ?"
        binds.append(.int64(Int64(q.limit)))
        return try await c.query(sql, binds).map { try $0.int64("id") }
    }

    static func order(from row: MySQLRow) throws -> OrderRecord {
        OrderRecord(
            id: try row.int64("id"), checkoutID: try row.string("checkout_id"),
            customer: OrderCustomer(
                id: try row.string("customer_id"), name: try row.string("customer_name"),
                email: try row.string("customer_email")),
            status: OrderStatus(rawValue: try row.string("status")) ?? .pendingPayment,
            currency: try row.string("currency"), totalMinor: try row.int64("total_minor"),
            paidMinor: try row.int64("paid_minor"), refundedMinor: try row.int64("refunded_minor"),
            paymentReference: try row.optionalString("payment_reference"),
            reservationID: try row.optionalString("reservation_id"),
            cancelReason: try row.optionalString("cancel_reason"),
            shippingAddressJSON: try row.json("shipping_address"), metadataJSON: try row.json("metadata"),
            version: try row.int("version"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), lines: [])
    }
}
