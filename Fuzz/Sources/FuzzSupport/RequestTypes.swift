import OMSProto

/// The request messages the fuzz targets decode, by number: the first input byte (modulo the count)
/// picks one, the rest is its protobuf encoding. tools/fuzz-corpus.py reads this list (one
/// `<Package>V1.<Message>.self` per line, in this order) to write the seed corpus, so append new
/// types at the end: reordering renumbers the committed seeds.
public enum FuzzRequests {
    public static let types: [any ProtoMessage.Type] = [
        HealthV1.HealthCheckRequest.self,
        InventoryV1.UpsertProductRequest.self,
        InventoryV1.GetProductRequest.self,
        InventoryV1.ListProductsRequest.self,
        InventoryV1.AdjustStockRequest.self,
        InventoryV1.GetStockRequest.self,
        InventoryV1.ReserveRequest.self,
        InventoryV1.CommitReservationRequest.self,
        InventoryV1.ReleaseReservationRequest.self,
        InventoryV1.ExtendReservationRequest.self,
        InventoryV1.ReconcileRequest.self,
        OrdersV1.CreateOrderRequest.self,
        OrdersV1.ConfirmOrderRequest.self,
        OrdersV1.CancelOrderRequest.self,
        OrdersV1.GetOrderRequest.self,
        OrdersV1.ListOrdersRequest.self,
        OrdersV1.SearchOrdersRequest.self,
        OrdersV1.RequestReturnRequest.self,
        OrdersV1.RecordShipmentRequest.self,
        PaymentsV1.AuthorizeRequest.self,
        PaymentsV1.CaptureRequest.self,
        PaymentsV1.VoidAuthorizationRequest.self,
        PaymentsV1.RefundRequest.self,
        PaymentsV1.GetPaymentRequest.self,
        PaymentsV1.CancelAuthorizationRequest.self,
        ShipmentsV1.CreateShipmentRequest.self,
        ShipmentsV1.MarkLabelCreatedRequest.self,
        ShipmentsV1.MarkShippedRequest.self,
        ShipmentsV1.MarkDeliveredRequest.self,
        ShipmentsV1.CancelShipmentRequest.self,
        ShipmentsV1.GetShipmentRequest.self,
        ShipmentsV1.ListShipmentsRequest.self,
        CheckoutV1.PlaceOrderRequest.self,
        CheckoutV1.GetCheckoutRequest.self,
    ]

    /// Splits a fuzz input into the message type its first byte picks and the bytes to decode.
    /// - Returns: nil for an empty input.
    public static func pick(_ data: UnsafePointer<UInt8>, _ size: Int) -> (type: any ProtoMessage.Type, body: [UInt8])? {
        guard size > 0 else { return nil }
        let type = types[Int(data[0]) % types.count]
        return (type, Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    }

    /// Decodes `body` as `type`; a decoding failure must be a `ProtoDecodingError`.
    /// - Returns: the message, or nil when the bytes are not a valid encoding.
    public static func decode(_ type: any ProtoMessage.Type, _ body: [UInt8]) -> (any ProtoMessage)? {
        do {
            let message = try type.init(serializedBytes: body)
            // A decoded message re-encodes and decodes to itself.
            let again = try type.init(serializedBytes: message.serializedBytes())
            guard again.serializedBytes() == message.serializedBytes() else {
                fatalError("\(type) does not round-trip")
            }
            return message
        } catch is ProtoDecodingError {
            return nil
        } catch {
            fatalError("\(type) decoding threw \(Swift.type(of: error)), not ProtoDecodingError: \(error)")
        }
    }
}
