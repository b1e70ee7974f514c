import OMSRPCCore

/// The states of an order (stored as the `status` column text and exposed on the wire).
public enum OrderStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Created by checkout; waiting for the payment authorization.
    case pendingPayment = "pending_payment"
    /// Paid (authorized); ready for fulfilment.
    case confirmed
    /// Some units shipped, some not yet.
    case partiallyShipped = "partially_shipped"
    /// Every unit shipped.
    case shipped
    /// Every unit shipped and every shipment delivered.
    case delivered
    /// Cancelled before anything shipped. Terminal.
    case cancelled
    /// Some shipped units came back.
    case partiallyReturned = "partially_returned"
    /// Every unit of the order came back. Terminal.
    case returned

    public var description: String { rawValue }

    /// Whether the order reached `confirmed` at some point (every state after it).
    public var isConfirmedOrLater: Bool {
        switch self {
        case .pendingPayment, .cancelled: false
        default: true
        }
    }

    /// Whether at least one unit has shipped.
    public var hasShipped: Bool {
        switch self {
        case .partiallyShipped, .shipped, .delivered, .partiallyReturned, .returned: true
        default: false
        }
    }
}

/// Something that happens to an order. Quantities are summarised by the caller (the repository
/// knows the lines); the machine only decides which state follows.
public enum OrderLifecycleEvent: Sendable, Hashable {
    /// The payment was authorized.
    case confirm
    /// The order is called off (before anything shipped).
    case cancel
    /// Units left the warehouse; `everythingShipped` is true when no unit is left to ship.
    case ship(everythingShipped: Bool)
    /// A shipment arrived; `everythingDelivered` is true when every unit is shipped and every
    /// shipment is delivered.
    case deliver(everythingDelivered: Bool)
    /// Shipped units came back; `everythingReturned` is true when every unit of the order is back.
    case returnUnits(everythingReturned: Bool)

    /// The event name written to the audit trail.
    public var name: String {
        switch self {
        case .confirm: "confirm"
        case .cancel: "cancel"
        case .ship: "ship"
        case .deliver: "deliver"
        case .returnUnits: "return"
        }
    }
}

/// The outcome of applying an event.
public enum OrderTransition: Sendable, Hashable {
    /// The order moves (or stays, for repeated partial shipments/returns) and an event row is written.
    case moved(from: OrderStatus, to: OrderStatus)
    /// The request repeats a state the order already has: nothing is written, the call succeeds.
    case alreadyThere(OrderStatus)

    /// The state after the event.
    public var status: OrderStatus {
        switch self {
        case .moved(_, let to): to
        case .alreadyThere(let s): s
        }
    }
}

/// The order lifecycle as a pure function: no I/O, no clock, no storage.
///
/// ```
/// pending_payment ─confirm→ confirmed ─ship→ partially_shipped ─ship→ shipped ─deliver→ delivered
///        └──cancel──→ cancelled ←──cancel──┘          (no cancel once anything shipped)
/// partially_shipped / shipped / delivered / partially_returned ─return→ partially_returned | returned
/// ```
/// Repeating a target state is harmless: `confirm` on a confirmed (or later) order and `cancel`
/// on a cancelled order answer `.alreadyThere`. Everything else not drawn above is illegal.
public struct OrderStateMachine: Sendable, Hashable {
    /// The current state.
    public private(set) var status: OrderStatus

    /// - Parameter status: the state read from storage.
    public init(status: OrderStatus) {
        self.status = status
    }

    /// Applies an event.
    /// - Parameter event: what happened.
    /// - Returns: the transition; `status` is updated.
    /// - Throws: `RPCError` 9 FAILED_PRECONDITION when the event is illegal in the current state;
    ///   the machine is left unchanged.
    @discardableResult
    public mutating func apply(_ event: OrderLifecycleEvent) throws -> OrderTransition {
        let transition = try Self.transition(from: status, on: event)
        status = transition.status
        return transition
    }

    /// The transition an event causes from a state, without changing anything.
    /// - Parameters:
    ///   - from: the current state.
    ///   - event: what happened.
    /// - Throws: `RPCError` 9 FAILED_PRECONDITION when illegal.
    public static func transition(from: OrderStatus, on event: OrderLifecycleEvent) throws -> OrderTransition {
        switch (from, event) {
        // Confirm: only from pending payment; repeated confirms of a confirmed (or later) order are no-ops.
        case (.pendingPayment, .confirm):
            return .moved(from: from, to: .confirmed)
        case (_, .confirm) where from.isConfirmedOrLater:
            return .alreadyThere(from)

        // Cancel: before anything shipped.
        case (.pendingPayment, .cancel), (.confirmed, .cancel):
            return .moved(from: from, to: .cancelled)
        case (.cancelled, .cancel):
            return .alreadyThere(.cancelled)

        // Shipping.
        case (.confirmed, .ship(let all)), (.partiallyShipped, .ship(let all)):
            return .moved(from: from, to: all ? .shipped : .partiallyShipped)
        case (.partiallyReturned, .ship):
            // Units still owed after a partial return may ship; the order stays partially returned.
            return .moved(from: from, to: .partiallyReturned)

        // Delivery.
        case (.shipped, .deliver(let all)):
            return all ? .moved(from: from, to: .delivered) : .moved(from: from, to: .shipped)
        case (.partiallyShipped, .deliver):
            return .moved(from: from, to: .partiallyShipped)
        case (.delivered, .deliver):
            return .alreadyThere(.delivered)
        case (.partiallyReturned, .deliver):
            return .moved(from: from, to: .partiallyReturned)

        // Returns of shipped units.
        case (.partiallyShipped, .returnUnits(let all)), (.shipped, .returnUnits(let all)),
            (.delivered, .returnUnits(let all)), (.partiallyReturned, .returnUnits(let all)):
            return .moved(from: from, to: all ? .returned : .partiallyReturned)

        default:
            throw RPCError.failedPrecondition("order is \(from.rawValue); \(event.name) is not allowed")
        }
    }
}
