import Foundation
import Logging
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSServiceKit

/// `oms.orders.v1.Orders`: maps the wire types onto `OrdersCore`.
public struct OrdersService: OrdersV1.OrdersService {
    /// The business logic.
    public let core: OrdersCore
    /// TEST-ONLY crash points (`failpoint`); off unless a test arms them.
    let failpoints: Failpoints<OrdersFailpoint>

    /// - Parameters:
    ///   - core: the business logic.
    ///   - failpoints: TEST-ONLY crash points.
    public init(core: OrdersCore, failpoints: Failpoints<OrdersFailpoint> = .off) {
        self.core = core
        self.failpoints = failpoints
    }

    /// Builds the service over a database.
    /// - Parameters:
    ///   - database: primary (and optional replica) of `oms_orders`.
    ///   - nodeID: this instance's node id for order ids (0..<1024).
    ///   - recentWriteWindow: read-your-writes window for this instance's own writes.
    ///   - writeBatchSize: most concurrent creates inserted together (1: each alone).
    ///   - failpoints: TEST-ONLY crash points.
    ///   - logger: logger.
    public init(
        database: MySQLDatabase, nodeID: Int, recentWriteWindow: Duration = .seconds(5),
        writeBatchSize: Int = OrdersCore.defaultCreateBatch, failpoints: Failpoints<OrdersFailpoint> = .off,
        logger: Logger
    ) {
        self.core = OrdersCore(
            database: database, ids: OrderIDGenerator(node: nodeID), recentWriteWindow: recentWriteWindow,
            maxCreateBatch: writeBatchSize, logger: logger)
        self.failpoints = failpoints
    }

    // MARK: RPCs

    public func createOrder(_ request: OrdersV1.CreateOrderRequest, context: ServerContext) async throws
        -> OrdersV1.CreateOrderResponse
    {
        let order = try Self.newOrder(from: request)
        let created = try await core.create(order)
        if created.created { failpoints.reach(.afterCreate, logger: core.logger) }
        var response = OrdersV1.CreateOrderResponse()
        response.order = Self.wire(created.order)
        return response
    }

    public func confirmOrder(_ request: OrdersV1.ConfirmOrderRequest, context: ServerContext) async throws
        -> OrdersV1.ConfirmOrderResponse
    {
        let id = try Self.orderID(request.orderID)
        var paid: Int64?
        if let money = request.paid {
            try FieldRules.currency(money.currency, field: "paid.currency")
            paid = money.amountMinor
        }
        let order = try await core.confirm(
            orderID: id, paymentReference: request.paymentID, paidMinor: paid, paidCurrency: request.paid?.currency)
        var response = OrdersV1.ConfirmOrderResponse()
        response.order = Self.wire(order)
        return response
    }

    public func cancelOrder(_ request: OrdersV1.CancelOrderRequest, context: ServerContext) async throws
        -> OrdersV1.CancelOrderResponse
    {
        var response = OrdersV1.CancelOrderResponse()
        switch (request.orderID.isEmpty, request.checkoutID.isEmpty) {
        case (false, true):
            response.order = Self.wire(try await core.cancel(orderID: try Self.orderID(request.orderID), reason: request.reason))
        case (true, false):
            response.order = try await core.cancel(checkoutID: request.checkoutID, reason: request.reason).map(Self.wire)
        default:
            throw FieldRules.invalid("order_id", "exactly one of order_id and checkout_id is required")
        }
        return response
    }

    public func getOrder(_ request: OrdersV1.GetOrderRequest, context: ServerContext) async throws
        -> OrdersV1.GetOrderResponse
    {
        let found: (OrderRecord, [OrderEventRecord])
        switch (request.orderID.isEmpty, request.checkoutID.isEmpty) {
        case (false, true):
            found = try await core.get(
                orderID: try Self.orderID(request.orderID), includeEvents: request.includeEvents,
                consistency: try Self.consistency(request.consistencyToken))
        case (true, false):
            found = try await core.get(checkoutID: request.checkoutID, includeEvents: request.includeEvents)
        default:
            throw RPCError.invalidArgument("order_id: give exactly one of order_id and checkout_id")
        }
        var response = OrdersV1.GetOrderResponse()
        response.order = Self.wire(found.0)
        response.events = found.1.map { Self.wire($0, orderID: found.0.id) }
        return response
    }

