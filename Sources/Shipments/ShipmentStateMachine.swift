import OMSRPCCore

/// The states of a shipment. The raw value is what the `shipments.status` column stores.
public enum ShipmentState: String, Sendable, Hashable, CaseIterable {
    /// Created; units are allocated to it.
    case pending
    /// A carrier label (tracking number) exists.
    case labelCreated = "label_created"
    /// Handed to the carrier; the payment share is captured.
    case shipped
    /// Delivered to the customer. Final.
    case delivered
    /// Cancelled before it shipped; its units are released. Final.
    case cancelled

    /// Whether no move leaves this state.
    public var isFinal: Bool { self == .delivered || self == .cancelled }
}

/// A requested move of a shipment.
public enum ShipmentCommand: String, Sendable, Hashable, CaseIterable {
    /// MarkLabelCreated.
    case createLabel = "create_label"
    /// MarkShipped.
    case ship
    /// MarkDelivered.
    case deliver
    /// CancelShipment.
    case cancel

    /// The state the command leads to.
    public var target: ShipmentState {
        switch self {
        case .createLabel: .labelCreated
        case .ship: .shipped
        case .deliver: .delivered
        case .cancel: .cancelled
        }
    }
}

/// What a legal command does.
public enum ShipmentTransition: Sendable, Hashable {
    /// The shipment moves from `from` to `to`.
    case move(from: ShipmentState, to: ShipmentState)
    /// The shipment is already in the requested state: nothing changes (idempotent repeat).
    case unchanged(ShipmentState)
}

/// The shipment lifecycle as a pure function of (state, command):
///
/// ```
/// pending ──createLabel──▶ label_created ──ship──▶ shipped ──deliver──▶ delivered
///    │                         │
///    └────────cancel───────────┴──────▶ cancelled
/// ```
///
/// Asking for the state the shipment is already in is legal and changes nothing; every other move is
/// illegal and throws 9 FAILED_PRECONDITION.
public struct ShipmentStateMachine: Sendable, Hashable {
    /// The current state.
    public private(set) var state: ShipmentState

    /// - Parameter state: the current state.
    public init(state: ShipmentState) {
        self.state = state
    }

    /// The transition `command` would make, without changing anything.
    /// - Parameter command: the requested move.
    /// - Returns: the transition.
    /// - Throws: `RPCError` 9 FAILED_PRECONDITION for an illegal move.
    public func transition(for command: ShipmentCommand) throws -> ShipmentTransition {
        let target = command.target
        if state == target { return .unchanged(state) }
        let legal: Bool =
            switch (state, command) {
            case (.pending, .createLabel): true
            case (.labelCreated, .ship): true
            case (.shipped, .deliver): true
            case (.pending, .cancel), (.labelCreated, .cancel): true
            default: false
            }
        guard legal else {
            throw RPCError(
                .failedPrecondition, "shipment is \(state.rawValue); cannot move to \(target.rawValue)")
        }
        return .move(from: state, to: target)
    }

    /// Applies `command`: on success the state is the command's target; on failure nothing changes.
    /// - Parameter command: the requested move.
    /// - Returns: the transition made.
    /// - Throws: `RPCError` 9 FAILED_PRECONDITION for an illegal move.
    @discardableResult
    public mutating func apply(_ command: ShipmentCommand) throws -> ShipmentTransition {
        let t = try transition(for: command)
        if case .move(_, let to) = t { state = to }
        return t
    }
}
