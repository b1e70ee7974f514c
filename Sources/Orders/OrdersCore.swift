import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import OMSCore
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// The orders business logic over the `oms_orders` schema: creation (idempotent on the checkout id),
/// lifecycle transitions with optimistic locking and an audit event per transition, shipments,
/// returns through the `oms_request_return` procedure, and history reads that keep read-your-writes
/// when a replica is configured. `OrdersService` maps the wire types onto it.
public final class OrdersCore: Sendable {
    let database: MySQLDatabase
    let ids: OrderIDGenerator
    let logger: Logger
    let repository = OrderRepository()
    let recentWrites: RecentWrites
    private let now: @Sendable () -> Date
    /// Creates of concurrent callers, inserted together (see `create`).
    private let creates: BatchCoalescer<OrderRepository.NewOrderRow, Result<Void, any Error>>
    private let transitions = Counter(label: "oms_orders_transitions_total")
    private let conflicts = Counter(label: "oms_orders_version_conflicts_total")

    /// - Parameters:
    ///   - database: the primary (and optional replica) of `oms_orders`.
    ///   - ids: the id generator of this instance.
    ///   - recentWriteWindow: how long reads about a customer or an order this instance just wrote go to the
    ///     primary (read-your-writes without a token).
    ///   - maxCreateBatch: most concurrent creates inserted in one transaction (1: each alone).
    ///   - logger: logger.
    ///   - now: the clock.
    public init(
        database: MySQLDatabase, ids: OrderIDGenerator, recentWriteWindow: Duration = .seconds(5),
        maxCreateBatch: Int = defaultCreateBatch, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.ids = ids
        self.logger = logger
        self.now = now
        self.recentWrites = RecentWrites(window: recentWriteWindow)
        let repository = self.repository
        creates = BatchCoalescer(
            metricPrefix: "oms_orders", name: "create", maxBatchSize: maxCreateBatch, maxConcurrentBatches: 1,
            together: { rows in
                try await database.transaction(retryable: true) { tx in try await repository.insertBatch(tx, rows) }
                return rows.map { _ in () }
            },
            alone: { row in
                try await database.transaction(retryable: true) { tx in try await repository.insertBatch(tx, [row]) }
            })
    }

    /// Most orders created in one transaction, unless `write-batch-size` says otherwise.
    public static let defaultCreateBatch = 128

    // MARK: Create

    /// Creates an order in `pending_payment`, or returns the order already created for the checkout.
    /// - Parameters:
    ///   - order: the order.
    ///   - addressJSON: the shipping address as a JSON object.
    /// - Returns: the order and whether this call created it.
    /// - Throws: `RPCError` 3 for bad input, 6 when the checkout id was used with a different request.
    public func create(_ order: NewOrder) async throws -> (order: OrderRecord, created: Bool) {
        try OrderValidation.validate(order)
        let fingerprint = Self.fingerprint(order)
        // No read first: the unique checkout id decides (a repeat fails on order_checkouts and is
        // answered with the order recorded for it).
        let id = ids.next()
        let stamp = OrderID.date(of: id)
        do {
            // Concurrent creates share one transaction; a batch that cannot insert every order (a repeat
            // among them) is undone and each is created alone, so each keeps its own answer.
            try await creates.submit(
                OrderRepository.NewOrderRow(id: id, order: order, requestHash: fingerprint.value, now: stamp)
            ).get()
        } catch let e as MySQLError where e.kind == .duplicateKey {
            // A repeat, or a concurrent create of the same checkout that won: answer with its order.
            if let existing = try await existingOrder(checkoutID: order.checkoutID, fingerprint: fingerprint) {
                return (existing, false)
            }
            throw e
        } catch let e as MySQLError where e.kind == .checkViolation || e.kind == .dataError {
            throw RPCError(.invalidArgument, "order rejected by the schema's constraints", cause: e)
        }
        recentWrites.note(customerID: order.customer.id, orderID: id)
        transitions.increment()
        logger.info("order created", metadata: ["order_id": "\(id)", "checkout_id": "\(order.checkoutID)"])
        guard let created = try await database.primary.withConnection({ try await repository.load($0, id: id) }) else {
            throw RPCError(.internalError, "order \(id) vanished after creation")
        }
        return (created, true)
    }

