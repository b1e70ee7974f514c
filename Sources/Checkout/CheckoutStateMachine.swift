import OMSRPCCore

/// One remote step of the checkout saga.
public enum CheckoutStep: String, Sendable, Hashable, Codable, CaseIterable {
    // Forward steps, in order.
    case reserve, createOrder, authorize, confirmOrder, commitReservation
    // Compensations, in the order they run (reverse of the forward steps).
    case voidPayment, cancelOrder, releaseReservation

    /// Whether this is a compensation.
    public var isCompensation: Bool {
        switch self {
        case .voidPayment, .cancelOrder, .releaseReservation: true
        default: false
        }
    }
}

/// Where a checkout is. Phases ending in `-ing` of a forward step mean "intent logged, result not
/// yet recorded": after a crash the outcome of that step is unknown and must be resolved.
public enum CheckoutPhase: String, Sendable, Hashable, Codable, CaseIterable {
    case recorded
    case reserving, reserved
    case creatingOrder, orderCreated
    case authorizing, authorized
    case confirmingOrder, orderConfirmed
    case committingReservation, completed
    case voidingPayment, cancellingOrder, releasingReservation, compensated

    /// Whether the checkout has ended.
    public var isFinal: Bool { self == .completed || self == .compensated }

    /// The forward step whose call is (or may be) in flight.
    public var inFlightStep: CheckoutStep? {
        switch self {
        case .reserving: .reserve
        case .creatingOrder: .createOrder
        case .authorizing: .authorize
        case .confirmingOrder: .confirmOrder
        case .committingReservation: .commitReservation
        default: nil
        }
    }

    /// Whether the checkout holds a reservation it still means to commit: from a confirmed Reserve
    /// up to the commit (the phases in which its expiry matters).
    public var holdsReservation: Bool {
        switch self {
        case .reserved, .creatingOrder, .orderCreated, .authorizing, .authorized, .confirmingOrder, .orderConfirmed,
            .committingReservation:
            true
        default: false
        }
    }

    /// Whether the phase belongs to compensation.
    public var isCompensating: Bool {
        self == .voidingPayment || self == .cancellingOrder || self == .releasingReservation
    }
}

/// A field that failed a business check.
public struct CheckoutFieldViolation: Sendable, Hashable, Codable {
    public var field: String
    public var description: String

    /// Creates a violation.
    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}

/// Why a checkout did not place an order (a result, not an error).
public enum CheckoutRejection: Sendable, Hashable, Codable {
    /// Reserve found too little stock for these SKUs.
    case outOfStock(skus: [String])
    /// The card was declined.
    case paymentDeclined(code: Int32, reason: String)
    /// The request is well formed but cannot be sold (unknown or inactive SKU, mixed currencies).
    case invalidRequest(reason: String, violations: [CheckoutFieldViolation])
    /// A step failed (service refused, unavailable, deadline passed, coordinator interrupted).
    case failed(step: String, code: Int32, message: String)

    /// Short label for metrics and logs.
    public var label: String {
        switch self {
        case .outOfStock: "out_of_stock"
        case .paymentDeclined: "payment_declined"
        case .invalidRequest: "invalid_request"
        case .failed: "failed"
        }
    }
}

/// What happened to the saga; the input of `CheckoutSaga.apply(_:)`.
public enum CheckoutEvent: Sendable, Hashable {
    /// The intent to perform a forward step was logged; the call follows.
    case begin(CheckoutStep)
    /// Reserve held every line.
    case reserved
    /// Reserve found too little stock.
    case outOfStock(skus: [String])
    /// The order exists (created, or found when resolving).
    case orderCreated(OrderSummary)
    /// The authorization holds funds.
    case authorized(paymentID: String)
    /// The card was declined.
    case declined(paymentID: String?, code: Int32, reason: String)
    /// The order is confirmed.
    case orderConfirmed
    /// The reservation is committed.
    case reservationCommitted
    /// A forward step failed definitively: it did not happen.
    case failed(CheckoutStep, code: Int32, message: String)
    /// A forward step's outcome is unknown (timeout, connection lost after sending).
    case outcomeUnknown(CheckoutStep)
    /// Asking the service showed that a forward step did not happen; it may be performed again.
    case notHappened(CheckoutStep)
    /// Stop going forward and compensate (deadline or retry budget used up, or recovery without the
    /// card). Legal only before the authorization is known to hold.
    case abandon(CheckoutRejection)
    /// Recovery took over a checkout whose coordinator died.
    case interrupted
    /// A compensation is done (including "never happened").
    case compensated(CheckoutStep)
    /// A compensation was refused definitively; recorded for attention, the saga moves on.
    case compensationFailed(CheckoutStep, message: String)
}

