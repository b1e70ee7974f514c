import Foundation
import Logging
import OMSAPI
import OMSCore

/// `oms.checkout.v1.Checkout` over a `CheckoutCoordinator`: validation and wire mapping only.
public struct CheckoutService: CheckoutV1.CheckoutService {
    /// The coordinator doing the work.
    public let coordinator: CheckoutCoordinator

    /// Creates the service.
    /// - Parameter coordinator: the coordinator.
    public init(coordinator: CheckoutCoordinator) {
        self.coordinator = coordinator
    }

    /// PlaceOrder: malformed input → 3 (nothing recorded); otherwise the typed result (placed,
    /// rejected, or in progress). Same key with a different request → 9. The request is validated
    /// once, here, while it becomes a command (it is not `RPCValidatable`: its key may come from the
    /// `idempotency-key` metadata, which the router does not see).
    /// - Throws: `RPCError` 3, 9, 14.
    public func placeOrder(_ request: CheckoutV1.PlaceOrderRequest, context: ServerContext) async throws
        -> CheckoutV1.PlaceOrderResponse
    {
        var request = request
        if request.idempotencyKey.isEmpty, let key = context.idempotencyKey { request.idempotencyKey = key }
        let command = try CheckoutValidation.command(from: request)
        let result = try await coordinator.placeOrder(command, deadline: context.deadline)
        return Self.response(result)
    }

    /// GetCheckout by idempotency key or checkout id.
    /// - Throws: `RPCError` 3 (no lookup), 5 (no such checkout).
    public func getCheckout(_ request: CheckoutV1.GetCheckoutRequest, context: ServerContext) async throws
        -> CheckoutV1.GetCheckoutResponse
    {
        let snapshot: CheckoutSnapshot?
        switch request.lookup {
        case .idempotencyKey(let key)?: snapshot = try await coordinator.checkout(idempotencyKey: key)
        case .checkoutID(let id)?: snapshot = try await coordinator.checkout(id: Int64(id) ?? 0)
        case nil: snapshot = nil
        }
        guard let snapshot else { throw RPCError(.notFound, "no checkout found") }
        return CheckoutV1.GetCheckoutResponse(checkout: Self.record(snapshot))
    }

    /// ListParkedCheckouts: what recovery gave up on, for operators.
    /// - Throws: `RPCError` 3 for a page size over 500.
    public func listParkedCheckouts(_ request: CheckoutV1.ListParkedCheckoutsRequest, context: ServerContext)
        async throws -> CheckoutV1.ListParkedCheckoutsResponse
    {
        let limit = request.pageSize == 0 ? 50 : Int(request.pageSize)
        let parked = try await coordinator.parkedCheckouts(limit: limit)
        return CheckoutV1.ListParkedCheckoutsResponse(checkouts: parked.map(Self.record))
    }

    /// ResumeCheckout: a parked checkout goes back to recovery.
    /// - Throws: `RPCError` 3 for a malformed id, 5 for an unknown checkout.
    public func resumeCheckout(_ request: CheckoutV1.ResumeCheckoutRequest, context: ServerContext) async throws
        -> CheckoutV1.ResumeCheckoutResponse
    {
        guard let snapshot = try await coordinator.resume(checkoutID: Int64(request.checkoutID) ?? 0) else {
            throw RPCError(.notFound, "no checkout \(request.checkoutID)")
        }
        return CheckoutV1.ResumeCheckoutResponse(checkout: Self.record(snapshot))
    }

    // MARK: Mapping

    static func money(_ m: CheckoutMoney) -> CommonV1.Money {
        CommonV1.Money(amountMinor: m.amountMinor, currency: m.currency)
    }

    /// The wire form of a result.
    public static func response(_ result: CheckoutResult) -> CheckoutV1.PlaceOrderResponse {
        var r = CheckoutV1.PlaceOrderResponse()
        r.checkoutID = result.checkoutID
        switch result.outcome {
        case nil:
            r.outcome = .inProgress(CheckoutV1.PlaceOrderResponse.InProgress())
        case .placed(let p)?:
            r.outcome = .placed(
                CheckoutV1.PlaceOrderResponse.Placed(
                    orderID: p.orderID, subtotal: money(p.subtotal), total: money(p.total), status: .confirmed,
                    paymentID: p.paymentID, reservationID: p.reservationID))
        case .rejected(let rejection)?:
            r.outcome = .rejected(CheckoutV1.PlaceOrderResponse.Rejected(reason: reason(rejection)))
        }
        return r
    }

    static func reason(_ rejection: CheckoutRejection) -> CheckoutV1.PlaceOrderResponse.Rejected.Reason {
        switch rejection {
        case .outOfStock(let skus):
            return .outOfStock(CheckoutV1.PlaceOrderResponse.OutOfStock(skus: skus))
        case .paymentDeclined(let code, let reason):
            return .paymentDeclined(
                CheckoutV1.PlaceOrderResponse.PaymentDeclined(code: PaymentsV1.DeclineCode(rawValue: code), reason: reason))
        case .invalidRequest(let reason, let violations):
            return .invalidRequest(
                CheckoutV1.PlaceOrderResponse.InvalidRequest(
                    reason: reason,
                    violations: violations.map { CommonV1.FieldViolation(field: $0.field, description: $0.description) }))
        case .failed(let step, let code, let message):
            return .failed(CheckoutV1.PlaceOrderResponse.Failed(step: step, code: code, message: message))
        }
    }

    static func state(_ phase: CheckoutPhase) -> CheckoutV1.CheckoutState {
        switch phase {
        case .recorded, .reserving: .started
        case .reserved, .creatingOrder: .reserved
        case .orderCreated, .authorizing: .orderCreated
        case .authorized, .confirmingOrder, .orderConfirmed, .committingReservation: .authorized
        case .completed: .completed
        case .voidingPayment, .cancellingOrder, .releasingReservation: .compensating
        case .compensated: .compensated
        }
    }

    /// The wire form of a stored checkout.
    public static func record(_ s: CheckoutSnapshot) -> CheckoutV1.CheckoutRecord {
        var r = CheckoutV1.CheckoutRecord()
        r.checkoutID = s.checkoutIDString
        r.idempotencyKey = s.idempotencyKey
        r.state = state(s.saga.phase)
        r.reservationID = s.saga.reservationMayExist || s.saga.phase != .recorded ? s.checkoutIDString : ""
        r.orderID = s.saga.orderID ?? ""
        r.paymentID = s.saga.paymentID ?? ""
        if let outcome = s.outcome {
            r.result = response(CheckoutResult(checkoutID: s.checkoutIDString, outcome: outcome))
        }
        r.createdAtUs = s.createdAt.unixMicroseconds
        r.updatedAtUs = s.updatedAt.unixMicroseconds
        r.phase = s.saga.phase.rawValue
        r.attempts = UInt32(clamping: s.attempts)
        r.compensationFailures = s.saga.compensationFailures
        if let parked = s.parked {
            r.parkedAtUs = parked.at.unixMicroseconds
            r.parkedReason = parked.reason
        }
        return r
    }
}