    private func existingOrder(checkoutID: String, fingerprint: FingerprintVerifier) async throws -> OrderRecord? {
        try await database.primary.withConnection { c in
            guard let found = try await repository.checkout(c, checkoutID: checkoutID) else { return nil }
            guard found.orderID != OrderRepository.fenceOrderID else {
                throw RPCError(
                    .failedPrecondition, "checkout_id \(checkoutID) was cancelled before its order was created")
            }
            guard fingerprint.matches(found.hash) else {
                throw RPCError(.alreadyExists, "checkout_id \(checkoutID) already created a different order")
            }
            return try await repository.load(c, id: found.orderID)
        }
    }

    /// The fingerprint of a create request: what makes a repeat with the same checkout id the same request.
    static func fingerprint(_ o: NewOrder) -> FingerprintVerifier {
        var f = RequestFingerprint("create-order")
        f.append(o.checkoutID)
        f.append(o.customer.id)
        f.append(o.currency)
        f.append(o.reservationID)
        f.append(o.shippingAddressJSON)
        f.append(o.metadataJSON)
        f.append(list: o.lines) { line, l in
            line.append(l.sku)
            line.append(Int64(l.quantity))
            line.append(l.unitPriceMinor)
            line.append(l.productName)
            line.append(l.attributesJSON)
        }
        return FingerprintVerifier(f, legacy: LegacyFingerprint.orders(o))
    }

    // MARK: Transitions

    /// Confirms a pending order (payment authorized). Repeating it is harmless.
    /// - Parameters:
    ///   - orderID: the order.
    ///   - paymentReference: the payment id.
    ///   - paidMinor: the authorized amount (nil = the total); must not exceed the total.
    /// - Throws: `RPCError` 3, 5, 9 (e.g. confirm after cancel), 10 when a concurrent change won.
    public func confirm(
        orderID: Int64, paymentReference: String, paidMinor: Int64?, paidCurrency: String? = nil
    ) async throws -> OrderRecord {
        try FieldRules.identifier(paymentReference, field: "payment_id")
        if let paid = paidMinor, paid < 0 { throw RPCError.invalidArgument("paid: must not be negative") }
        return try await transition(orderID: orderID, event: .confirm, retryOnConflict: false) { order in
            // Checked inside the transition, before anything is written.
            if let currency = paidCurrency, currency != order.currency {
                throw RPCError.invalidArgument("paid.currency: differs from the order currency")
            }
            let paid = paidMinor ?? order.totalMinor
            guard paid <= order.totalMinor else { throw RPCError.invalidArgument("paid: exceeds the order total") }
            return (["payment_id": paymentReference, "paid_minor": String(paid)], paymentReference, paid, nil)
        }
    }

    /// Cancels an order that has not shipped. Repeating it is harmless.
    /// - Parameters:
    ///   - orderID: the order.
    ///   - reason: written on the order and its event.
    ///   - onlyIfPending: refuse (9) unless the order is still `pending_payment` (or already cancelled),
    ///     checked against the version the cancellation writes over (the pending-order sweep).
    /// - Throws: `RPCError` 3, 5, 9 (anything shipped), 10 when a concurrent change won.
    public func cancel(orderID: Int64, reason: String, onlyIfPending: Bool = false) async throws -> OrderRecord {
        try FieldRules.text(reason, field: "reason", max: 500)
        return try await transition(orderID: orderID, event: .cancel, retryOnConflict: false) { order in
            if onlyIfPending && order.status != .pendingPayment {
                throw RPCError(.failedPrecondition, "order \(orderID) is \(order.status), no longer pending payment")
            }
            return (["reason": reason], nil, nil, reason)
        }
    }

