import Foundation
import Logging
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore

/// `oms.payments.v1.Payments` over the wire types: checks every request (3 INVALID_ARGUMENT
/// naming the field; nothing is read or written for a bad request), then hands a domain
/// command to `PaymentsEngine`.
public struct PaymentsService: PaymentsV1.PaymentsService {
    /// The logic behind the handlers.
    public let engine: PaymentsEngine
    private let logger: Logger

    /// - Parameters:
    ///   - database: the migrated `oms_payments` database.
    ///   - provider: the card processor (`SandboxPaymentProvider` by default in the suite).
    ///   - settings: engine tunables.
    ///   - logger: logger (never receives card numbers).
    public init(
        database: MySQLDatabase, provider: any PaymentProvider, settings: PaymentsEngineSettings = .init(),
        logger: Logger
    ) {
        self.engine = PaymentsEngine(database: database, provider: provider, settings: settings, logger: logger)
        self.logger = logger
    }

    /// Wraps an existing engine (tests, resolver sharing).
    public init(engine: PaymentsEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    public func authorize(_ request: PaymentsV1.AuthorizeRequest, context: ServerContext) async throws
        -> PaymentsV1.AuthorizeResponse
    {
        let command = try Self.authorizeCommand(request, context: context)
        let record = try await engine.authorize(command, deadline: context.deadline)
        return PaymentsV1.AuthorizeResponse(payment: Self.wire(record))
    }

    public func capture(_ request: PaymentsV1.CaptureRequest, context: ServerContext) async throws
        -> PaymentsV1.CaptureResponse
    {
        let id = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        let (amount, currency) = try Self.money(request.amount, field: "amount")
        let key = try Self.key(request.idempotencyKey, context: context)
        let result = try await engine.capture(
            paymentID: id, amount: amount, currency: currency.code, idempotencyKey: key, deadline: context.deadline)
        return PaymentsV1.CaptureResponse(payment: Self.wire(result.payment), captureID: String(result.operation.id))
    }

    public func voidAuthorization(_ request: PaymentsV1.VoidAuthorizationRequest, context: ServerContext) async throws
        -> PaymentsV1.VoidAuthorizationResponse
    {
        let id = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        let key = try Self.key(request.idempotencyKey, context: context)
        guard request.reason.utf8.count <= 1024 else {
            throw RPCError.invalidArgument("reason must be at most 1024 bytes")
        }
        let result = try await engine.void(paymentID: id, idempotencyKey: key, deadline: context.deadline)
        return PaymentsV1.VoidAuthorizationResponse(
            payment: Self.wire(result.payment), voidID: String(result.operation.id))
    }

    public func refund(_ request: PaymentsV1.RefundRequest, context: ServerContext) async throws
        -> PaymentsV1.RefundResponse
    {
        let id = try PaymentsValidation.parsePaymentID(request.paymentID, field: "payment_id")
        let (amount, currency) = try Self.money(request.amount, field: "amount")
        let key = try Self.key(request.idempotencyKey, context: context)
        guard request.reason.utf8.count <= 1024 else {
            throw RPCError.invalidArgument("reason must be at most 1024 bytes")
        }
        let result = try await engine.refund(
            paymentID: id, amount: amount, currency: currency.code, idempotencyKey: key, deadline: context.deadline)
        return PaymentsV1.RefundResponse(payment: Self.wire(result.payment), refundID: String(result.operation.id))
    }

    public func getPayment(_ request: PaymentsV1.GetPaymentRequest, context: ServerContext) async throws
        -> PaymentsV1.GetPaymentResponse
    {
        switch request.lookup {
        case .paymentID(let text)?:
            let id = try PaymentsValidation.parsePaymentID(text, field: "payment_id")
            guard let record = try await engine.payment(id: id) else {
                throw RPCError.notFound("payment \(id) does not exist")
            }
            return PaymentsV1.GetPaymentResponse(payment: Self.wire(record), payments: [Self.wire(record)])
        case .orderID(let orderID)?:
            try PaymentsValidation.validateOrderID(orderID, field: "order_id")
            let records = try await engine.payments(orderID: orderID)
            guard let last = records.last else { throw RPCError.notFound("order \(orderID) has no payment") }
            return PaymentsV1.GetPaymentResponse(payment: Self.wire(last), payments: records.map(Self.wire))
        case .idempotencyKey(let key)?:
            try PaymentsValidation.validateKey(key, field: "idempotency_key")
            guard let record = try await engine.payment(idempotencyKey: key) else {
                throw RPCError.notFound("no payment was authorized with this idempotency key")
            }
            return PaymentsV1.GetPaymentResponse(payment: Self.wire(record), payments: [Self.wire(record)])
        case nil:
            throw RPCError.invalidArgument("lookup is required: payment_id, order_id or idempotency_key")
        }
    }

    public func cancelAuthorization(_ request: PaymentsV1.CancelAuthorizationRequest, context: ServerContext)
        async throws -> PaymentsV1.CancelAuthorizationResponse
    {
        try PaymentsValidation.validateKey(request.idempotencyKey, field: "idempotency_key")
        guard request.reason.utf8.count <= 500 else { throw RPCError.invalidArgument("reason: longer than 500 bytes") }
        var response = PaymentsV1.CancelAuthorizationResponse()
        response.payment = try await engine.cancelAuthorization(
            idempotencyKey: request.idempotencyKey, reason: request.reason
        ).map(Self.wire)
        return response
    }

    // MARK: Validation

    /// Checks an Authorize request and turns it into a command.
    /// - Throws: `RPCError` 3 naming the first offending field.
    public static func authorizeCommand(_ request: PaymentsV1.AuthorizeRequest, context: ServerContext) throws
        -> AuthorizeCommand
    {
        let key = try key(request.idempotencyKey, context: context)
        try PaymentsValidation.validateOrderID(request.orderID, field: "order_id")
        let (amount, currency) = try money(request.amount, field: "amount")
        guard case .card(let card)? = request.paymentMethod?.kind else {
            throw RPCError.invalidArgument("payment_method.card is required")
        }
        let number = try CardNumber(card.number, field: "payment_method.card.number")
        let details = try CardDetails(
            number: number, expiryMonth: Int(card.expMonth), expiryYear: Int(card.expYear),
            fieldPrefix: "payment_method.card")
        if !card.cvc.isEmpty {
            guard (3...4).contains(card.cvc.utf8.count), card.cvc.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw RPCError.invalidArgument("payment_method.card.cvc must be 3 or 4 digits")
            }
        }
        guard card.holderName.utf8.count <= 200 else {
            throw RPCError.invalidArgument("payment_method.card.holder_name must be at most 200 bytes")
        }
        let metadata = try metadata(request.metadataJson, field: "metadata_json")
        return AuthorizeCommand(
            idempotencyKey: key, orderID: request.orderID, amount: amount, currency: currency, card: details,
            metadata: metadata)
    }

