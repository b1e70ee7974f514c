import Foundation
import Logging
import OMSCore
import OMSRPCCore
import OMSServiceKit

/// One pass of driving a checkout by the instance holding its lease.
struct DriveRun: Sendable {
    var checkoutID: Int64
    var version: Int64
    var saga: CheckoutSaga
    var draft: OrderDraft
    /// The card, only while the first call is being served; nil in recovery (it is never stored).
    var card: CardDetails?
    /// The caller's deadline for the forward steps up to the authorization; nil in recovery.
    var callerDeadline: ContinuousClock.Instant?
    var recovering: Bool
    /// Drive passes so far, this one included (1 for the caller's own pass).
    var attempts: Int = 1
    /// The forward step whose intent this pass logged and whose call it has not made yet (the intent
    /// rides in the commit of the previous result; see `record`).
    var intentLogged: CheckoutStep? = nil

    var idString: String { String(checkoutID) }
}

/// The pass cannot make progress now (a service is down, a payment is pending): the lease is given
/// up and recovery tries again later.
struct Deferral: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// Another instance took the checkout over (or the row changed): stop without writing.
struct LeaseLost: Error, CustomStringConvertible {
    var checkoutID: Int64
    var description: String { "lease on checkout \(checkoutID) lost" }
}

extension CheckoutCoordinator {
    /// Drives the saga until it ends or cannot progress.
    /// - Returns: the final outcome, or nil when the pass was deferred or the lease lost.
    /// - Throws: anything that is not a port failure (database down, crash injected by tests,
    ///   cancellation): the checkout keeps its state and lease and recovery takes it over after
    ///   the lease expires.
    func drive(_ run: inout DriveRun, logger: Logger) async throws -> CheckoutOutcome? {
        do {
            while true {
                switch run.saga.nextAction {
                case .finish:
                    return outcome(of: run.saga, checkoutID: run.checkoutID)
                case .perform(let step) where step.isCompensation:
                    let event = try await compensate(step, run: run, logger: logger)
                    try await record(event, kind: "compensation", step: step, run: &run, logger: logger)
                case .perform(let step):
                    if let reason = reasonToStop(before: step, run: run) {
                        try await record(.abandon(reason), kind: "result", step: step, run: &run, logger: logger)
                        continue
                    }
                    try await record(.begin(step), kind: "intent", step: step, run: &run, logger: logger)
                case .resolve(let step) where run.intentLogged == step:
                    // The intent is durable and this pass has not called yet: the call is the next thing.
                    run.intentLogged = nil
                    let event = try await perform(step, run: run, logger: logger)
                    if let point = CheckoutFailpoint(after: step) { configuration.failpoints.reach(point, logger: logger) }
                    try await record(event, kind: "result", step: step, run: &run, logger: logger)
                case .resolve(let step):
                    let event = try await resolve(step, run: run, logger: logger)
                    try await record(event, kind: "resolved", step: step, run: &run, logger: logger)
                }
            }
        } catch let d as Deferral {
            if run.attempts >= configuration.maxAttempts {
                try await park(&run, reason: "\(run.attempts) passes; last: \(d.reason)", logger: logger)
                return nil
            }
            let delay = Self.retryDelay(attempts: run.attempts, configuration: configuration)
            logger.warning(
                "checkout deferred",
                metadata: [
                    "checkout_id": "\(run.checkoutID)", "phase": "\(run.saga.phase.rawValue)", "reason": "\(d.reason)",
                    "attempts": "\(run.attempts)", "retry_in": "\(delay)",
                ])
            if try await repository.deferRetry(
                checkoutID: run.checkoutID, expectedVersion: run.version, owner: configuration.instanceName,
                phase: run.saga.phase, reason: d.reason, retryAfter: delay) != nil
            {
                run.version += 1
            }
            metrics.recovery("deferred")
            return nil
        } catch let l as LeaseLost {
            logger.notice("\(l)")
            return nil
        }
    }