    /// Cancels the order a checkout created, or, when it created none yet, fences the checkout: the
    /// fence takes the checkout id's unique row, so a CreateOrder arriving later is refused (9) and
    /// cannot leave a `pending_payment` order that nothing would sweep.
    /// - Parameter onlyIfPending: see `cancel(orderID:reason:onlyIfPending:)`.
    /// - Returns: the cancelled order, or nil when the checkout was fenced (now or before).
    /// - Throws: `RPCError` 3 for a bad checkout id or reason.
    public func cancel(checkoutID: String, reason: String, onlyIfPending: Bool = false) async throws -> OrderRecord? {
        try FieldRules.identifier(checkoutID, field: "checkout_id")
        try FieldRules.text(reason, field: "reason", max: 500)
        do {
            let stamp = now()
            try await database.transaction(retryable: true) { tx in
                try await repository.insertFence(tx, checkoutID: checkoutID, now: stamp)
            }
            logger.info("checkout fenced before its order", metadata: ["checkout_id": "\(checkoutID)"])
            return nil
        } catch let e as MySQLError where e.kind == .duplicateKey {
            let found = try await database.primary.withConnection { c in
                try await repository.checkout(c, checkoutID: checkoutID)
            }
            guard let found else { throw e }
            if found.orderID == OrderRepository.fenceOrderID { return nil }
            return try await cancel(orderID: found.orderID, reason: reason, onlyIfPending: onlyIfPending)
        }
    }

    /// Orders still `pending_payment` created before `date`, oldest first (the pending-order sweep).
    /// - Throws: `MySQLError`.
    public func pendingPayment(createdBefore date: Date, limit: Int) async throws -> [(orderID: Int64, checkoutID: String)] {
        try await database.primary.withConnection {
            try await repository.pendingPayment($0, beforeID: OrderID.firstID(at: date), limit: limit)
        }
    }

    /// The status of an order on the primary, or nil when it does not exist.
    /// - Throws: `MySQLError`.
    public func status(orderID: Int64) async throws -> OrderStatus? {
        try await database.primary.withConnection { try await repository.load($0, id: orderID) }?.status
    }

    typealias TransitionExtras = (detail: [String: String], payment: String?, paid: Int64?, reason: String?)

    /// Reads the order, asks the state machine, writes status + event if the version is unchanged.
    private func transition(
        orderID: Int64, event: OrderLifecycleEvent, retryOnConflict: Bool,
        extras: (OrderRecord) throws -> TransitionExtras
    ) async throws -> OrderRecord {
        guard orderID > 0 else { throw RPCError.invalidArgument("order_id: is required") }
        var attempt = 0
        while true {
            attempt += 1
            guard let order = try await database.primary.withConnection({ try await repository.load($0, id: orderID) })
            else { throw RPCError.notFound("order \(orderID) does not exist") }
            let step = try OrderStateMachine.transition(from: order.status, on: event)
            guard case .moved(let from, let to) = step else { return order }
            if attempt > 1 && !retryOnConflict {
                throw RPCError(.aborted, "order \(orderID) changed concurrently; read it and retry")
            }
            let x = try extras(order)
            let stamp = now()
            let ok = try await database.transaction(retryable: true) { tx -> Bool in
                guard
                    try await repository.updateStatus(
                        tx, orderID: orderID, version: order.version, to: to, now: stamp, paymentReference: x.payment,
                        paidMinor: x.paid, cancelReason: x.reason)
                else { return false }
                try await repository.insertEvent(
                    tx, orderID: orderID, seq: order.version + 1, event: event.name, from: from, to: to,
                    detail: x.detail, now: stamp)
                return true
            }
            if ok {
                transitions.increment()
                recentWrites.note(customerID: order.customer.id, orderID: orderID)
                logger.info(
                    "order transition",
                    metadata: ["order_id": "\(orderID)", "from": "\(from)", "to": "\(to)", "event": "\(event.name)"])
                // What the row now holds, without reading it again (the version check made it ours).
                var updated = order
                updated.status = to
                updated.version = order.version + 1
                updated.updatedAt = MySQLValue.storedDatetime(stamp)
                if let p = x.payment { updated.paymentReference = p }
                if let p = x.paid { updated.paidMinor = p }
                if let r = x.reason { updated.cancelReason = r }
                return updated
            }
            conflicts.increment()
            if attempt >= 8 { throw RPCError(.aborted, "order \(orderID) keeps changing; retry later") }
        }
    }

