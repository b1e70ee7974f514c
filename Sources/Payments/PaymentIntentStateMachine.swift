import OMSRPCCore

/// Where a payment intent stands. The raw values are what the `payment_intents.status` column holds.
public enum PaymentStatus: String, Sendable, Hashable, CaseIterable {
    /// An authorization was sent (or is about to be) and its outcome is not known yet.
    case pending
    /// The provider approved the authorization; nothing captured.
    case authorized
    /// Part of the authorized amount was captured.
    case partiallyCaptured = "partially_captured"
    /// The whole authorized amount was captured.
    case captured
    /// The authorization was released before anything was captured. Final.
    case voided
    /// Part of the captured amount was refunded.
    case partiallyRefunded = "partially_refunded"
    /// Everything captured so far was refunded.
    case refunded
    /// The provider declined the authorization (or could not process it). Final.
    case failed

    /// Whether no move leaves this status.
    public var isFinal: Bool { self == .voided || self == .failed }
}

/// What one move of the state machine did; stored as a `payment_events` row.
public enum PaymentEventKind: String, Sendable, Hashable, CaseIterable {
    case authorizationRequested = "authorization_requested"
    case authorized
    case authorizationFailed = "authorization_failed"
    case captured
    case voided
    case refunded
}

/// One move: the event to record and the statuses on either side.
public struct PaymentTransition: Sendable, Hashable {
    public var event: PaymentEventKind
    /// The amount the event moved (0 for authorization outcomes other than approval, and for voids).
    public var amount: Int64
    public var from: PaymentStatus
    public var to: PaymentStatus
}

/// The payment intent as a pure value-type state machine.
///
/// It holds the ledger — authorized, captured and refunded amounts in minor units — and keeps
/// its invariants: `0 ≤ refunded ≤ captured ≤ authorized`, nothing captured after a void, and
/// nothing moves out of `pending` except the authorization outcome. A refused move throws
/// `RPCError` 9 FAILED_PRECONDITION (3 INVALID_ARGUMENT for a non-positive amount) and leaves
/// the value unchanged.
public struct PaymentIntentStateMachine: Sendable, Hashable {
    public private(set) var status: PaymentStatus
    /// The amount requested and, once authorized, the amount authorized.
    public private(set) var amount: Int64
    public private(set) var capturedAmount: Int64
    public private(set) var refundedAmount: Int64

    /// A new intent, pending its authorization.
    /// - Parameter amount: the amount to authorize, in minor units (> 0).
    public init(amount: Int64) {
        precondition(amount > 0, "a payment intent needs a positive amount")
        self.status = .pending
        self.amount = amount
        self.capturedAmount = 0
        self.refundedAmount = 0
    }

    /// Rebuilds the machine from stored columns.
    /// - Throws: `RPCError` 13 INTERNAL when the stored values break an invariant (they never
    ///   should: the table has CHECK constraints for the same rules).
    public init(status: PaymentStatus, amount: Int64, capturedAmount: Int64, refundedAmount: Int64) throws {
        guard amount > 0, capturedAmount >= 0, refundedAmount >= 0, capturedAmount <= amount,
            refundedAmount <= capturedAmount
        else {
            throw RPCError(.internalError, "stored payment ledger breaks its invariants")
        }
        let consistent: Bool
        switch status {
        case .pending, .authorized, .voided, .failed: consistent = capturedAmount == 0 && refundedAmount == 0
        case .partiallyCaptured: consistent = capturedAmount > 0 && capturedAmount < amount && refundedAmount == 0
        case .captured: consistent = capturedAmount == amount && refundedAmount == 0
        case .partiallyRefunded: consistent = refundedAmount > 0 && refundedAmount < capturedAmount
        case .refunded: consistent = refundedAmount > 0 && refundedAmount == capturedAmount
        }
        guard consistent else {
            throw RPCError(.internalError, "stored payment status \(status) disagrees with its ledger")
        }
        self.status = status
        self.amount = amount
        self.capturedAmount = capturedAmount
        self.refundedAmount = refundedAmount
    }

