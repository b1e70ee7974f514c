import OMSAPI
import OMSRPCCore

/// Delivers the orders outbox to the real services: refunds to payments (`Refund`, idempotent on
/// the return's key) and restocks to inventory (`AdjustStock` kind receive, one call per return
/// line with the `idempotency-key` `<return reference>:<sku>`, which inventory applies at most once
/// however often the outbox delivers it).
public struct OutboxClientReceiver: OrdersOutboxReceiver {
    public let payments: PaymentsV1.PaymentsClient
    public let inventory: InventoryV1.InventoryClient
    public let timeout: Duration

    public init(payments: PaymentsV1.PaymentsClient, inventory: InventoryV1.InventoryClient, timeout: Duration = .seconds(10)) {
        self.payments = payments
        self.inventory = inventory
        self.timeout = timeout
    }

    public func refund(_ refund: OutboxRefund) async throws {
        var request = PaymentsV1.RefundRequest()
        request.paymentID = refund.paymentReference
        request.idempotencyKey = refund.idempotencyKey
        request.reason = "return of order \(refund.orderID)"
        var amount = CommonV1.Money()
        amount.amountMinor = refund.amount.minorUnits
        amount.currency = refund.amount.currency
        request.amount = amount
        _ = try await payments.refund(request, options: CallOptions(timeout: timeout, idempotent: true))
    }

    public func restock(_ restock: OutboxRestock) async throws {
        for line in restock.lines {
            var request = InventoryV1.AdjustStockRequest()
            request.sku = line.sku
            request.kind = .receive
            request.quantity = Int64(line.quantity)
            request.reason = "return of order \(restock.orderID)"
            request.reference = "\(restock.reference):\(line.sku)"
            _ = try await inventory.adjustStock(
                request,
                options: CallOptions(
                    timeout: timeout, metadata: [Metadata.Keys.idempotencyKey: request.reference], idempotent: true))
        }
    }
}