    // MARK: Shipments

    /// Records a shipment (shipped or delivered) reported by the shipments service; idempotent per shipment
    /// id and kind. Moves the order to partially_shipped / shipped / delivered.
    /// - Throws: `RPCError` 3, 5, 9 (e.g. more units than ordered, order cancelled).
    public func recordShipment(_ report: ShipmentReport) async throws -> OrderRecord {
        try OrderValidation.validate(report)
        var attempt = 0
        while true {
            attempt += 1
            let outcome: OrderRecord? = try await database.transaction(retryable: true) { tx -> OrderRecord? in
                let c = tx.connection
                guard let order = try await repository.load(c, id: report.orderID) else {
                    throw RPCError.notFound("order \(report.orderID) does not exist")
                }
                let known = try await c.queryOne(
                    "SELECT order_id, status FROM order_shipments WHERE shipment_id = ? FOR UPDATE",
                    [.string(report.shipmentID)])
                if let known, try known.int64("order_id") != report.orderID {
                    throw RPCError.invalidArgument("shipment_id: belongs to another order")
                }
                let knownStatus = try known?.string("status")
                if knownStatus == "delivered" || (knownStatus == "shipped" && report.kind == .shipped) {
                    return order  // repeated report
                }
                var lines = order.lines
                let stamp = now()
                if knownStatus == nil {
                    // New shipment: add its units.
                    guard !report.lines.isEmpty else {
                        throw RPCError.invalidArgument("lines: an unknown shipment needs its lines")
                    }
                    for l in report.lines {
                        guard let i = lines.firstIndex(where: { $0.lineNo == l.lineNo }) else {
                            throw RPCError.invalidArgument("lines: order has no line \(l.lineNo)")
                        }
                        guard lines[i].shippedQuantity + l.quantity <= lines[i].quantity else {
                            throw RPCError.failedPrecondition("line \(l.lineNo): more units shipped than ordered")
                        }
                        lines[i].shippedQuantity += l.quantity
                    }
                }
                let everythingShipped = lines.allSatisfy { $0.shippedQuantity == $0.quantity }
                var events: [OrderLifecycleEvent] = []
                if knownStatus == nil { events.append(.ship(everythingShipped: everythingShipped)) }
                if report.kind == .delivered {
                    let openOthers = try await c.queryOne(
                        "SELECT COUNT(*) AS n FROM order_shipments WHERE order_id = ? AND shipment_id <> ? AND status = 'shipped'",
                        [.int64(report.orderID), .string(report.shipmentID)])
                    let othersOpen = try openOthers?.int("n") ?? 0
                    events.append(.deliver(everythingDelivered: everythingShipped && othersOpen == 0))
                }
                var machine = OrderStateMachine(status: order.status)
                var steps: [(OrderLifecycleEvent, OrderStatus, OrderStatus)] = []
                for e in events {
                    let before = machine.status
                    try machine.apply(e)
                    steps.append((e, before, machine.status))
                }
                let finalStatus = machine.status
                let result = try await c.execute(
                    "UPDATE orders SET status = ?, version = version + ?, updated_at = ? WHERE id = ? AND version = ?",
                    [
                        .string(finalStatus.rawValue), .int32(Int32(steps.count)), .datetime(stamp),
                        .int64(order.id), .int32(Int32(order.version)),
                    ])
                guard result.affectedRows == 1 else { return nil }  // concurrent change: retry
                if knownStatus == nil {
                    for l in report.lines {
                        try await c.execute(
                            "UPDATE order_items SET shipped_qty = shipped_qty + ? WHERE order_id = ? AND line_no = ?",
                            [.int32(Int32(l.quantity)), .int64(order.id), .int32(Int32(l.lineNo))])
                    }
                    let linesJSON = try JSONSerialization.data(
                        withJSONObject: report.lines.map { ["line_no": $0.lineNo, "quantity": $0.quantity] })
                    try await c.execute(
                        """
                        INSERT INTO order_shipments (shipment_id, order_id, status, shipped_lines, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                        [
                            .string(report.shipmentID), .int64(order.id), .string(report.kind.rawValue),
                            .json(String(decoding: linesJSON, as: UTF8.self)), .datetime(stamp), .datetime(stamp),
                        ])
                } else {
                    try await c.execute(
                        "UPDATE order_shipments SET status = 'delivered', updated_at = ? WHERE shipment_id = ?",
                        [.datetime(stamp), .string(report.shipmentID)])
                }
                for (i, step) in steps.enumerated() {
                    try await repository.insertEvent(
                        tx, orderID: order.id, seq: order.version + 1 + i, event: step.0.name, from: step.1, to: step.2,
                        detail: ["shipment_id": report.shipmentID], now: stamp)
                }
                try await c.execute(
                    "UPDATE order_search SET status = ? WHERE order_id = ?",
                    [.string(finalStatus.rawValue), .int64(order.id)])
                return try await repository.load(c, id: order.id)
            }
            if let outcome {
                recentWrites.note(customerID: outcome.customer.id, orderID: outcome.id)
                return outcome
            }
            conflicts.increment()
            if attempt >= 8 { throw RPCError(.aborted, "order \(report.orderID) keeps changing; retry later") }
        }
    }

    // MARK: Returns

    /// Records a return through `oms_request_return` (quantities ≤ shipped − returned, pro-rata refund,
    /// new status, event, outbox rows for the refund and the restock), all in one transaction.
    /// Repeating a request key returns the first return.
    /// - Throws: `RPCError` 3, 5, 9 (over-return, wrong status), 10 after repeated conflicts.
    public func requestReturn(_ request: ReturnRequest) async throws -> (ReturnRecord, OrderRecord) {
        try OrderValidation.validate(request)
        let linesJSON = try JSONSerialization.data(
            withJSONObject: request.lines.map { ["line_no": $0.lineNo, "quantity": $0.quantity] })
        var attempt = 0
        while true {
            attempt += 1
            do {
                let stamp = now()
                let result = try await database.transaction(retryable: true) { tx -> (ReturnRecord, OrderRecord) in
                    try await tx.execute(
                        "CALL oms_request_return(?, ?, ?, ?, ?)",
                        [
                            .int64(request.orderID), .string(request.requestKey),
                            .string(String(decoding: linesJSON, as: UTF8.self)), .string(request.reason),
                            .datetime(stamp),
                        ])
                    guard
                        let row = try await tx.queryOne(
                            "SELECT id, order_id, currency, refund_minor FROM order_returns WHERE request_key = ?",
                            [.string(request.requestKey)]),
                        let order = try await repository.load(tx.connection, id: request.orderID)
                    else { throw RPCError(.internalError, "return was not recorded") }
                    try await tx.execute(
                        "UPDATE order_search SET status = ? WHERE order_id = ?",
                        [.string(order.status.rawValue), .int64(order.id)])
                    let record = ReturnRecord(
                        id: try row.int64("id"), orderID: try row.int64("order_id"),
                        refund: OrderMoney(minorUnits: try row.int64("refund_minor"), currency: try row.string("currency")),
                        orderStatus: order.status, orderVersion: order.version)
                    return (record, order)
                }
                recentWrites.note(customerID: result.1.customer.id, orderID: result.1.id)
                logger.info(
                    "return recorded",
                    metadata: [
                        "order_id": "\(request.orderID)", "return_id": "\(result.0.id)",
                        "refund_minor": "\(result.0.refund.minorUnits)",
                    ])
                return result
            } catch let e as MySQLError where e.number == 1644 {
                let mapped = Self.procedureError(e)
                if mapped.code == .aborted, attempt < 8 {
                    conflicts.increment()
                    continue
                }
                throw mapped
            }
        }
    }

    /// Maps a SIGNAL of the procedure (`"<STATUS>: message"`) to an RPC error.
    static func procedureError(_ e: MySQLError) -> RPCError {
        let codes: [(String, RPCStatusCode)] = [
            ("INVALID_ARGUMENT", .invalidArgument), ("NOT_FOUND", .notFound),
            ("FAILED_PRECONDITION", .failedPrecondition), ("ABORTED", .aborted),
        ]
        for (name, code) in codes {
            if let r = e.message.range(of: name + ": ") {
                return RPCError(code, String(e.message[r.upperBound...]), cause: e)
            }
        }
        return RPCError(.internalError, "return failed", cause: e)
    }

    // MARK: Reads

    /// Picks the pool for a read: the replica unless the caller (token) or this instance (recent write)
    /// needs a write the replica may not have yet.
    func readConnection<R: Sendable>(
        _ consistency: ReadConsistency, customerID: String? = nil, orderID: Int64? = nil,
        _ body: (MySQLConnection) async throws -> R
    ) async throws -> R {
        let needsPrimary =
            database.replica == nil || consistency.primaryOnly
            || recentWrites.isRecent(customerID: customerID, orderID: orderID)
        if needsPrimary { return try await database.primary.withConnection(body) }
        if let minimum = consistency.minimumOrder {
            let fresh = try await database.read { c in
                (try await repository.version(c, id: minimum.id) ?? 0) >= minimum.version
            }
            if !fresh { return try await database.primary.withConnection(body) }
        }
        return try await database.read(body)
    }

    /// One order by id, with its audit trail when asked.
    /// - Throws: `RPCError` 5 when absent.
    public func get(orderID: Int64, includeEvents: Bool = false, consistency: ReadConsistency = ReadConsistency())
        async throws -> (OrderRecord, [OrderEventRecord])
    {
        guard orderID > 0 else { throw RPCError.invalidArgument("order_id: is required") }
        return try await readConnection(consistency, orderID: orderID) { c in
            guard let o = try await repository.load(c, id: orderID) else {
                throw RPCError.notFound("order \(orderID) does not exist")
            }
            return (o, includeEvents ? try await repository.events(c, orderID: orderID) : [])
        }
    }

    /// The order a checkout created (how the coordinator resolves an unknown CreateOrder outcome). Always
    /// read from the primary.
    /// - Throws: `RPCError` 5 when the checkout created none.
    public func get(checkoutID: String, includeEvents: Bool = false) async throws -> (OrderRecord, [OrderEventRecord]) {
        try FieldRules.identifier(checkoutID, field: "checkout_id")
        return try await database.primary.withConnection { c in
            guard let found = try await repository.checkout(c, checkoutID: checkoutID),
                let o = try await repository.load(c, id: found.orderID)
            else { throw RPCError.notFound("checkout \(checkoutID) has no order") }
            return (o, includeEvents ? try await repository.events(c, orderID: o.id) : [])
        }
    }

    /// A customer's orders, newest first; the cursor is the last id of the previous page, so orders
    /// inserted meanwhile (larger ids) never shift later pages.
    /// - Throws: `RPCError` 3 for a bad customer id, page size or cursor.
    public func list(
        customerID: String, pageSize: Int, cursor: String?, consistency: ReadConsistency = ReadConsistency()
    ) async throws -> OrderPage {
        try FieldRules.identifier(customerID, field: "customer_id", max: FieldLimits.maxCustomerIDLength)
        guard (1...100).contains(pageSize) else { throw RPCError.invalidArgument("page_size: must be in 1...100") }
        let before = try Self.parseCursor(cursor)
        return try await readConnection(consistency, customerID: customerID) { c in
            let ids = try await repository.customerOrderIDs(c, customerID: customerID, beforeID: before, limit: pageSize + 1)
            let page = Array(ids.prefix(pageSize))
            let orders = try await repository.loadMany(c, ids: page)
            return OrderPage(orders: orders, nextCursor: ids.count > pageSize ? page.last.map { "o\($0)" } : nil)
        }
    }

    static func parseCursor(_ cursor: String?) throws -> Int64? {
        guard let cursor, !cursor.isEmpty else { return nil }
        guard cursor.hasPrefix("o"), let id = Int64(cursor.dropFirst()), id > 0 else {
            throw RPCError.invalidArgument("page_token: is not a token this service issued")
        }
        return id
    }

    /// Full-text search over order id, product names, customer name and e-mail, with filters.
    /// - Throws: `RPCError` 3 for bad filters.
    public func search(_ query: OrderSearchQuery, cursor: String? = nil, consistency: ReadConsistency = ReadConsistency())
        async throws -> OrderPage
    {
        try OrderValidation.validate(query)
        var q = query
        q.beforeID = try Self.parseCursor(cursor)
        let (fullText, exactID) = Self.fullTextQuery(query.text)
        if !query.text.isEmpty && fullText == nil && exactID == nil { return OrderPage(orders: [], nextCursor: nil) }
        let limit = q.limit
        q.limit = limit + 1
        let orders = try await readConnection(consistency) { c in
            let ids = try await repository.search(c, q, fullText: fullText, exactID: exactID)
            return (try await repository.loadMany(c, ids: Array(ids.prefix(limit))), ids.count > limit)
        }
        return OrderPage(orders: orders.0, nextCursor: orders.1 ? orders.0.last.map { "o\($0.id)" } : nil)
    }

    /// Turns free text into a boolean-mode full-text query: every word of 3+ characters required, as a
    /// prefix; an all-digit text is also an exact order id.
    static func fullTextQuery(_ text: String) -> (String?, Int64?) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let exact = Int64(trimmed).flatMap { $0 > 0 ? $0 : nil }
        let words = trimmed.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
            .filter { $0.count >= 3 && !stopwords.contains($0) }
        let ft = words.isEmpty ? nil : words.map { "+\($0)*" }.joined(separator: " ")
        return (ft, exact)
    }

    /// InnoDB's default full-text stopwords: a required stopword would match nothing.
    static let stopwords: Set<String> = [
        "about", "are", "com", "for", "from", "how", "that", "the", "this", "was", "what", "when", "where", "who",
        "will", "with", "und", "www",
    ]
}

/// Which customers and orders this instance wrote recently (reads about them go to the primary).
final class RecentWrites: Sendable {
    private struct Entries {
        var customers: [String: ContinuousClock.Instant] = [:]
        var orders: [Int64: ContinuousClock.Instant] = [:]
    }

    private let entries = NIOLockedValueBox(Entries())
    private let window: Duration

    init(window: Duration) { self.window = window }

    func note(customerID: String, orderID: Int64) {
        let until = ContinuousClock.now + window
        entries.withLockedValue { e in
            e.customers[customerID] = until
            e.orders[orderID] = until
            if e.customers.count > 100_000 || e.orders.count > 100_000 {
                let now = ContinuousClock.now
                e.customers = e.customers.filter { $0.value > now }
                e.orders = e.orders.filter { $0.value > now }
            }
        }
    }

    func isRecent(customerID: String?, orderID: Int64?) -> Bool {
        let now = ContinuousClock.now
        return entries.withLockedValue { e in
            if let customerID, let t = e.customers[customerID], t > now { return true }
            if let orderID, let t = e.orders[orderID], t > now { return true }
            return false
        }
    }
}