extension CheckoutEvent: CustomStringConvertible {
    /// A short text for the step log and logs (written by hand: interpolating the enum would go
    /// through reflection on every saga write).
    public var description: String {
        switch self {
        case .begin(let s): "begin(\(s.rawValue))"
        case .reserved: "reserved"
        case .outOfStock(let skus): "outOfStock(skus: \(skus.joined(separator: ", ")))"
        case .orderCreated(let o): "orderCreated(orderID: \(o.orderID))"
        case .authorized(let id): "authorized(paymentID: \(id))"
        case .declined(let id, let code, let reason): "declined(paymentID: \(id ?? "-"), code: \(code), reason: \(reason))"
        case .orderConfirmed: "orderConfirmed"
        case .reservationCommitted: "reservationCommitted"
        case .failed(let s, let code, let message): "failed(\(s.rawValue), code: \(code), message: \(message))"
        case .outcomeUnknown(let s): "outcomeUnknown(\(s.rawValue))"
        case .notHappened(let s): "notHappened(\(s.rawValue))"
        case .abandon(let r): "abandon(\(r.label))"
        case .interrupted: "interrupted"
        case .compensated(let s): "compensated(\(s.rawValue))"
        case .compensationFailed(let s, let message): "compensationFailed(\(s.rawValue), message: \(message))"
        }
    }
}

/// What the driver must do next.
public enum CheckoutAction: Sendable, Hashable {
    /// Log the intent (`begin`), then call the step. Compensations are performed directly: they
    /// are idempotent and tolerate "never happened", so repeating one is its own resolution.
    case perform(CheckoutStep)
    /// The step's outcome is unknown: ask the service.
    case resolve(CheckoutStep)
    /// The checkout has ended; answer its result.
    case finish
}

/// The checkout saga as a pure value: the persisted state plus the transition function.
///
/// Forward: recorded → reserving → reserved → creatingOrder → orderCreated → authorizing →
/// authorized → confirmingOrder → orderConfirmed → committingReservation → completed.
/// Compensation (reverse, each only when its effect may exist): voidingPayment → cancellingOrder →
/// releasingReservation → compensated. An illegal event throws 9 FAILED_PRECONDITION and changes
/// nothing.
public struct CheckoutSaga: Sendable, Hashable, Codable {
    public private(set) var phase: CheckoutPhase
    /// Set once the order exists.
    public private(set) var orderID: String?
    /// Set once payments answered an authorization (authorized or declined).
    public private(set) var paymentID: String?
    /// Order subtotal and total as the orders service computed them.
    public private(set) var subtotal: CheckoutMoney?
    public private(set) var total: CheckoutMoney?
    /// Why the checkout is being (or was) compensated.
    public private(set) var rejection: CheckoutRejection?
    /// The in-flight step's outcome is known to be unknown.
    public private(set) var outcomeUnknown: Bool
    /// Effects that may exist and must be undone when compensating.
    public private(set) var reservationMayExist: Bool
    public private(set) var orderMayExist: Bool
    public private(set) var paymentMayExist: Bool
    /// Compensations that were refused definitively (need an operator's look).
    public private(set) var compensationFailures: [String]

    /// A new checkout, just recorded.
    public init() {
        phase = .recorded
        orderID = nil
        paymentID = nil
        subtotal = nil
        total = nil
        rejection = nil
        outcomeUnknown = false
        reservationMayExist = false
        orderMayExist = false
        paymentMayExist = false
        compensationFailures = []
    }

    /// A checkout rejected before any step (e.g. unknown SKU): final right away.
    /// - Parameter rejection: the reason.
    public static func rejectedAtStart(_ rejection: CheckoutRejection) -> CheckoutSaga {
        var s = CheckoutSaga()
        s.rejection = rejection
        s.phase = .compensated
        return s
    }

    /// Whether the checkout has ended.
    public var isFinal: Bool { phase.isFinal }

    /// The next thing to do, derived from the state alone (so a recovering coordinator derives the
    /// same action from the persisted state).
    public var nextAction: CheckoutAction {
        switch phase {
        case .recorded: .perform(.reserve)
        case .reserved: .perform(.createOrder)
        case .orderCreated: .perform(.authorize)
        case .authorized: .perform(.confirmOrder)
        case .orderConfirmed: .perform(.commitReservation)
        case .reserving, .creatingOrder, .authorizing, .confirmingOrder, .committingReservation:
            .resolve(phase.inFlightStep!)
        case .voidingPayment: .perform(.voidPayment)
        case .cancellingOrder: .perform(.cancelOrder)
        case .releasingReservation: .perform(.releaseReservation)
        case .completed, .compensated: .finish
        }
    }

    /// Applies an event.
    /// - Parameter event: what happened.
    /// - Returns: the next action.
    /// - Throws: `RPCError` 9 FAILED_PRECONDITION when the event is illegal in this state; the
    ///   state is unchanged then.
    @discardableResult
    public mutating func apply(_ event: CheckoutEvent) throws(RPCError) -> CheckoutAction {
        var next = self
        try next.transition(event)
        self = next
        return nextAction
    }

    private func illegal(_ event: CheckoutEvent) -> RPCError {
        RPCError(.failedPrecondition, "checkout event \(event) is not allowed in phase \(phase.rawValue)")
    }