    /// The wait before the next pass over a checkout that could not finish: doubling from
    /// `deferDelay` with each pass, at most `maxDeferDelay`, with ±20 % jitter so that checkouts
    /// deferred together do not come back together.
    static func retryDelay(attempts: Int, configuration: CheckoutConfiguration) -> Duration {
        let doublings = max(0, min(attempts - 1, 30))
        let base = min(configuration.deferDelay * (1 << doublings), configuration.maxDeferDelay)
        return base * Double.random(in: 0.8...1.2)
    }

    /// Gives up on a checkout: parked, it is no longer claimed by recovery until an operator resumes it.
    func park(_ run: inout DriveRun, reason: String, logger: Logger) async throws {
        logger.error(
            "checkout parked: recovery gave up; resume it with `omsctl parked resume <id>`",
            metadata: [
                "checkout_id": "\(run.checkoutID)", "phase": "\(run.saga.phase.rawValue)", "attempts": "\(run.attempts)",
                "reason": "\(reason)",
            ])
        if try await repository.park(
            checkoutID: run.checkoutID, expectedVersion: run.version, owner: configuration.instanceName,
            phase: run.saga.phase, reason: reason) != nil
        {
            run.version += 1
        }
        metrics.recovery("parked")
    }

    /// The forward step whose intent can be logged right away with the state `saga` (nil: the next
    /// action is not a forward step, or going forward is no longer sensible).
    func nextIntent(of saga: CheckoutSaga, run: DriveRun) -> CheckoutStep? {
        guard case .perform(let next) = saga.nextAction, !next.isCompensation,
            reasonToStop(before: next, run: run) == nil
        else { return nil }
        return next
    }

    /// Whether going forward with `step` is still sensible; the rejection to compensate with if not.
    private func reasonToStop(before step: CheckoutStep, run: DriveRun) -> CheckoutRejection? {
        switch step {
        case .reserve, .createOrder, .authorize:
            if run.card == nil {
                return .failed(
                    step: "recovery", code: RPCStatusCode.aborted.rawValue,
                    message: "checkout interrupted before payment; place it again with a new key")
            }
            if let d = run.callerDeadline, ContinuousClock.now >= d {
                return .failed(
                    step: step.rawValue, code: RPCStatusCode.deadlineExceeded.rawValue,
                    message: "deadline exceeded before \(step.rawValue)")
            }
            return nil
        default:
            return nil
        }
    }

    /// Applies an event and writes the new state with its log rows before anything relies on it.
    ///
    /// When the event leaves the saga ready for its next forward step, the intent of that step is
    /// applied too and written in the same commit: it is still durable before the call is sent, and a
    /// checkout costs one commit per step instead of two.
    func record(_ event: CheckoutEvent, kind: String, step: CheckoutStep?, run: inout DriveRun, logger: Logger)
        async throws
    {
        var saga = run.saga
        try saga.apply(event)
        var log = [
            CheckoutLogEntry(
                kind: kind, step: step, fromPhase: run.saga.phase, toPhase: saga.phase,
                detail: JSONText.object(["event": event.description])),
        ]
        var begun: CheckoutStep?
        if case .begin(let s) = event {
            begun = s
        } else if let next = nextIntent(of: saga, run: run) {
            let before = saga.phase
            try saga.apply(.begin(next))
            log.append(
                CheckoutLogEntry(
                    kind: "intent", step: next, fromPhase: before, toPhase: saga.phase,
                    detail: JSONText.object(["event": CheckoutEvent.begin(next).description])))
            begun = next
        }
        let outcome = outcome(of: saga, checkoutID: run.checkoutID)
        if let outcome {
            log.append(
                CheckoutLogEntry(
                    kind: "finished", step: nil, fromPhase: saga.phase, toPhase: saga.phase,
                    detail: try CheckoutRepository.json(outcome)))
        }
        guard
            let version = try await repository.update(
                checkoutID: run.checkoutID, expectedVersion: run.version, owner: configuration.instanceName, saga: saga,
                outcome: outcome, log: log, lease: configuration.lease)
        else { throw LeaseLost(checkoutID: run.checkoutID) }
        if case .outcomeUnknown(let s) = event { metrics.unknownOutcome(s) }
        if !run.saga.isCompensationStarted && saga.isCompensationStarted {
            logger.notice(
                "checkout compensating", metadata: ["checkout_id": "\(run.checkoutID)",
                                                    "reason": "\(saga.rejection.map { "\($0)" } ?? "")"])
        }
        run.saga = saga
        run.version = version
        run.intentLogged = begun
        if let outcome {
            metrics.finished(outcome)
            if saga.compensationFailures.isEmpty {
                logger.info("checkout finished", metadata: ["checkout_id": "\(run.checkoutID)", "outcome": "\(outcome.label)"])
            } else {
                logger.error(
                    "checkout finished with failed compensations",
                    metadata: ["checkout_id": "\(run.checkoutID)", "failures": "\(saga.compensationFailures)"])
            }
        }
    }

