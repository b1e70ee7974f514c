import Foundation
import Logging
import Metrics
import OMSCore
import OMSRPCCore

/// What the checkout coordinator says about the checkout of a `pending_payment` order.
public enum CheckoutStanding: Sendable, Hashable {
    /// Still running (or waiting for recovery, or parked): the coordinator will finish it.
    case open
    /// Finished with the order placed: the coordinator confirmed the order before finishing.
    case placed
    /// Finished without placing the order (rejected, compensated).
    case ended
    /// The coordinator has no such checkout (never recorded, or deleted after its retention).
    case unknown
}

/// Where the sweep asks about a checkout. The ServiceRunner plugs in the typed checkout client
/// (`CheckoutClientLookup`); tests use fakes.
public protocol CheckoutLookup: Sendable {
    /// The standing of one checkout.
    /// - Parameter checkoutID: the order's checkout id.
    /// - Throws: `CheckoutLookupUnavailable` when the coordinator cannot answer now.
    func standing(ofCheckout checkoutID: String) async throws -> CheckoutStanding
}

/// The coordinator could not be asked (unreachable, timed out, refused to answer).
public struct CheckoutLookupUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The decision of the pending-order sweep for one order, as a pure function of its checkout's standing.
public enum PendingOrderSweep {
    /// Why an order is cancelled: the `reason` label of `oms_orders_swept_total`.
    public enum CancelReason: String, Sendable, CaseIterable {
        case checkoutEnded = "checkout_ended"
        case checkoutUnknown = "checkout_unknown"

        /// The cancel reason written on the order.
        public var orderReason: String {
            switch self {
            case .checkoutEnded: "swept: the checkout ended without placing the order"
            case .checkoutUnknown: "swept: the checkout coordinator does not know the checkout"
            }
        }
    }

    public enum Decision: Sendable, Hashable {
        /// Leave the order: its checkout is still running and will confirm or cancel it.
        case leave
        /// Cancel the order (through the compensation's path, which fences the checkout id).
        case cancel(CancelReason)
        /// The checkout placed the order yet it is still pending: not ours to fix; log and count.
        case reportPlacedButPending
    }

    /// - Parameter standing: what the coordinator said about the order's checkout.
    /// - Returns: what to do with the order.
    public static func decide(_ standing: CheckoutStanding) -> Decision {
        switch standing {
        case .open: .leave
        case .ended: .cancel(.checkoutEnded)
        case .unknown: .cancel(.checkoutUnknown)
        case .placed: .reportPlacedButPending
        }
    }
}

/// The pending-order sweep (PeriodicJob `orders-pending-sweep`): orders still `pending_payment` longer
/// than the grace whose checkout has ended without placing them are cancelled, fenced as the
/// compensation does, so that nothing can revive them. It asks the coordinator about each, oldest first;
/// when the coordinator cannot be reached the pass stops (one warning) and the next pass tries again.
public struct PendingOrderSweeper: Sendable {
    let core: OrdersCore
    let checkouts: any CheckoutLookup
    let grace: Duration
    let batchSize: Int
    let logger: Logger
    let now: @Sendable () -> Date
    private let anomalies = Counter(label: "oms_orders_sweep_placed_pending_total")

    /// What one pass did.
    public struct Report: Sendable, Equatable {
        public var examined = 0
        public var cancelled: [PendingOrderSweep.CancelReason: Int] = [:]
        public var left = 0
        public var placedButPending = 0
        /// The pass stopped because the coordinator could not be asked.
        public var coordinatorUnavailable = false
    }

    /// - Parameters:
    ///   - core: the orders logic (listing and cancelling).
    ///   - checkouts: where to ask about checkouts.
    ///   - grace: how long an order may stay pending before the sweep asks about it.
    ///   - batchSize: orders examined per pass, oldest first.
    ///   - logger: logger.
    ///   - now: the clock.
    public init(
        core: OrdersCore, checkouts: any CheckoutLookup, grace: Duration, batchSize: Int = 100, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.core = core
        self.checkouts = checkouts
        self.grace = grace
        self.batchSize = batchSize
        self.logger = logger
        self.now = now
    }

    /// One pass.
    /// - Returns: what it did.
    /// - Throws: database errors (the job logs them and runs again next interval).
    @discardableResult
    public func runOnce() async throws -> Report {
        var report = Report()
        let candidates = try await core.pendingPayment(createdBefore: now().addingTimeInterval(-grace.inSeconds), limit: batchSize)
        for order in candidates {
            try Task.checkCancellation()
            let standing: CheckoutStanding
            do {
                standing = try await checkouts.standing(ofCheckout: order.checkoutID)
            } catch let e as CheckoutLookupUnavailable {
                logger.warning(
                    "pending-order sweep skipped: the checkout coordinator cannot be asked",
                    metadata: ["error": "\(e)", "pending": "\(candidates.count - report.examined)"])
                report.coordinatorUnavailable = true
                return report
            }
            report.examined += 1
            let metadata: Logger.Metadata = ["order_id": "\(order.orderID)", "checkout_id": "\(order.checkoutID)"]
            switch PendingOrderSweep.decide(standing) {
            case .leave:
                report.left += 1
            case .cancel(let reason):
                do {
                    _ = try await core.cancel(checkoutID: order.checkoutID, reason: reason.orderReason, onlyIfPending: true)
                } catch let e as RPCError where e.code == .failedPrecondition || e.code == .aborted {
                    // It moved on since it was listed; whatever moved it owns it now.
                    logger.info("pending-order sweep: order changed meanwhile, left", metadata: metadata)
                    continue
                }
                report.cancelled[reason, default: 0] += 1
                Counter(label: "oms_orders_swept_total", dimensions: [("reason", reason.rawValue)]).increment()
                logger.notice(
                    "pending order swept: cancelled", metadata: metadata.merging(["reason": "\(reason.rawValue)"]) { a, _ in a })
            case .reportPlacedButPending:
                // The coordinator confirms before it records "placed"; read again in case that happened after the listing.
                guard try await core.status(orderID: order.orderID) == .pendingPayment else { continue }
                report.placedButPending += 1
                anomalies.increment()
                logger.error(
                    "pending order of a placed checkout: the coordinator should have confirmed it; left for an operator",
                    metadata: metadata)
            }
        }
        return report
    }
}