    private mutating func transition(_ event: CheckoutEvent) throws(RPCError) {
        switch event {
        case .begin(let step):
            guard nextAction == .perform(step), !step.isCompensation else { throw illegal(event) }
            outcomeUnknown = false
            switch step {
            case .reserve:
                phase = .reserving
                reservationMayExist = true
            case .createOrder:
                phase = .creatingOrder
                orderMayExist = true
            case .authorize:
                phase = .authorizing
                paymentMayExist = true
            case .confirmOrder: phase = .confirmingOrder
            case .commitReservation: phase = .committingReservation
            default: throw illegal(event)
            }

        case .reserved:
            guard phase == .reserving else { throw illegal(event) }
            phase = .reserved
            outcomeUnknown = false

        case .outOfStock(let skus):
            guard phase == .reserving else { throw illegal(event) }
            outcomeUnknown = false
            // Nothing is held, but the release still runs: it records the id as released, so a late
            // duplicate Reserve cannot hold units for a checkout that has ended.
            compensate(.outOfStock(skus: skus))

        case .orderCreated(let order):
            guard phase == .creatingOrder, !order.orderID.isEmpty else { throw illegal(event) }
            phase = .orderCreated
            outcomeUnknown = false
            orderID = order.orderID
            subtotal = order.subtotal
            total = order.total

        case .authorized(let id):
            guard phase == .authorizing, !id.isEmpty else { throw illegal(event) }
            phase = .authorized
            outcomeUnknown = false
            paymentID = id

        case .declined(let id, let code, let reason):
            guard phase == .authorizing else { throw illegal(event) }
            outcomeUnknown = false
            paymentID = id
            paymentMayExist = false
            compensate(.paymentDeclined(code: code, reason: reason))

        case .orderConfirmed:
            guard phase == .confirmingOrder else { throw illegal(event) }
            phase = .orderConfirmed
            outcomeUnknown = false

        case .reservationCommitted:
            guard phase == .committingReservation else { throw illegal(event) }
            phase = .completed
            outcomeUnknown = false

        case .failed(let step, let code, let message):
            guard phase.inFlightStep == step else { throw illegal(event) }
            outcomeUnknown = false
            // A definite failure means the step did not happen.
            switch step {
            case .reserve: reservationMayExist = true  // released anyway (tombstone), see outOfStock
            case .createOrder: orderMayExist = false
            case .authorize: paymentMayExist = false
            default: break
            }
            compensate(.failed(step: step.rawValue, code: code, message: message))

        case .outcomeUnknown(let step):
            guard phase.inFlightStep == step else { throw illegal(event) }
            outcomeUnknown = true

        case .notHappened(let step):
            guard phase.inFlightStep == step else { throw illegal(event) }
            outcomeUnknown = false
            switch step {
            case .reserve: phase = .recorded
            case .createOrder:
                phase = .reserved
                orderMayExist = false
            case .authorize:
                phase = .orderCreated
                paymentMayExist = false
            case .confirmOrder: phase = .authorized
            case .commitReservation: phase = .orderConfirmed
            default: throw illegal(event)
            }

        case .abandon(let reason):
            switch phase {
            case .recorded, .reserving, .reserved, .creatingOrder, .orderCreated, .authorizing:
                outcomeUnknown = false
                compensate(reason)
            default:
                throw illegal(event)
            }

        case .interrupted:
            switch phase {
            case .recorded, .reserving, .reserved, .creatingOrder, .orderCreated:
                // No card in storage, so the authorization cannot be sent: undo what may exist.
                // (An unknown create is resolved by the cancel compensation, which asks by checkout id.)
                outcomeUnknown = false
                compensate(.failed(step: "recovery", code: RPCStatusCode.aborted.rawValue,
                                   message: "checkout interrupted before payment; place it again with a new key"))
            case .authorizing, .confirmingOrder, .committingReservation:
                outcomeUnknown = true
            case .authorized, .orderConfirmed, .voidingPayment, .cancellingOrder, .releasingReservation:
                break
            case .completed, .compensated:
                throw illegal(event)
            }

        case .compensated(let step), .compensationFailed(let step, _):
            guard nextAction == .perform(step), step.isCompensation else { throw illegal(event) }
            if case .compensationFailed(_, let message) = event {
                compensationFailures.append("\(step.rawValue): \(message)")
            }
            switch step {
            case .voidPayment: paymentMayExist = false
            case .cancelOrder: orderMayExist = false
            case .releaseReservation: reservationMayExist = false
            default: throw illegal(event)
            }
            phase = firstCompensationPhase()
        }
    }

    /// Starts (or continues) compensation for `reason`; the first reason is kept.
    private mutating func compensate(_ reason: CheckoutRejection) {
        if rejection == nil { rejection = reason }
        phase = firstCompensationPhase()
    }

    private func firstCompensationPhase() -> CheckoutPhase {
        if paymentMayExist { return .voidingPayment }
        if orderMayExist { return .cancellingOrder }
        if reservationMayExist { return .releasingReservation }
        return .compensated
    }
}