    /// The request's key, else the call's `idempotency-key` metadata.
    static func key(_ field: String, context: ServerContext) throws -> String {
        let key = field.isEmpty ? (context.idempotencyKey ?? "") : field
        try PaymentsValidation.validateKey(key, field: "idempotency_key")
        return key
    }

    static func money(_ money: CommonV1.Money?, field: String) throws -> (Int64, Currency) {
        guard let money else { throw RPCError.invalidArgument("\(field) is required") }
        let currency = try MoneyRules.validateCurrency(money.currency, field: "\(field).currency")
        let amount = try MoneyRules.validateAmount(money.amountMinor, field: "\(field).amount_minor")
        return (amount, currency)
    }

    static func metadata(_ json: String, field: String) throws -> [String: String] {
        guard !json.isEmpty else { return [:] }
        guard json.utf8.count <= 4096 else { throw RPCError.invalidArgument("\(field) must be at most 4096 bytes") }
        guard let object = JSONText.parseObject(json) else {
            throw RPCError.invalidArgument("\(field) must be a JSON object")
        }
        var strings: [String: String] = [:]
        for (k, v) in object {
            guard let s = v as? String, k.utf8.count <= 64, s.utf8.count <= 512 else {
                throw RPCError.invalidArgument("\(field) must map keys (≤ 64 bytes) to strings (≤ 512 bytes)")
            }
            strings[k] = s
        }
        if let checkout = strings["checkout_id"], checkout.utf8.count > 64 {
            throw RPCError.invalidArgument("\(field).checkout_id must be at most 64 bytes")
        }
        return strings
    }

    // MARK: Mapping

    /// The wire form of a payment.
    public static func wire(_ r: PaymentRecord) -> PaymentsV1.Payment {
        var p = PaymentsV1.Payment()
        p.paymentID = String(r.id)
        p.orderID = r.orderID
        p.idempotencyKey = r.idempotencyKey
        p.status = wire(r.status)
        p.authorized = CommonV1.Money(
            amountMinor: r.status == .pending || r.status == .failed ? 0 : r.amount, currency: r.currency)
        p.captured = CommonV1.Money(amountMinor: r.capturedAmount, currency: r.currency)
        p.refunded = CommonV1.Money(amountMinor: r.refundedAmount, currency: r.currency)
        p.card = PaymentsV1.CardSummary(
            brand: r.cardBrand, last4: r.cardLastFour, expMonth: UInt32(r.cardExpiryMonth),
            expYear: UInt32(r.cardExpiryYear))
        if let code = r.failureCode {
            switch DeclineCode(rawValue: code) {
            case .cardDeclined?: p.declineCode = .genericDecline
            case .insufficientFunds?: p.declineCode = .insufficientFunds
            case .processingError?: p.declineCode = .processingError
            case .expiredCard?: p.declineCode = .expiredCard
            case .withdrawn?, nil: p.declineCode = .unspecified
            }
            p.failureMessage = failureMessage(code)
        }
        p.providerReference = r.providerReference ?? ""
        p.createdAtUs = r.createdAtMicros
        p.updatedAtUs = r.updatedAtMicros
        p.version = r.version
        return p
    }

    static func wire(_ s: PaymentStatus) -> PaymentsV1.PaymentStatus {
        switch s {
        case .pending: .pending
        case .authorized: .authorized
        case .partiallyCaptured: .partiallyCaptured
        case .captured: .captured
        case .voided: .voided
        case .partiallyRefunded: .partiallyRefunded
        case .refunded: .refunded
        case .failed: .failed
        }
    }

    static func failureMessage(_ code: String) -> String {
        switch code {
        case DeclineCode.cardDeclined.rawValue: "the card was declined"
        case DeclineCode.insufficientFunds.rawValue: "the card has insufficient funds"
        case DeclineCode.processingError.rawValue: "the provider could not process the card"
        case DeclineCode.expiredCard.rawValue: "the card has expired"
        case DeclineCode.withdrawn.rawValue: "the authorization never reached the provider; withdrawn"
        case "abandoned": "the provider never received the authorization; abandoned"
        default: code
        }
    }
}
