import OMSAPI

/// `OrdersPort` over the generated `OrdersV1.OrdersClient`.
public struct OrdersClientAdapter: OrdersPort {
    /// The typed client.
    public let client: OrdersV1.OrdersClient

    /// Creates the adapter.
    /// - Parameter transport: a transport to oms-orders.
    public init(transport: any RPCClientTransport) {
        self.client = OrdersV1.OrdersClient(transport: transport)
    }

    static func summary(_ order: OrdersV1.Order?) throws -> OrderSummary {
        guard let o = order, !o.orderID.isEmpty else {
            throw PortError.unknownOutcome(.internalError, "orders answered without an order")
        }
        let status: OrderSummary.Status =
            switch o.status {
            case .pendingPayment: .pendingPayment
            case .confirmed: .confirmed
            case .cancelled: .cancelled
            default: .other
            }
        return OrderSummary(orderID: o.orderID, status: status, subtotal: CheckoutMoney(o.subtotal), total: CheckoutMoney(o.total))
    }

    public func createOrder(_ draft: OrderDraft, deadline: ContinuousClock.Instant) async throws -> OrderSummary {
        var request = OrdersV1.CreateOrderRequest()
        request.checkoutID = draft.checkoutID
        request.customer = CommonV1.Customer(
            customerID: draft.customer.customerID, name: draft.customer.name, email: draft.customer.email)
        request.lines = draft.lines.map { l in
            var line = OrdersV1.CreateOrderRequest.Line()
            line.sku = l.sku
            line.productName = l.productName
            line.quantity = l.quantity
            line.unitPrice = l.unitPrice.wire
            line.attributesJson = l.attributesJSON
            return line
        }
        let a = draft.shippingAddress
        request.shippingAddress = CommonV1.Address(
            name: a.name, line1: a.line1, line2: a.line2, city: a.city, region: a.region, postalCode: a.postalCode,
            country: a.country, phone: a.phone)
        request.metadataJson = draft.metadataJSON
        request.reservationID = draft.reservationID
        let r = try await mapped(effectful: true) {
            try await client.createOrder(request, options: options(deadline, idempotencyKey: draft.checkoutID))
        }
        return try Self.summary(r.order)
    }

    public func confirmOrder(orderID: String, paymentID: String, paid: CheckoutMoney, deadline: ContinuousClock.Instant)
        async throws
    {
        var request = OrdersV1.ConfirmOrderRequest()
        request.orderID = orderID
        request.paymentID = paymentID
        request.paid = paid.wire
        _ = try await mapped(effectful: true) { try await client.confirmOrder(request, options: options(deadline)) }
    }

    public func cancelOrder(orderID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        var request = OrdersV1.CancelOrderRequest()
        request.orderID = orderID
        request.reason = String(reason.prefix(255))
        _ = try await mapped(effectful: true) { try await client.cancelOrder(request, options: options(deadline)) }
    }

    public func cancelOrder(checkoutID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        var request = OrdersV1.CancelOrderRequest()
        request.checkoutID = checkoutID
        request.reason = String(reason.prefix(255))
        _ = try await mapped(effectful: true) { try await client.cancelOrder(request, options: options(deadline)) }
    }

    public func findOrder(checkoutID: String, deadline: ContinuousClock.Instant) async throws -> OrderSummary? {
        var request = OrdersV1.GetOrderRequest()
        request.checkoutID = checkoutID
        do {
            let r = try await client.getOrder(request, options: options(deadline))
            return try Self.summary(r.order)
        } catch let e as RPCError where e.code == .notFound {
            return nil
        } catch let e as PortError {
            throw PortError(.unavailable, code: e.code, e.message)
        } catch {
            throw PortError.from(error, effectful: false)
        }
    }
}