    public func listOrders(_ request: OrdersV1.ListOrdersRequest, context: ServerContext) async throws
        -> OrdersV1.ListOrdersResponse
    {
        let page = try await core.list(
            customerID: request.customerID, pageSize: request.pageSize == 0 ? 20 : Int(min(request.pageSize, 1000)),
            cursor: request.pageToken, consistency: try Self.consistency(request.consistencyToken))
        var response = OrdersV1.ListOrdersResponse()
        response.orders = page.orders.map(Self.wire)
        response.nextPageToken = page.nextCursor ?? ""
        return response
    }

    public func searchOrders(_ request: OrdersV1.SearchOrdersRequest, context: ServerContext) async throws
        -> OrdersV1.SearchOrdersResponse
    {
        var statuses: [OrderStatus] = []
        for s in request.statuses {
            guard let status = Self.status(s) else { throw RPCError.invalidArgument("statuses: unknown status") }
            statuses.append(status)
        }
        guard request.createdFromUs >= 0, request.createdToUs >= 0 else {
            throw RPCError.invalidArgument("created_from_us: must not be negative")
        }
        let query = OrderSearchQuery(
            text: request.query, statuses: statuses,
            createdFrom: request.createdFromUs == 0 ? nil : Date(unixMicroseconds: request.createdFromUs),
            createdBefore: request.createdToUs == 0 ? nil : Date(unixMicroseconds: request.createdToUs),
            deliveryPreference: request.deliveryPreference.isEmpty ? nil : request.deliveryPreference,
            giftOnly: request.giftOnly, itemColour: request.itemColour.isEmpty ? nil : request.itemColour,
            itemSize: request.itemSize.isEmpty ? nil : request.itemSize,
            limit: request.pageSize == 0 ? 20 : Int(min(request.pageSize, 1000)))
        let page = try await core.search(
            query, cursor: request.pageToken, consistency: try Self.consistency(request.consistencyToken))
        var response = OrdersV1.SearchOrdersResponse()
        response.orders = page.orders.map(Self.wire)
        response.nextPageToken = page.nextCursor ?? ""
        return response
    }

    public func requestReturn(_ request: OrdersV1.RequestReturnRequest, context: ServerContext) async throws
        -> OrdersV1.RequestReturnResponse
    {
        let id = try Self.orderID(request.orderID)
        var lines: [ReturnRequest.Line] = []
        for (i, l) in request.lines.enumerated() {
            guard let n = Int(l.lineID), n > 0 else { throw RPCError.invalidArgument("lines[\(i)].line_id: unknown line") }
            try FieldRules.quantity(l.quantity, field: "lines[\(i)].quantity")
            lines.append(ReturnRequest.Line(lineNo: n, quantity: Int(l.quantity)))
        }
        let (record, order) = try await core.requestReturn(
            ReturnRequest(orderID: id, requestKey: request.returnID, lines: lines, reason: request.reason))
        var r = OrdersV1.OrderReturn()
        r.returnID = request.returnID
        r.orderID = String(record.orderID)
        r.lines = request.lines
        r.refundAmount = Self.money(record.refund.minorUnits, record.refund.currency)
        r.reason = request.reason
        r.status = .requested
        var response = OrdersV1.RequestReturnResponse()
        response.orderReturn = r
        response.order = Self.wire(order)
        return response
    }

    public func recordShipment(_ request: OrdersV1.RecordShipmentRequest, context: ServerContext) async throws
        -> OrdersV1.RecordShipmentResponse
    {
        let id = try Self.orderID(request.orderID)
        let kind: ShipmentReport.Kind
        switch request.kind {
        case .shipped: kind = .shipped
        case .delivered: kind = .delivered
        default: throw RPCError.invalidArgument("kind: must be SHIPPED or DELIVERED")
        }
        var lines: [ShipmentReport.Line] = []
        for (i, l) in request.lines.enumerated() {
            guard let n = Int(l.lineID), n > 0 else { throw RPCError.invalidArgument("lines[\(i)].line_id: unknown line") }
            try FieldRules.quantity(l.quantity, field: "lines[\(i)].quantity")
            lines.append(ShipmentReport.Line(lineNo: n, quantity: Int(l.quantity)))
        }
        let order = try await core.recordShipment(
            ShipmentReport(orderID: id, shipmentID: request.shipmentID, kind: kind, lines: lines))
        var response = OrdersV1.RecordShipmentResponse()
        response.order = Self.wire(order)
        return response
    }

