/// The shipments service talks to orders and payments only through these ports, so its logic and tests do
/// not depend on the other services' wire types. `Adapters/` maps them onto the typed clients of OMSAPI;
/// tests use in-memory fakes.
///
/// Every port method may be called more than once with the same arguments (the outbox relay delivers at
/// least once), so implementations must be idempotent as documented per method.

/// The fulfilment-relevant status of an order, as the orders service reports it.
public enum OrderFulfilmentStatus: String, Sendable, Hashable, CaseIterable {
    /// Created, waiting for payment authorization.
    case pendingPayment = "pending_payment"
    /// Paid (authorized) and not shipped yet.
    case confirmed
    /// Some units shipped.
    case partiallyShipped = "partially_shipped"
    /// Every unit shipped.
    case shipped
    /// Every shipment delivered.
    case delivered
    /// Cancelled.
    case cancelled
    /// Returned, partially returned, or a status this service does not know.
    case other

    /// Whether new shipments may be created for an order in this status.
    public var acceptsShipments: Bool { self == .confirmed || self == .partiallyShipped }
}

/// One line of an order as shipments needs it.
public struct OrderLineSnapshot: Sendable, Hashable {
    /// The order line id (unique within the order).
    public var lineID: String
    /// The SKU of the line.
    public var sku: String
    /// Units ordered.
    public var quantity: Int64
    /// Price of one unit in minor units of the order's currency.
    public var unitPriceMinor: Int64

    /// Creates a line.
    /// - Parameters:
    ///   - lineID: order line id.
    ///   - sku: SKU.
    ///   - quantity: units ordered.
    ///   - unitPriceMinor: unit price in minor units.
    public init(lineID: String, sku: String, quantity: Int64, unitPriceMinor: Int64) {
        self.lineID = lineID
        self.sku = sku
        self.quantity = quantity
        self.unitPriceMinor = unitPriceMinor
    }
}

/// What shipments needs to know about an order.
public struct OrderSnapshot: Sendable, Hashable {
    /// The order id (decimal form of a time-ordered 64-bit id).
    public var orderID: String
    /// Fulfilment status.
    public var status: OrderFulfilmentStatus
    /// ISO 4217 currency of every amount of the order.
    public var currency: String
    /// The order's lines.
    public var lines: [OrderLineSnapshot]
    /// The payment (authorization) to capture from; empty when the order has none.
    public var paymentID: String

    /// Creates a snapshot.
    /// - Parameters:
    ///   - orderID: order id.
    ///   - status: fulfilment status.
    ///   - currency: ISO 4217 code.
    ///   - lines: the lines.
    ///   - paymentID: the payment to capture from.
    public init(
        orderID: String, status: OrderFulfilmentStatus, currency: String, lines: [OrderLineSnapshot],
        paymentID: String
    ) {
        self.orderID = orderID
        self.status = status
        self.currency = currency
        self.lines = lines
        self.paymentID = paymentID
    }
}

/// Which shipment fact is reported to orders.
public enum ShipmentEventKind: String, Sendable, Hashable, CaseIterable {
    /// The shipment left the warehouse.
    case shipped
    /// The shipment reached the customer.
    case delivered
}

/// One shipped order line and its quantity.
public struct ShippedLineQuantity: Sendable, Hashable, Codable {
    /// The order line id.
    public var lineID: String
    /// Units in the shipment.
    public var quantity: Int64

    /// - Parameters:
    ///   - lineID: the order line id.
    ///   - quantity: units in the shipment.
    public init(lineID: String, quantity: Int64) {
        self.lineID = lineID
        self.quantity = quantity
    }

    enum CodingKeys: String, CodingKey {
        case lineID = "line_id"
        case quantity
    }
}

/// A shipment fact for the orders service.
public struct OrderShipmentEvent: Sendable, Hashable {
    /// The order.
    public var orderID: String
    /// The shipment (with `event`, the idempotency key of the record).
    public var shipmentID: String
    /// Shipped or delivered.
    public var event: ShipmentEventKind
    /// The shipment's lines.
    public var lines: [ShippedLineQuantity]
    /// When it happened, unix microseconds.
    public var atMicroseconds: Int64
    /// Informational: every unit of the order is shipped (after this shipment).
    public var orderFullyShipped: Bool
    /// Informational: every unit shipped and every live shipment of the order delivered.
    public var allDelivered: Bool

    /// Creates a record.
    /// - Parameters:
    ///   - orderID: order id.
    ///   - shipmentID: shipment id.
    ///   - event: shipped or delivered.
    ///   - lines: the shipment's lines.
    ///   - atMicroseconds: when, unix microseconds.
    ///   - orderFullyShipped: every unit of the order is shipped.
    ///   - allDelivered: every unit shipped and every shipment delivered.
    public init(
        orderID: String, shipmentID: String, event: ShipmentEventKind, lines: [ShippedLineQuantity],
        atMicroseconds: Int64, orderFullyShipped: Bool, allDelivered: Bool
    ) {
        self.orderID = orderID
        self.shipmentID = shipmentID
        self.event = event
        self.lines = lines
        self.atMicroseconds = atMicroseconds
        self.orderFullyShipped = orderFullyShipped
        self.allDelivered = allDelivered
    }
}

/// The orders service as shipments sees it.
public protocol OrdersPort: Sendable {
    /// Fetches an order.
    /// - Parameter orderID: the order id.
    /// - Returns: the order, or nil when it does not exist.
    /// - Throws: `RPCError` (e.g. 14 UNAVAILABLE) when the orders service cannot answer.
    func fetchOrder(orderID: String) async throws -> OrderSnapshot?

    /// Records a shipment fact on the order. Idempotent per (shipment id, event): repeating it changes
    /// nothing. The orders service moves the order to partially_shipped / shipped / delivered from these
    /// records.
    /// - Parameter record: the fact.
    /// - Throws: `RPCError`.
    func recordShipment(_ record: OrderShipmentEvent) async throws
}

/// A capture request for the payments service.
public struct CaptureCommand: Sendable, Hashable {
    /// The payment (authorization) to capture from.
    public var paymentID: String
    /// The order the payment belongs to (for logs and adapters that look payments up by order).
    public var orderID: String
    /// Amount in minor units.
    public var amountMinor: Int64
    /// ISO 4217 code.
    public var currency: String
    /// One capture per key: `shipment:<shipment id>`.
    public var idempotencyKey: String

    /// Creates a command.
    /// - Parameters:
    ///   - paymentID: the payment.
    ///   - orderID: the order.
    ///   - amountMinor: amount in minor units.
    ///   - currency: ISO 4217 code.
    ///   - idempotencyKey: the key.
    public init(paymentID: String, orderID: String, amountMinor: Int64, currency: String, idempotencyKey: String) {
        self.paymentID = paymentID
        self.orderID = orderID
        self.amountMinor = amountMinor
        self.currency = currency
        self.idempotencyKey = idempotencyKey
    }
}

/// The payments service as shipments sees it.
public protocol PaymentsPort: Sendable {
    /// Captures part of an authorization. Idempotent by `command.idempotencyKey`: a repeated key captures
    /// nothing more and answers the first result.
    /// - Parameter command: what to capture.
    /// - Returns: the capture id assigned by payments.
    /// - Throws: `RPCError`.
    func capture(_ command: CaptureCommand) async throws -> String
}
