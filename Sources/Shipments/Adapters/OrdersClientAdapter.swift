import OMSAPI
import OMSProto
import OMSRPCCore

/// `OrdersPort` over the typed orders client (`oms.orders.v1.Orders`).
public struct OrdersClientAdapter: OrdersPort {
    /// The typed client.
    public let client: OrdersV1.OrdersClient
    /// Options for every call (deadline, metadata).
    public let options: CallOptions

    /// - Parameters:
    ///   - client: the typed orders client.
    ///   - options: call options.
    public init(client: OrdersV1.OrdersClient, options: CallOptions = CallOptions(timeout: .seconds(5))) {
        self.client = client
        self.options = options
    }

    /// Calls GetOrder; 5 NOT_FOUND answers nil.
    /// - Throws: `RPCError` other than 5.
    public func fetchOrder(orderID: String) async throws -> OrderSnapshot? {
        var request = OrdersV1.GetOrderRequest()
        request.orderID = orderID
        let response: OrdersV1.GetOrderResponse
        do {
            response = try await client.getOrder(request, options: options)
        } catch let e as RPCError where e.code == .notFound {
            return nil
        }
        guard let order = response.order else { return nil }
        let currency = order.total?.currency ?? order.lines.first?.unitPrice?.currency ?? ""
        return OrderSnapshot(
            orderID: order.orderID, status: Self.status(order.status), currency: currency,
            lines: order.lines.map {
                OrderLineSnapshot(
                    lineID: $0.lineID, sku: $0.sku, quantity: $0.quantity, unitPriceMinor: $0.unitPrice?.amountMinor ?? 0)
            },
            paymentID: order.paymentID)
    }

    /// Calls RecordShipment (idempotent on shipment id and kind at the orders service).
    /// - Throws: `RPCError`.
    public func recordShipment(_ record: OrderShipmentEvent) async throws {
        var request = OrdersV1.RecordShipmentRequest()
        request.orderID = record.orderID
        request.shipmentID = record.shipmentID
        request.kind = record.event == .shipped ? .shipped : .delivered
        request.lines = record.lines.map { OrdersV1.ShippedLine(lineID: $0.lineID, quantity: $0.quantity) }
        request.atUs = record.atMicroseconds
        request.allDelivered = record.allDelivered
        var options = self.options
        options.metadata[Metadata.Keys.idempotencyKey] = "shipment:\(record.shipmentID):\(record.event.rawValue)"
        _ = try await client.recordShipment(request, options: options)
    }

    static func status(_ s: OrdersV1.OrderStatus) -> OrderFulfilmentStatus {
        switch s {
        case .pendingPayment: .pendingPayment
        case .confirmed: .confirmed
        case .partiallyShipped: .partiallyShipped
        case .shipped: .shipped
        case .delivered: .delivered
        case .cancelled: .cancelled
        default: .other
        }
    }
}
