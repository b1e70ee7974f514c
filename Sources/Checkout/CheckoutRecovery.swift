import Foundation
import Logging
import OMSServiceKit

/// What one sweeper pass did.
public struct RecoveryReport: Sendable, Hashable {
    /// Checkouts whose expired lease this pass took over.
    public var claimed = 0
    /// Of those, checkouts that ended (completed or compensated).
    public var finished = 0
    /// Of those, checkouts that could not progress (a service down, a payment pending) and wait for a later pass.
    public var deferred = 0
    /// Open checkouts left after the pass.
    public var open = 0
    /// Of those, checkouts recovery gave up on (they wait for an operator).
    public var parked = 0

    public init() {}
}

extension CheckoutCoordinator {
    /// One sweeper pass: takes over every open checkout whose lease expired and drives it to an
    /// end (resolving unknown outcomes by asking; forward when the authorization holds, otherwise
    /// compensation).
    /// - Returns: what was done.
    /// - Throws: `MySQLError` when the candidates cannot be read.
    @discardableResult
    public func recoverOnce() async throws -> RecoveryReport {
        let candidates = try await repository.recoverable(limit: configuration.recoveryBatch)
        var report = RecoveryReport()
        let width = configuration.recoveryConcurrency
        try await withThrowingTaskGroup(of: (claimed: Bool, finished: Bool).self) { group in
            var next = candidates.makeIterator()
            var running = 0
            func add() -> Bool {
                guard let c = next.next() else { return false }
                group.addTask { try await self.recover(checkoutID: c.checkoutID, version: c.version) }
                return true
            }
            while running < width, add() { running += 1 }
            while let r = try await group.next() {
                running -= 1
                if r.claimed {
                    report.claimed += 1
                    if r.finished { report.finished += 1 } else { report.deferred += 1 }
                }
                if add() { running += 1 }
            }
        }
        report.open = try await repository.openCount()
        metrics.open.record(Double(report.open))
        report.parked = try await repository.parkedCount()
        metrics.parked.record(Double(report.parked))
        if report.claimed > 0 {
            logger.info(
                "checkout recovery pass",
                metadata: ["claimed": "\(report.claimed)", "finished": "\(report.finished)", "deferred": "\(report.deferred)",
                           "open": "\(report.open)"])
        }
        return report
    }

    /// Claims one checkout and drives it; errors of one checkout do not stop the pass.
    private func recover(checkoutID: Int64, version: Int64) async throws -> (claimed: Bool, finished: Bool) {
        var log = logger
        log[metadataKey: "checkout_id"] = "\(checkoutID)"
        do {
            guard
                let claimed = try await repository.claim(
                    checkoutID: checkoutID, expectedVersion: version, owner: configuration.instanceName,
                    lease: configuration.lease),
                let snapshot = try await repository.find(checkoutID: checkoutID), snapshot.version == claimed
            else { return (false, false) }
            metrics.recovery("claimed")
            log.notice("recovering checkout", metadata: ["phase": "\(snapshot.saga.phase.rawValue)", "attempts": "\(snapshot.attempts)"])
            var run = DriveRun(
                checkoutID: checkoutID, version: claimed, saga: snapshot.saga, draft: snapshot.request.draft, card: nil,
                callerDeadline: nil, recovering: true, attempts: snapshot.attempts)
            await extendReservation(of: run, logger: log)
            var interrupted = run.saga
            if (try? interrupted.apply(.interrupted)) != nil, interrupted != run.saga {
                try await record(.interrupted, kind: "resolved", step: nil, run: &run, logger: log)
            }
            let outcome = try await drive(&run, logger: log)
            if outcome != nil { metrics.recovery("finished") }
            return (true, outcome != nil)
        } catch {
            log.error("checkout recovery failed", metadata: ["error": "\(error)"])
            // A failure that is not a port's (a defect, a stored row it cannot read) would be claimed
            // again after every lease: bounded like deferrals, then parked for an operator.
            if let attempts = try? await repository.find(checkoutID: checkoutID)?.attempts,
                attempts >= configuration.maxAttempts
            {
                log.error(
                    "checkout parked: recovery gave up; resume it with `omsctl parked resume <id>`",
                    metadata: ["attempts": "\(attempts)"])
                try? await repository.parkUnleased(checkoutID: checkoutID, reason: "\(attempts) passes; last: \(error)")
                metrics.recovery("parked")
            }
            return (true, false)
        }
    }

    /// A checkout that recovery drives again may have been open for longer than its reservation's
    /// time to live (a slow payment, a peer down): while it still goes forward and holds stock, each
    /// pass moves the reservation's expiry to a full `reservationTTL` from now, so inventory's
    /// sweeper does not release units the checkout is about to commit. Best effort: a failure is
    /// logged, and the commit step decides as before.
    func extendReservation(of run: DriveRun, logger: Logger) async {
        guard run.saga.phase.holdsReservation else { return }
        do {
            try await inventory.extend(
                reservationID: run.idString, ttl: configuration.reservationTTL,
                deadline: ContinuousClock.now + configuration.stepTimeout)
            metrics.recovery("extended")
        } catch {
            logger.warning("could not extend the checkout's reservation", metadata: ["error": "\(error)"])
        }
    }

    /// The sweeper: runs `recoverOnce` at start-up and every `recoveryInterval`.
    /// - Returns: the job for the ServiceRunner.
    public func makeRecoveryJob() -> PeriodicJob {
        PeriodicJob(name: "checkout-recovery", interval: configuration.recoveryInterval, runAtStart: true, logger: logger) {
            try await self.recoverOnce()
        }
    }
}

extension CheckoutCoordinator {
    /// One retention pass: deletes finished checkouts older than `retention`, 1,000 at a time.
    /// - Returns: how many were deleted.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func purgeFinishedOnce() async throws -> Int {
        guard configuration.retention > .zero else { return 0 }
        var total = 0
        while true {
            let n = try await repository.purgeFinished(olderThan: configuration.retention, limit: 1_000)
            total += n
            if n < 1_000 { break }
        }
        if total > 0 { logger.info("finished checkouts purged", metadata: ["count": "\(total)"]) }
        return total
    }

    /// The `checkout-retention` job (nil when retention is off).
    func makeRetentionJob() -> PeriodicJob? {
        guard configuration.retention > .zero else { return nil }
        return PeriodicJob(
            name: "checkout-retention", interval: configuration.retentionInterval, runAtStart: false, logger: logger
        ) { [self] in try await purgeFinishedOnce() }
    }
}