    // MARK: Outbox parking (operators)

    /// The parked outbox rows of this schema.
    var parking: OutboxParking { OutboxParking(database: core.database, logger: core.logger) }

    /// ListParkedOutbox: the rows the relay gave up on, oldest first (validated: page size at most 500).
    public func listParkedOutbox(_ request: OrdersV1.ListParkedOutboxRequest, context: ServerContext) async throws
        -> OrdersV1.ListParkedOutboxResponse
    {
        let rows = try await parking.parked(limit: request.pageSize == 0 ? 50 : Int(request.pageSize))
        return OrdersV1.ListParkedOutboxResponse(entries: rows.map(Self.wire))
    }

    /// ResumeOutbox: a parked row goes back to delivery.
    /// - Throws: `RPCError` 5 for an unknown row (3 for a malformed id, from validation).
    public func resumeOutbox(_ request: OrdersV1.ResumeOutboxRequest, context: ServerContext) async throws
        -> OrdersV1.ResumeOutboxResponse
    {
        guard let row = try await parking.resume(outboxID: Int64(request.outboxID) ?? 0) else {
            throw RPCError(.notFound, "no outbox row \(request.outboxID)")
        }
        return OrdersV1.ResumeOutboxResponse(entry: Self.wire(row))
    }

    // MARK: Mapping

    static func wire(_ e: OutboxEntryRecord) -> OrdersV1.OutboxEntry {
        OrdersV1.OutboxEntry(
            outboxID: String(e.id), kind: e.kind, orderID: String(e.orderID), dedupeKey: e.dedupeKey,
            attempts: UInt32(clamping: e.attempts), lastError: e.lastError ?? "", createdAtUs: e.createdAt.unixMicroseconds,
            parkedAtUs: e.parkedAt?.unixMicroseconds ?? 0, deliveredAtUs: e.deliveredAt?.unixMicroseconds ?? 0)
    }

    /// The new order a CreateOrder request describes, with the checks that need the wire types
    /// (`OrderValidation.validate(_:)` checks the rest when the core creates it).
    /// - Throws: `RPCError` 3 naming the first offending field.
    public static func newOrder(from request: OrdersV1.CreateOrderRequest) throws -> NewOrder {
        guard let customer = request.customer else { throw FieldRules.invalid("customer", "is required") }
        try FieldRules.address(request.shippingAddress)
        let address = request.shippingAddress ?? CommonV1.Address()
        let currency = request.lines.first?.unitPrice?.currency ?? ""
        var lines: [NewOrderLine] = []
        for (i, line) in request.lines.enumerated() {
            guard let price = line.unitPrice else { throw RPCError.invalidArgument("lines[\(i)].unit_price: is required") }
            guard price.currency == currency else {
                throw RPCError.invalidArgument("lines[\(i)].unit_price.currency: every line must use one currency")
            }
            try FieldRules.quantity(line.quantity, field: "lines[\(i)].quantity")
            lines.append(
                NewOrderLine(
                    sku: line.sku, productName: line.productName, quantity: Int32(line.quantity),
                    unitPriceMinor: price.amountMinor, attributesJSON: line.attributesJson))
        }
        var order = NewOrder(
            checkoutID: request.checkoutID,
            customer: OrderCustomer(id: customer.customerID, name: customer.name, email: customer.email),
            currency: currency, lines: lines, shippingAddressJSON: Self.json(address), metadataJSON: request.metadataJson)
        order.reservationID = request.reservationID
        if !order.reservationID.isEmpty { try FieldRules.identifier(order.reservationID, field: "reservation_id") }
        return order
    }