    /// What can still be captured.
    public var capturableAmount: Int64 {
        switch status {
        case .authorized, .partiallyCaptured, .partiallyRefunded, .refunded: amount - capturedAmount
        case .pending, .captured, .voided, .failed: 0
        }
    }

    /// What can still be refunded.
    public var refundableAmount: Int64 { capturedAmount - refundedAmount }

    /// The provider approved the authorization: `pending → authorized`.
    /// - Throws: `RPCError` 9 when the intent is not pending.
    public mutating func authorizationApproved() throws -> PaymentTransition {
        guard status == .pending else { throw Self.illegal("approve an authorization", status) }
        return move(to: .authorized, event: .authorized, amount: amount)
    }

    /// The provider declined: `pending → failed`.
    /// - Throws: `RPCError` 9 when the intent is not pending.
    public mutating func authorizationFailed() throws -> PaymentTransition {
        guard status == .pending else { throw Self.illegal("fail an authorization", status) }
        return move(to: .failed, event: .authorizationFailed, amount: 0)
    }

    /// Captures part or all of what remains authorized.
    /// - Parameter value: minor units, `0 < value ≤ amount − captured`.
    /// - Throws: `RPCError` 3 for a non-positive amount; 9 when nothing may be captured in this
    ///   status or the amount exceeds what remains.
    public mutating func capture(_ value: Int64) throws -> PaymentTransition {
        guard value > 0 else { throw RPCError.invalidArgument("capture amount must be positive") }
        switch status {
        case .authorized, .partiallyCaptured, .partiallyRefunded, .refunded: break
        case .pending, .captured, .voided, .failed: throw Self.illegal("capture", status)
        }
        let remaining = amount - capturedAmount
        guard value <= remaining else {
            throw RPCError.failedPrecondition(
                "capture of \(value) exceeds the \(remaining) minor units that remain authorized")
        }
        capturedAmount += value
        return move(to: derivedStatus(), event: .captured, amount: value)
    }

    /// Releases the authorization: only while nothing was captured.
    /// - Throws: `RPCError` 9 in any status but `authorized`.
    public mutating func void() throws -> PaymentTransition {
        guard status == .authorized else {
            if capturedAmount > 0 {
                throw RPCError.failedPrecondition(
                    "payment cannot be voided: \(capturedAmount) minor units were captured")
            }
            throw Self.illegal("void", status)
        }
        return move(to: .voided, event: .voided, amount: 0)
    }

    /// Refunds part or all of what was captured and not yet refunded.
    /// - Parameter value: minor units, `0 < value ≤ captured − refunded`.
    /// - Throws: `RPCError` 3 for a non-positive amount; 9 when nothing is refundable or the
    ///   amount exceeds it.
    public mutating func refund(_ value: Int64) throws -> PaymentTransition {
        guard value > 0 else { throw RPCError.invalidArgument("refund amount must be positive") }
        switch status {
        case .partiallyCaptured, .captured, .partiallyRefunded: break
        case .pending, .authorized, .voided, .failed, .refunded: throw Self.illegal("refund", status)
        }
        let refundable = capturedAmount - refundedAmount
        guard value <= refundable else {
            throw RPCError.failedPrecondition(
                "refund of \(value) exceeds the \(refundable) minor units captured and not yet refunded")
        }
        refundedAmount += value
        return move(to: derivedStatus(), event: .refunded, amount: value)
    }

    /// The status that the ledger amounts imply once money has moved.
    private func derivedStatus() -> PaymentStatus {
        if refundedAmount > 0 {
            return refundedAmount == capturedAmount ? .refunded : .partiallyRefunded
        }
        return capturedAmount == amount ? .captured : .partiallyCaptured
    }

    private mutating func move(to next: PaymentStatus, event: PaymentEventKind, amount: Int64) -> PaymentTransition {
        let transition = PaymentTransition(event: event, amount: amount, from: status, to: next)
        status = next
        return transition
    }

    private static func illegal(_ action: String, _ status: PaymentStatus) -> RPCError {
        RPCError.failedPrecondition("cannot \(action) a payment that is \(status.rawValue)")
    }
}
