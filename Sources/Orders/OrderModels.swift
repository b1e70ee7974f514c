import Foundation

/// An amount of money in integer minor units of an ISO 4217 currency.
public struct OrderMoney: Sendable, Hashable {
    /// Minor units (cents for EUR).
    public var minorUnits: Int64
    /// ISO 4217 code, upper case.
    public var currency: String

    /// - Parameters:
    ///   - minorUnits: the amount in minor units.
    ///   - currency: ISO 4217 code.
    public init(minorUnits: Int64, currency: String) {
        self.minorUnits = minorUnits
        self.currency = currency
    }
}

/// Who placed an order.
public struct OrderCustomer: Sendable, Hashable {
    /// The customer's stable id.
    public var id: String
    /// Display name (searchable).
    public var name: String
    /// E-mail address (searchable).
    public var email: String

    /// - Parameters:
    ///   - id: stable customer id.
    ///   - name: display name.
    ///   - email: e-mail address.
    public init(id: String, name: String, email: String) {
        self.id = id
        self.name = name
        self.email = email
    }
}

/// One line of a new order.
public struct NewOrderLine: Sendable, Hashable {
    /// Stock keeping unit.
    public var sku: String
    /// Product name at the time of the order (searchable).
    public var productName: String
    /// Units ordered (> 0).
    public var quantity: Int32
    /// Price of one unit in minor units of the order currency (≥ 0).
    public var unitPriceMinor: Int64
    /// JSON object of line attributes (`size`, `colour`, `engraving`, …); empty means `{}`.
    public var attributesJSON: String

    /// - Parameters:
    ///   - sku: SKU.
    ///   - productName: product name.
    ///   - quantity: units.
    ///   - unitPriceMinor: unit price in minor units.
    ///   - attributesJSON: JSON object text.
    public init(sku: String, productName: String, quantity: Int32, unitPriceMinor: Int64, attributesJSON: String = "{}") {
        self.sku = sku
        self.productName = productName
        self.quantity = quantity
        self.unitPriceMinor = unitPriceMinor
        self.attributesJSON = attributesJSON
    }
}

/// What CreateOrder receives.
public struct NewOrder: Sendable, Hashable {
    /// The checkout that creates the order; CreateOrder is idempotent on it.
    public var checkoutID: String
    /// The customer.
    public var customer: OrderCustomer
    /// ISO 4217 currency of every amount.
    public var currency: String
    /// The lines (1...100).
    public var lines: [NewOrderLine]
    /// JSON object of the shipping address.
    public var shippingAddressJSON: String
    /// JSON object of order metadata (`gift`, `gift_message`, `delivery_preference`, …); empty means `{}`.
    public var metadataJSON: String
    /// The inventory reservation behind the order, if any.
    public var reservationID: String = ""

    /// - Parameters:
    ///   - checkoutID: checkout id.
    ///   - customer: customer.
    ///   - currency: ISO 4217 code.
    ///   - lines: lines.
    ///   - shippingAddressJSON: JSON object text.
    ///   - metadataJSON: JSON object text.
    public init(
        checkoutID: String, customer: OrderCustomer, currency: String, lines: [NewOrderLine],
        shippingAddressJSON: String, metadataJSON: String = "{}"
    ) {
        self.checkoutID = checkoutID
        self.customer = customer
        self.currency = currency
        self.lines = lines
        self.shippingAddressJSON = shippingAddressJSON
        self.metadataJSON = metadataJSON
    }

    /// The total of the lines in minor units (nil on overflow).
    public var totalMinor: Int64? {
        var total: Int64 = 0
        for line in lines {
            let (product, o1) = line.unitPriceMinor.multipliedReportingOverflow(by: Int64(line.quantity))
            let (sum, o2) = total.addingReportingOverflow(product)
            if o1 || o2 { return nil }
            total = sum
        }
        return total
    }
}

/// A stored order line.
public struct OrderLine: Sendable, Hashable {
    /// 1-based line number.
    public var lineNo: Int
    /// SKU.
    public var sku: String
    /// Product name.
    public var productName: String
    /// Units ordered.
    public var quantity: Int
    /// Unit price in minor units.
    public var unitPriceMinor: Int64
    /// `quantity × unitPriceMinor`.
    public var lineTotalMinor: Int64
    /// Units shipped so far.
    public var shippedQuantity: Int
    /// Units returned so far.
    public var returnedQuantity: Int
    /// JSON object of attributes.
    public var attributesJSON: String
}