    // MARK: Forward steps

    private func forwardDeadline(_ run: DriveRun, step: CheckoutStep) -> ContinuousClock.Instant {
        let own = ContinuousClock.now + configuration.stepTimeout
        switch step {
        case .reserve, .createOrder, .authorize:
            return run.callerDeadline.map { min($0, own) } ?? own
        default:
            // Past the authorization the checkout completes forward whatever the caller's deadline.
            return own
        }
    }

    private func timed<T: Sendable>(
        _ step: CheckoutStep, _ body: () async throws -> T
    ) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await body()
            metrics.step(step, result: "ok", duration: ContinuousClock.now - start)
            return value
        } catch let e as PortError {
            metrics.step(step, result: e.kind.rawValue, duration: ContinuousClock.now - start)
            throw e
        }
    }

    /// Calls a forward step and turns its outcome into an event.
    private func perform(_ step: CheckoutStep, run: DriveRun, logger: Logger) async throws -> CheckoutEvent {
        let deadline = forwardDeadline(run, step: step)
        let id = run.idString
        do {
            switch step {
            case .reserve:
                let lines = run.draft.lines.map { StockRequest(sku: $0.sku, quantity: $0.quantity) }
                let ttl = configuration.reservationTTL
                let r = try await timed(step) {
                    try await retrying(until: deadline) { d in
                        try await self.inventory.reserve(reservationID: id, lines: lines, ttl: ttl, deadline: d)
                    }
                }
                switch r {
                case .reserved: return .reserved
                case .outOfStock(let skus): return .outOfStock(skus: skus)
                }
            case .createOrder:
                let draft = run.draft
                let order = try await timed(step) {
                    try await retrying(until: deadline) { d in try await self.orders.createOrder(draft, deadline: d) }
                }
                return .orderCreated(order)
            case .authorize:
                guard let card = run.card, let orderID = run.saga.orderID, let total = run.saga.total else {
                    return .failed(step, code: RPCStatusCode.internalError.rawValue, message: "authorization data missing")
                }
                let state = try await timed(step) {
                    try await retrying(until: deadline) { d in
                        try await self.payments.authorize(
                            idempotencyKey: id, orderID: orderID, amount: total, card: card, checkoutID: id, deadline: d)
                    }
                }
                return event(forAuthorization: state)
            case .confirmOrder, .commitReservation:
                return try await confirmOrCommit(step, run: run, deadline: deadline)
            default:
                return .failed(step, code: RPCStatusCode.internalError.rawValue, message: "not a forward step")
            }
        } catch let e as PortError {
            switch e.kind {
            case .unknownOutcome:
                logger.warning(
                    "step outcome unknown", metadata: ["checkout_id": "\(run.checkoutID)", "step": "\(step.rawValue)",
                                                       "error": "\(e)"])
                return .outcomeUnknown(step)
            case .unavailable where step == .confirmOrder || step == .commitReservation:
                // Past the authorization nothing is given up: try again later.
                throw Deferral(reason: "\(step.rawValue): \(e.message)")
            case .unavailable, .definite:
                // Not sent, or refused: the step did not happen.
                return .failed(step, code: e.code.rawValue, message: e.message)
            }
        }
    }

    private func confirmOrCommit(_ step: CheckoutStep, run: DriveRun, deadline: ContinuousClock.Instant) async throws
        -> CheckoutEvent
    {
        let id = run.idString
        guard let orderID = run.saga.orderID else {
            return .failed(step, code: RPCStatusCode.internalError.rawValue, message: "order id missing")
        }
        if step == .confirmOrder {
            guard let paymentID = run.saga.paymentID, let total = run.saga.total else {
                return .failed(step, code: RPCStatusCode.internalError.rawValue, message: "payment data missing")
            }
            try await timed(step) {
                try await retrying(until: deadline) { d in
                    try await self.orders.confirmOrder(orderID: orderID, paymentID: paymentID, paid: total, deadline: d)
                }
            }
            return .orderConfirmed
        }
        try await timed(step) {
            try await retrying(until: deadline) { d in
                try await self.inventory.commit(reservationID: id, orderID: orderID, deadline: d)
            }
        }
        return .reservationCommitted
    }

    func event(forAuthorization state: PaymentState) -> CheckoutEvent {
        switch state {
        case .authorized(let id): return .authorized(paymentID: id)
        case .declined(let id, let code, let reason): return .declined(paymentID: id, code: code, reason: reason)
        case .pending: return .outcomeUnknown(.authorize)
        case .voided(let id):
            return .failed(.authorize, code: RPCStatusCode.failedPrecondition.rawValue, message: "payment \(id) is voided")
        case .other(let id, let status):
            return .failed(.authorize, code: RPCStatusCode.failedPrecondition.rawValue, message: "payment \(id) is \(status)")
        }
    }

    // MARK: Resolving unknown outcomes (by asking, never guessing)

    /// Sleeps a backoff step if there is time for it before `deadline`.
    private func pause(_ attempt: Int, before deadline: ContinuousClock.Instant) async throws -> Bool {
        let delay = max(backoff(attempt: attempt), configuration.pollInterval)
        guard ContinuousClock.now + delay < deadline else { return false }
        try await Task.sleep(for: delay)
        return true
    }

    private func resolve(_ step: CheckoutStep, run: DriveRun, logger: Logger) async throws -> CheckoutEvent {
        let deadline = forwardDeadline(run, step: step)
        let id = run.idString
        let giveUp = CheckoutEvent.abandon(
            .failed(step: step.rawValue, code: RPCStatusCode.deadlineExceeded.rawValue,
                    message: "outcome of \(step.rawValue) could not be resolved in time"))
        var attempt = 0
        while true {
            attempt += 1
            do {
                switch step {
                case .reserve:
                    // Reserve is idempotent on the reservation id: asking again *is* the resolution.
                    // Without the caller (recovery) the release compensation settles it instead.
                    if run.recovering { return giveUp }
                    let event = try await perform(.reserve, run: run, logger: logger)
                    if event != .outcomeUnknown(.reserve) { return event }
                case .createOrder:
                    if let order = try await orders.findOrder(checkoutID: id, deadline: deadline) {
                        return .orderCreated(order)
                    }
                    // Not there: it never happened. Live, it may be sent again; in recovery, compensate.
                    return run.recovering || run.card == nil ? giveUp : .notHappened(.createOrder)
                case .authorize:
                    switch try await payments.lookup(idempotencyKey: id, deadline: deadline) {
                    case nil:
                        return run.card == nil ? .abandon(
                            .failed(step: "recovery", code: RPCStatusCode.aborted.rawValue,
                                    message: "checkout interrupted before payment; place it again with a new key"))
                            : .notHappened(.authorize)
                    case .pending?:
                        break  // payments resolves it with its provider; ask again
                    case let state?:
                        return event(forAuthorization: state)
                    }
                case .confirmOrder, .commitReservation:
                    // Idempotent: repeating is the resolution.
                    let event = try await perform(step, run: run, logger: logger)
                    if event != .outcomeUnknown(step) { return event }
                default:
                    return .failed(step, code: RPCStatusCode.internalError.rawValue, message: "not a forward step")
                }
            } catch let e as PortError {
                if e.kind == .definite && (step == .createOrder || step == .authorize) {
                    // The lookup itself was refused: treat like an unavailable service.
                    logger.warning("lookup refused", metadata: ["checkout_id": "\(id)", "error": "\(e)"])
                }
            }
            guard try await pause(attempt, before: deadline) else {
                switch step {
                case .confirmOrder, .commitReservation:
                    throw Deferral(reason: "\(step.rawValue): outcome still unknown")
                case .authorize where run.recovering:
                    throw Deferral(reason: "authorization still pending")
                default:
                    return giveUp
                }
            }
        }
    }

    // MARK: Compensations (tolerate "never happened")

    private func compensate(_ step: CheckoutStep, run: DriveRun, logger: Logger) async throws -> CheckoutEvent {
        let deadline = ContinuousClock.now + configuration.stepTimeout
        let id = run.idString
        let reason = run.saga.rejection.map(Self.describe) ?? "checkout compensated"
        do {
            let event = try await timed(step) { () async throws -> CheckoutEvent in
                switch step {
                case .voidPayment:
                    var paymentID = run.saga.paymentID
                    if paymentID == nil {
                        // Not a lookup: an Authorize still in flight could land after a "not found".
                        // Cancelling by key makes payments refuse it if it has not been recorded yet.
                        switch try await retrying(until: deadline, { d in
                            try await self.payments.cancelAuthorization(idempotencyKey: id, reason: reason, deadline: d)
                        }) {
                        case nil, .declined?, .voided?:
                            return .compensated(step)
                        case .pending?:
                            throw Deferral(reason: "payment for checkout \(id) still pending; void after it resolves")
                        case .other(_, let status)?:
                            return .compensationFailed(step, message: "payment is \(status)")
                        case .authorized(let pid)?:
                            paymentID = pid
                        }
                    }
                    let pid = paymentID!
                    try await retrying(until: deadline) { d in
                        try await self.payments.void(paymentID: pid, idempotencyKey: "void-\(id)", reason: reason, deadline: d)
                    }
                    return .compensated(step)
                case .cancelOrder:
                    if let oid = run.saga.orderID {
                        try await retrying(until: deadline) { d in
                            try await self.orders.cancelOrder(orderID: oid, reason: reason, deadline: d)
                        }
                    } else {
                        // No order id known: cancel by checkout id, which fences the checkout when no
                        // order exists yet, so a CreateOrder still in flight cannot leave one behind.
                        try await retrying(until: deadline) { d in
                            try await self.orders.cancelOrder(checkoutID: id, reason: reason, deadline: d)
                        }
                    }
                    return .compensated(step)
                case .releaseReservation:
                    try await retrying(until: deadline) { d in
                        try await self.inventory.release(reservationID: id, reason: reason, deadline: d)
                    }
                    return .compensated(step)
                default:
                    return .compensationFailed(step, message: "not a compensation")
                }
            }
            metrics.compensation(step, result: event == .compensated(step) ? "done" : "failed")
            return event
        } catch let e as PortError {
            switch e.kind {
            case .definite:
                metrics.compensation(step, result: "refused")
                logger.error(
                    "compensation refused", metadata: ["checkout_id": "\(id)", "step": "\(step.rawValue)", "error": "\(e)"])
                return .compensationFailed(step, message: "\(e.code): \(e.message)")
            case .unavailable, .unknownOutcome:
                throw Deferral(reason: "\(step.rawValue): \(e.message)")
            }
        }
    }

    /// The reason text sent with cancellations and releases.
    static func describe(_ rejection: CheckoutRejection) -> String {
        switch rejection {
        case .outOfStock(let skus): "out of stock: \(skus.joined(separator: ", "))"
        case .paymentDeclined(_, let reason): "payment declined: \(reason)"
        case .invalidRequest(let reason, _): "invalid request: \(reason)"
        case .failed(let step, _, let message): "\(step) failed: \(message)"
        }
    }
}

extension CheckoutSaga {
    var isCompensationStarted: Bool { phase.isCompensating || (phase == .compensated && rejection != nil) }
}