    static func orderID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else { throw RPCError.invalidArgument("order_id: is not an order id") }
        return id
    }

    static func consistency(_ token: String) throws -> ReadConsistency {
        if token.isEmpty { return ReadConsistency() }
        guard let c = ReadConsistency(token: token) else {
            throw RPCError.invalidArgument("consistency_token: is not a token this service issued")
        }
        return c
    }

    static func json(_ a: CommonV1.Address) -> String {
        let object: [String: String] = [
            "name": a.name, "line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
            "postal_code": a.postalCode, "country": a.country, "phone": a.phone,
        ]
        return JSONText.object(object)
    }

    static func address(_ json: String) -> CommonV1.Address {
        var a = CommonV1.Address()
        guard let o = JSONText.parseObject(json) else { return a }
        a.name = o["name"] as? String ?? ""
        a.line1 = o["line1"] as? String ?? ""
        a.line2 = o["line2"] as? String ?? ""
        a.city = o["city"] as? String ?? ""
        a.region = o["region"] as? String ?? ""
        a.postalCode = o["postal_code"] as? String ?? ""
        a.country = o["country"] as? String ?? ""
        a.phone = o["phone"] as? String ?? ""
        return a
    }

    static func money(_ minor: Int64, _ currency: String) -> CommonV1.Money {
        var m = CommonV1.Money()
        m.amountMinor = minor
        m.currency = currency
        return m
    }


    static func status(_ s: OrderStatus) -> OrdersV1.OrderStatus {
        switch s {
        case .pendingPayment: .pendingPayment
        case .confirmed: .confirmed
        case .partiallyShipped: .partiallyShipped
        case .shipped: .shipped
        case .delivered: .delivered
        case .cancelled: .cancelled
        case .partiallyReturned: .partiallyReturned
        case .returned: .returned
        }
    }

    /// The status `s` stands for (the inverse of the mapping above), or nil for one this service does not have.
    static func status(_ s: OrdersV1.OrderStatus) -> OrderStatus? {
        OrderStatus.allCases.first { status($0) == s }
    }

    static func wire(_ o: OrderRecord) -> OrdersV1.Order {
        var w = OrdersV1.Order()
        w.orderID = String(o.id)
        w.checkoutID = o.checkoutID
        var c = CommonV1.Customer()
        c.customerID = o.customer.id
        c.name = o.customer.name
        c.email = o.customer.email
        w.customer = c
        w.lines = o.lines.map { l in
            var line = OrdersV1.Order.Line()
            line.lineID = String(l.lineNo)
            line.sku = l.sku
            line.productName = l.productName
            line.quantity = Int64(l.quantity)
            line.unitPrice = money(l.unitPriceMinor, o.currency)
            line.lineTotal = money(l.lineTotalMinor, o.currency)
            line.attributesJson = l.attributesJSON
            line.shippedQuantity = Int64(l.shippedQuantity)
            line.returnedQuantity = Int64(l.returnedQuantity)
            return line
        }
        w.shippingAddress = address(o.shippingAddressJSON)
        w.metadataJson = o.metadataJSON
        w.status = status(o.status)
        w.subtotal = money(o.totalMinor, o.currency)
        w.total = money(o.totalMinor, o.currency)
        w.refunded = money(o.refundedMinor, o.currency)
        w.paid = money(o.paidMinor, o.currency)
        w.reservationID = o.reservationID ?? ""
        w.paymentID = o.paymentReference ?? ""
        w.cancelReason = o.cancelReason ?? ""
        w.createdAtUs = o.createdAt.unixMicroseconds
        w.updatedAtUs = o.updatedAt.unixMicroseconds
        w.version = Int64(o.version)
        w.consistencyToken = ReadConsistency.writeToken(for: o)
        return w
    }

    static func wire(_ e: OrderEventRecord, orderID: Int64) -> OrdersV1.OrderEvent {
        var w = OrdersV1.OrderEvent()
        w.eventID = "\(orderID):\(e.seq)"
        w.orderID = String(orderID)
        w.fromStatus = e.fromStatus.map(status) ?? .unspecified
        w.toStatus = status(e.toStatus)
        w.kind = e.event
        w.detailJson = e.detailJSON
        w.atUs = e.createdAt.unixMicroseconds
        return w
    }
}