/// A stored order.
public struct OrderRecord: Sendable, Hashable {
    /// Time-ordered id (see `OrderID`).
    public var id: Int64
    /// The checkout that created it.
    public var checkoutID: String
    /// The customer.
    public var customer: OrderCustomer
    /// Lifecycle state.
    public var status: OrderStatus
    /// ISO 4217 currency.
    public var currency: String
    /// Sum of the lines.
    public var totalMinor: Int64
    /// Amount paid (authorized) at confirmation.
    public var paidMinor: Int64
    /// Amount refunded by returns so far (never above `paidMinor`).
    public var refundedMinor: Int64
    /// Payment id given at confirmation.
    public var paymentReference: String?
    /// Inventory reservation id given at creation.
    public var reservationID: String?
    /// Reason given at cancellation.
    public var cancelReason: String?
    /// JSON shipping address.
    public var shippingAddressJSON: String
    /// JSON metadata.
    public var metadataJSON: String
    /// Optimistic-locking version; grows by one with every change (= seq of the latest event).
    public var version: Int
    /// Creation time (the time encoded in the id, microseconds kept).
    public var createdAt: Date
    /// Time of the latest change.
    public var updatedAt: Date
    /// The lines, by line number.
    public var lines: [OrderLine]
}

/// One audit-trail row.
public struct OrderEventRecord: Sendable, Hashable {
    /// The order's version after the event.
    public var seq: Int
    /// `created`, `confirm`, `cancel`, `ship`, `deliver`, `return`.
    public var event: String
    /// State before (nil for `created`).
    public var fromStatus: OrderStatus?
    /// State after.
    public var toStatus: OrderStatus
    /// JSON detail.
    public var detailJSON: String
    /// When.
    public var createdAt: Date
}

/// A shipment reported by the shipments service.
public struct ShipmentReport: Sendable, Hashable {
    /// What happened to the shipment.
    public enum Kind: String, Sendable, Hashable {
        /// The shipment left with its lines.
        case shipped
        /// The shipment arrived.
        case delivered
    }

    /// One shipped line (units in this shipment, > 0).
    public typealias Line = OrderLineQuantity

    /// The order.
    public var orderID: Int64
    /// The shipments service's id; RecordShipment is idempotent per id and kind.
    public var shipmentID: String
    /// Shipped or delivered.
    public var kind: Kind
    /// Lines of the shipment (required for `.shipped`; ignored for `.delivered` of a known shipment).
    public var lines: [Line]

    /// - Parameters:
    ///   - orderID: order id.
    ///   - shipmentID: shipment id.
    ///   - kind: shipped or delivered.
    ///   - lines: shipped lines.
    public init(orderID: Int64, shipmentID: String, kind: Kind, lines: [Line]) {
        self.orderID = orderID
        self.shipmentID = shipmentID
        self.kind = kind
        self.lines = lines
    }
}

/// Units of one order line (a shipped line, a returned line).
public struct OrderLineQuantity: Sendable, Hashable {
    /// The order line number.
    public var lineNo: Int
    /// Units (> 0).
    public var quantity: Int
    /// - Parameters:
    ///   - lineNo: order line number.
    ///   - quantity: units.
    public init(lineNo: Int, quantity: Int) {
        self.lineNo = lineNo
        self.quantity = quantity
    }
}

/// A return request.
public struct ReturnRequest: Sendable, Hashable {
    /// One returned line (units coming back, > 0).
    public typealias Line = OrderLineQuantity

    /// The order.
    public var orderID: Int64
    /// Caller's idempotency key: the same key returns the first result.
    public var requestKey: String
    /// Lines returned (each line number once).
    public var lines: [Line]
    /// Why.
    public var reason: String

    /// - Parameters:
    ///   - orderID: order id.
    ///   - requestKey: idempotency key.
    ///   - lines: returned lines.
    ///   - reason: free text.
    public init(orderID: Int64, requestKey: String, lines: [Line], reason: String) {
        self.orderID = orderID
        self.requestKey = requestKey
        self.lines = lines
        self.reason = reason
    }
}

