import Checkout
import FuzzSupport
import OMSProto
import OMSRPCCore
import Orders
import Payments

/// Input: as FuzzRequestDecode. Every request that decodes runs through the checks its service
/// applies before any I/O: `RPCValidatable.validate()` (inventory, shipments, checkout lookups),
/// checkout's and orders' wire-to-command conversions (which apply `FieldRules`), and payments'
/// authorize command and field checks. A refusal must be an `RPCError` with code 3; anything
/// else (another error, another code, a trap) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let (type, body) = FuzzRequests.pick(data, size),
        let message = FuzzRequests.decode(type, body)
    else { return 0 }
    do {
        try check(message)
    } catch let error as RPCError {
        guard error.code == .invalidArgument, error.code.rawValue == 3 else {
            fatalError("\(type) refused with code \(error.code.rawValue), not 3: \(error)")
        }
    } catch {
        fatalError("\(type) refused with \(Swift.type(of: error)), not RPCError: \(error)")
    }
    return 0
}

/// The context of a call with no metadata (the idempotency key, if any, comes from the request).
private let context = ServerContext(
    method: MethodDescriptor(service: "oms.fuzz.v1.Fuzz", method: "Validate"), metadata: [:], deadline: nil,
    peer: "fuzz")

private func check(_ message: any ProtoMessage) throws {
    if let validatable = message as? any RPCValidatable {
        try validatable.validate()
    }
    switch message {
    case let request as CheckoutV1.PlaceOrderRequest:
        _ = try CheckoutValidation.command(from: request)
    case let request as OrdersV1.CreateOrderRequest:
        try OrderValidation.validate(try OrdersService.newOrder(from: request))
    case let request as PaymentsV1.AuthorizeRequest:
        _ = try PaymentsService.authorizeCommand(request, context: context)
    case let request as PaymentsV1.CaptureRequest:
        _ = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        try money(request.amount)
        try PaymentsValidation.validateKey(request.idempotencyKey, field: "idempotency_key")
    case let request as PaymentsV1.RefundRequest:
        _ = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        try money(request.amount)
        try PaymentsValidation.validateKey(request.idempotencyKey, field: "idempotency_key")
    case let request as PaymentsV1.VoidAuthorizationRequest:
        _ = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        try PaymentsValidation.validateKey(request.idempotencyKey, field: "idempotency_key")
    case let request as PaymentsV1.CancelAuthorizationRequest:
        try PaymentsValidation.validateKey(request.idempotencyKey, field: "idempotency_key")
    case let request as PaymentsV1.GetPaymentRequest:
        switch request.lookup {
        case .paymentID(let text)?: _ = try PaymentsValidation.parsePaymentID(text, field: "payment_id")
        case .orderID(let id)?: try PaymentsValidation.validateOrderID(id, field: "order_id")
        case .idempotencyKey(let key)?: try PaymentsValidation.validateKey(key, field: "idempotency_key")
        case nil: break
        }
    default:
        break
    }
}

private func money(_ money: CommonV1.Money?) throws {
    guard let money else { return }
    _ = try MoneyRules.validateCurrency(money.currency, field: "amount.currency")
    _ = try MoneyRules.validateAmount(money.amountMinor, field: "amount.amount_minor")
}

/// The entry point (SwiftPM aliases `main` to it): libFuzzer with `fuzz` as the test.
@_cdecl("FuzzRequestValidate_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv, fuzz)
}
