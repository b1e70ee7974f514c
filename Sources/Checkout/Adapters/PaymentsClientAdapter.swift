import OMSAPI

/// `PaymentsPort` over the generated `PaymentsV1.PaymentsClient`.
public struct PaymentsClientAdapter: PaymentsPort {
    /// The typed client.
    public let client: PaymentsV1.PaymentsClient

    /// Creates the adapter.
    /// - Parameter transport: a transport to oms-payments.
    public init(transport: any RPCClientTransport) {
        self.client = PaymentsV1.PaymentsClient(transport: transport)
    }

    static func state(_ payment: PaymentsV1.Payment?) throws -> PaymentState {
        guard let p = payment, !p.paymentID.isEmpty else {
            throw PortError.unknownOutcome(.internalError, "payments answered without a payment")
        }
        switch p.status {
        case .authorized: return .authorized(paymentID: p.paymentID)
        case .pending: return .pending(paymentID: p.paymentID)
        case .failed:
            return .declined(
                paymentID: p.paymentID, code: p.declineCode.rawValue,
                reason: p.failureMessage.isEmpty ? "declined" : p.failureMessage)
        case .voided: return .voided(paymentID: p.paymentID)
        default: return .other(paymentID: p.paymentID, status: "\(p.status)")
        }
    }

    public func authorize(
        idempotencyKey: String, orderID: String, amount: CheckoutMoney, card: CardDetails, checkoutID: String,
        deadline: ContinuousClock.Instant
    ) async throws -> PaymentState {
        var request = PaymentsV1.AuthorizeRequest()
        request.idempotencyKey = idempotencyKey
        request.orderID = orderID
        request.amount = amount.wire
        var wireCard = PaymentsV1.Card()
        wireCard.number = card.number
        wireCard.expMonth = card.expMonth
        wireCard.expYear = card.expYear
        wireCard.cvc = card.cvc
        wireCard.holderName = card.holderName
        request.paymentMethod = PaymentsV1.PaymentMethod(kind: .card(wireCard))
        request.metadataJson = "{\"checkout_id\":\"\(checkoutID.filter { $0.isNumber })\"}"
        let r = try await mapped(effectful: true) {
            try await client.authorize(request, options: options(deadline, idempotencyKey: idempotencyKey))
        }
        return try Self.state(r.payment)
    }

    public func void(paymentID: String, idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant)
        async throws
    {
        var request = PaymentsV1.VoidAuthorizationRequest()
        request.paymentID = paymentID
        request.reason = String(reason.prefix(255))
        request.idempotencyKey = idempotencyKey
        _ = try await mapped(effectful: true) { try await client.voidAuthorization(request, options: options(deadline)) }
    }

    public func cancelAuthorization(idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant)
        async throws -> PaymentState?
    {
        var request = PaymentsV1.CancelAuthorizationRequest()
        request.idempotencyKey = idempotencyKey
        request.reason = String(reason.prefix(200))
        do {
            let r = try await client.cancelAuthorization(request, options: options(deadline))
            guard let payment = r.payment else { return nil }
            return try Self.state(payment)
        } catch let e as PortError {
            throw PortError(.unavailable, code: e.code, e.message)
        } catch {
            // Idempotent: repeating it is always safe, so an unknown outcome is just "try again".
            throw PortError.from(error, effectful: false)
        }
    }

    public func lookup(idempotencyKey: String, deadline: ContinuousClock.Instant) async throws -> PaymentState? {
        let request = PaymentsV1.GetPaymentRequest(lookup: .idempotencyKey(idempotencyKey))
        do {
            let r = try await client.getPayment(request, options: options(deadline))
            return try Self.state(r.payment)
        } catch let e as RPCError where e.code == .notFound {
            return nil
        } catch let e as PortError {
            throw PortError(.unavailable, code: e.code, e.message)
        } catch {
            throw PortError.from(error, effectful: false)
        }
    }
}