/// A recorded return.
public struct ReturnRecord: Sendable, Hashable {
    /// Return id.
    public var id: Int64
    /// The order.
    public var orderID: Int64
    /// Refund computed pro rata (the last return refunds the remainder of what was paid).
    public var refund: OrderMoney
    /// The order state after the return.
    public var orderStatus: OrderStatus
    /// The order version after the return.
    public var orderVersion: Int
}

/// Filters of SearchOrders.
public struct OrderSearchQuery: Sendable, Hashable {
    /// Free text: order id, product name, customer name or e-mail; empty = filters only.
    public var text: String
    /// Only orders in one of these states (empty = any).
    public var statuses: [OrderStatus]
    /// Only orders created at or after this instant.
    public var createdFrom: Date?
    /// Only orders created before this instant.
    public var createdBefore: Date?
    /// Only orders whose metadata says `"delivery_preference": <value>` (generated, indexed column).
    public var deliveryPreference: String?
    /// Only gift orders (`"gift": true` in metadata; generated, indexed column).
    public var giftOnly: Bool
    /// Only orders with a line whose attributes have this `colour` (generated, indexed column).
    public var itemColour: String?
    /// Only orders with a line whose attributes have this `size` (generated, indexed column).
    public var itemSize: String?
    /// Most results (1...100).
    public var limit: Int
    /// Only orders with an id below this (the page cursor).
    public var beforeID: Int64?

    /// Creates a query; every filter is optional.
    public init(
        text: String = "", statuses: [OrderStatus] = [], createdFrom: Date? = nil, createdBefore: Date? = nil,
        deliveryPreference: String? = nil, giftOnly: Bool = false, itemColour: String? = nil,
        itemSize: String? = nil, limit: Int = 50
    ) {
        self.text = text
        self.statuses = statuses
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.deliveryPreference = deliveryPreference
        self.giftOnly = giftOnly
        self.itemColour = itemColour
        self.itemSize = itemSize
        self.limit = limit
        self.beforeID = nil
    }
}

/// One page of a listing.
public struct OrderPage: Sendable, Hashable {
    /// The orders, newest first.
    public var orders: [OrderRecord]
    /// Cursor for the next page, or nil at the end.
    public var nextCursor: String?
}

/// How a read must be served to keep read-your-writes when a replica is configured.
public struct ReadConsistency: Sendable, Hashable {
    /// The caller last wrote this order at this version (`OrderRecord.version`); a replica that has
    /// not caught up to it is skipped. Cross-instance safe.
    public var minimumOrder: (id: Int64, version: Int)? {
        get { minimumOrderID.map { ($0, minimumVersion) } }
        set {
            minimumOrderID = newValue?.id
            minimumVersion = newValue?.version ?? 0
        }
    }
    private var minimumOrderID: Int64?
    private var minimumVersion: Int = 0

    /// Read from the primary regardless.
    public var primaryOnly: Bool

    /// - Parameters:
    ///   - minimumOrder: last write of the caller (order id and version), if any.
    ///   - primaryOnly: force the primary.
    public init(minimumOrder: (id: Int64, version: Int)? = nil, primaryOnly: Bool = false) {
        self.primaryOnly = primaryOnly
        self.minimumOrder = minimumOrder
    }

    /// Parses a write token `"<order id>:<version>"` as returned by `writeToken(for:)`; nil when malformed.
    /// - Parameter token: the token text.
    public init?(token: String) {
        let parts = token.split(separator: ":")
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, let v = Int(parts[1]), v >= 1 else { return nil }
        self.init(minimumOrder: (id, v))
    }

    /// The token a write hands back to its caller.
    /// - Parameter order: the order as written.
    public static func writeToken(for order: OrderRecord) -> String { "\(order.id):\(order.version)" }

    public static func == (a: ReadConsistency, b: ReadConsistency) -> Bool {
        a.minimumOrderID == b.minimumOrderID && a.minimumVersion == b.minimumVersion && a.primaryOnly == b.primaryOnly
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(minimumOrderID)
        hasher.combine(minimumVersion)
        hasher.combine(primaryOnly)
    }
}
