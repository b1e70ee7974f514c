import Foundation
import OMSRPCCore

/// The states of a reservation as stored in `reservations.state`.
public enum ReservationStatus: String, Sendable, Hashable, CaseIterable {
    /// Units are held (`stock.reserved` includes them) until commit, release or expiry.
    case held
    /// Units were sold: `on_hand` and `reserved` both went down.
    case committed
    /// Units went back to available by a ReleaseReservation (or a tombstone: released before reserved).
    case released
    /// Units went back to available because the reservation passed its expiry.
    case expired

    /// Whether no further transition is possible.
    public var isFinal: Bool { self != .held }
}

/// What a transition asks the repository to do with the stock rows of the reservation's lines.
public enum ReservationStockEffect: Sendable, Hashable {
    /// Nothing changes (a repeated, idempotent request).
    case none
    /// `on_hand -= q`, `reserved -= q` for each line (sold).
    case commitUnits
    /// `reserved -= q` for each line (units go back to available).
    case releaseUnits
    /// Only the expiry changes.
    case extend
}

/// The reservation lifecycle as a pure value type (docs/inventory.md, "Reservation states"):
///
/// ```
///            commit                 release / expire
///  held ─────────────▶ committed    held ─────────────▶ released | expired
///  held ── extend ──▶ held (new expiry)
/// ```
///
/// Repeating the transition that produced the current state is accepted and changes nothing (idempotent
/// commit, release and extend); every other transition from a final state throws 9 FAILED_PRECONDITION and
/// leaves the machine unchanged. A tombstone (a release recorded before any reserve) is a released
/// reservation that also refuses a later Reserve.
public struct ReservationStateMachine: Sendable, Hashable {
    /// The current state.
    public private(set) var status: ReservationStatus
    /// When a held reservation lapses.
    public private(set) var expiresAt: Date
    /// True for a release recorded before the id was ever reserved.
    public let isTombstone: Bool

    /// Creates a machine in a given state (as read from the database).
    /// - Parameters:
    ///   - status: state.
    ///   - expiresAt: expiry.
    ///   - isTombstone: whether the row is a tombstone.
    public init(status: ReservationStatus, expiresAt: Date, isTombstone: Bool = false) {
        self.status = status
        self.expiresAt = expiresAt
        self.isTombstone = isTombstone
    }

    /// Whether a held reservation is past its expiry at `now`.
    public func isLapsed(at now: Date) -> Bool { status == .held && expiresAt <= now }

    /// Commits (sells) the units.
    /// - Parameter now: the current time; a held reservation past its expiry can no longer be committed.
    /// - Returns: `.commitUnits`, or `.none` when it was already committed.
    /// - Throws: 9 FAILED_PRECONDITION when released, expired or lapsed.
    public mutating func commit(now: Date) throws -> ReservationStockEffect {
        switch status {
        case .committed:
            return .none
        case .held:
            guard expiresAt > now else {
                throw RPCError.failedPrecondition("reservation expired before it was committed")
            }
            status = .committed
            return .commitUnits
        case .released:
            throw RPCError.failedPrecondition(
                isTombstone ? "reservation was released before it was reserved" : "reservation was released")
        case .expired:
            throw RPCError.failedPrecondition("reservation expired")
        }
    }

    /// Releases the units back to available (ReleaseReservation).
    /// - Returns: `.releaseUnits`, or `.none` when already released or expired (nothing is held).
    /// - Throws: 9 FAILED_PRECONDITION when committed (sold units come back through a return, not a release).
    public mutating func release() throws -> ReservationStockEffect {
        switch status {
        case .held:
            status = .released
            return .releaseUnits
        case .released, .expired:
            return .none
        case .committed:
            throw RPCError.failedPrecondition("reservation was committed; sold units cannot be released")
        }
    }

    /// Expires a held reservation past its expiry (the sweeper).
    /// - Parameter now: the current time.
    /// - Returns: `.releaseUnits` when it lapsed, `.none` otherwise (not held, or not yet due).
    public mutating func expire(now: Date) -> ReservationStockEffect {
        guard isLapsed(at: now) else { return .none }
        status = .expired
        return .releaseUnits
    }

    /// Moves the expiry of a held reservation.
    /// - Parameters:
    ///   - until: the new expiry.
    ///   - now: the current time.
    /// - Returns: `.extend`.
    /// - Throws: 9 FAILED_PRECONDITION unless held and not yet lapsed.
    public mutating func extend(until: Date, now: Date) throws -> ReservationStockEffect {
        guard status == .held else {
            throw RPCError.failedPrecondition("only a held reservation can be extended (it is \(status.rawValue))")
        }
        guard expiresAt > now else { throw RPCError.failedPrecondition("reservation expired") }
        expiresAt = until
        return .extend
    }

    /// Decides a repeated Reserve for an id that already has a row.
    /// - Parameter sameLines: whether the repeated request asks for the same lines.
    /// - Throws: 9 FAILED_PRECONDITION for a tombstone; 6 ALREADY_EXISTS for different lines.
    public func reserveAgain(sameLines: Bool) throws {
        if isTombstone {
            throw RPCError.failedPrecondition("reservation id was released before it was reserved; use a new id")
        }
        guard sameLines else {
            throw RPCError(.alreadyExists, "reservation id already used with different lines")
        }
    }
}
