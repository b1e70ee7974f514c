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

    /// Inserts the order, its lines, the `created` event, the checkout key and the search document.
    /// - Throws: `MySQLError` (`.duplicateKey` when the checkout id exists).
    func insert(
        _ tx: MySQLTransaction, id: Int64, order: NewOrder, addressJSON: String, requestHash: String, now: Date
    ) async throws {
        try await tx.execute(
            "INSERT INTO order_checkouts (checkout_id, order_id, request_hash, created_at) VALUES (?, ?, ?, ?)",
            [.string(order.checkoutID), .int64(id), .string(requestHash), .datetime(now)])
        try await tx.execute(
            """
            INSERT INTO orders (id, checkout_id, customer_id, customer_name, customer_email, status, currency,
                total_minor, paid_minor, refunded_minor, reservation_id, shipping_address, metadata, version,
                created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, 'pending_payment', ?, ?, 0, 0, ?, ?, ?, 1, ?, ?)
            """,
            [
                .int64(id), .string(order.checkoutID), .string(order.customer.id), .string(order.customer.name),
                .string(order.customer.email), .string(order.currency), .int64(order.totalMinor ?? 0),
                order.reservationID.isEmpty ? .null : .string(order.reservationID), .json(addressJSON),
                .json(order.metadataJSON.isEmpty ? "{}" : order.metadataJSON), .datetime(now), .datetime(now),
            ])
        // Every line in one multi-row INSERT (one round trip whatever the cart size).
        var itemBinds: [MySQLValue] = []
        itemBinds.reserveCapacity(order.lines.count * 8)
        for (i, line) in order.lines.enumerated() {
            itemBinds += [
                .int64(id), .int32(Int32(i + 1)), .string(line.sku), .string(line.productName),
                .int32(line.quantity), .int64(line.unitPriceMinor),
                .int64(line.unitPriceMinor * Int64(line.quantity)),
                .json(line.attributesJSON.isEmpty ? "{}" : line.attributesJSON),
            ]
        }
        if !order.lines.isEmpty {
            try await tx.execute(
                """
                INSERT INTO order_items (order_id, line_no, sku, product_name, quantity, unit_price_minor,
                    line_total_minor, attributes)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: order.lines.count).joined(separator: ", "))
                """, itemBinds)
        }
        try await insertEvent(
            tx, orderID: id, seq: 1, event: "created", from: nil, to: .pendingPayment,
            detail: ["checkout_id": order.checkoutID], now: now)
        let doc = Self.searchDocument(
            id: id, customer: order.customer, productNames: order.lines.map(\.productName))
        try await tx.execute(
            "INSERT INTO order_search (order_id, customer_id, status, created_at, doc) VALUES (?, ?, 'pending_payment', ?, ?)",
            [.int64(id), .string(order.customer.id), .datetime(now), .string(doc)])
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
