import Foundation
import OMSAPI
import OMSCore
import OMSProto

/// One line of a stored shipment.
struct StoredShipmentLine: Sendable, Hashable {
    var lineID: String
    var sku: String
    var quantity: Int64
    var unitPriceMinor: Int64
}

/// One tracking event of a stored shipment.
struct StoredTrackingEvent: Sendable, Hashable {
    var state: ShipmentState
    var detail: String
    var at: Date
}

/// A shipment as the `shipments` tables hold it.
struct StoredShipment: Sendable, Hashable {
    var id: Int64
    var orderID: Int64
    var warehouse: String
    var state: ShipmentState
    var paymentID: String
    var currency: String
    var amountMinor: Int64
    var carrier: String?
    var trackingNumber: String?
    var cancelReason: String?
    var version: Int64
    var createdAt: Date
    var updatedAt: Date
    var lines: [StoredShipmentLine]
    var events: [StoredTrackingEvent]

    /// The wire form.
    var proto: ShipmentsV1.Shipment {
        var s = ShipmentsV1.Shipment()
        s.shipmentID = String(id)
        s.orderID = String(orderID)
        s.warehouse = warehouse
        s.status = state.proto
        s.carrier = carrier ?? ""
        s.trackingNumber = trackingNumber ?? ""
        s.lines = lines.map { l in
            var p = ShipmentsV1.ShipmentLine()
            p.lineID = l.lineID
            p.sku = l.sku
            p.quantity = l.quantity
            return p
        }
        s.events = events.map { e in
            var p = ShipmentsV1.TrackingEvent()
            p.status = e.state.proto
            p.detail = e.detail
            p.atUs = e.at.unixMicroseconds
            return p
        }
        s.createdAtUs = createdAt.unixMicroseconds
        s.updatedAtUs = updatedAt.unixMicroseconds
        s.version = version
        return s
    }
}

extension ShipmentState {
    /// The wire enum value.
    public var proto: ShipmentsV1.ShipmentStatus {
        switch self {
        case .pending: .pending
        case .labelCreated: .labelCreated
        case .shipped: .shipped
        case .delivered: .delivered
        case .cancelled: .cancelled
        }
    }
}

/// Payload of an outbox `capture` row.
struct CapturePayload: Codable, Sendable, Hashable {
    var paymentID: String
    var orderID: String
    var shipmentID: String
    var amountMinor: Int64
    var currency: String

    enum CodingKeys: String, CodingKey {
        case paymentID = "payment_id"
        case orderID = "order_id"
        case shipmentID = "shipment_id"
        case amountMinor = "amount_minor"
        case currency
    }
}

/// Payload of an outbox `order_shipped` / `order_delivered` row.
struct OrderEventPayload: Codable, Sendable, Hashable {
    var orderID: String
    var shipmentID: String
    var event: String
    var lines: [ShippedLineQuantity]
    var atMicroseconds: Int64
    var orderFullyShipped: Bool
    var allDelivered: Bool

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id"
        case shipmentID = "shipment_id"
        case event
        case lines
        case atMicroseconds = "at_us"
        case orderFullyShipped = "order_fully_shipped"
        case allDelivered = "all_delivered"
    }
}

/// The carrier label document stored in `shipments.label`.
struct LabelDocument: Codable, Sendable, Hashable {
    var carrier: String
    var trackingNumber: String
    var createdAtMicroseconds: Int64

    enum CodingKeys: String, CodingKey {
        case carrier
        case trackingNumber = "tracking_number"
        case createdAtMicroseconds = "created_at_us"
    }
}

