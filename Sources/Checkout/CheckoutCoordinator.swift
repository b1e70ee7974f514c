import Foundation
import Logging
import OMSCore
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// Runs checkouts: records them, drives the saga (reserve → create order → authorize → confirm +
/// commit, or compensation in reverse) through the ports, and recovers checkouts whose driver died.
///
/// Every state change is written to `oms_checkout` before the next step relies on it; see
/// docs/checkout.md.
public final class CheckoutCoordinator: Sendable {
    let repository: CheckoutRepository
    let inventory: any InventoryPort
    let orders: any OrdersPort
    let payments: any PaymentsPort
    let configuration: CheckoutConfiguration
    let logger: Logger
    let ids: CheckoutIDGenerator
    let metrics = CheckoutMetrics()

    /// Creates a coordinator from the service settings (see `CheckoutConfiguration.init(options:)`).
    /// - Parameters:
    ///   - database: the migrated `oms_checkout` database.
    ///   - inventory: inventory port (catalog prices, reservations).
    ///   - orders: orders port.
    ///   - payments: payments port.
    ///   - options: the service's own settings.
    ///   - logger: logger.
    /// - Throws: `ConfigurationError` for bad settings.
    public convenience init(
        database: MySQLDatabase, inventory: any InventoryPort, orders: any OrdersPort, payments: any PaymentsPort,
        options: CheckoutOptions, logger: Logger
    ) throws {
        self.init(
            database: database, inventory: inventory, orders: orders, payments: payments,
            configuration: try CheckoutConfiguration(options: options), logger: logger)
    }

    /// Creates a coordinator with an explicit configuration.
    /// - Parameters:
    ///   - database: the migrated `oms_checkout` database.
    ///   - inventory: inventory port.
    ///   - orders: orders port.
    ///   - payments: payments port.
    ///   - configuration: tunables.
    ///   - logger: logger.
    public init(
        database: MySQLDatabase, inventory: any InventoryPort, orders: any OrdersPort, payments: any PaymentsPort,
        configuration: CheckoutConfiguration, logger: Logger
    ) {
        self.repository = CheckoutRepository(database: database, maxLogBatch: configuration.logBatch)
        self.inventory = inventory
        self.orders = orders
        self.payments = payments
        self.configuration = configuration
        self.logger = logger
        self.ids = CheckoutIDGenerator(node: configuration.nodeID)
    }

    // MARK: PlaceOrder

    /// Places an order, idempotently on `command.idempotencyKey`.
    ///
    /// - Same key, same request: the first result (waiting for it until shortly before `deadline`;
    ///   then `outcome == nil`, "in progress"). Same key, different request: 9 FAILED_PRECONDITION.
    /// - Business rejections are results (`.rejected`), not errors.
    /// - Parameters:
    ///   - command: the validated request.
    ///   - deadline: the caller's deadline (nil: `defaultDeadline` from now).
    /// - Returns: the result; `outcome` nil while the checkout is still running.
    /// - Throws: `RPCError` 9 (key reused with another request), 14 (catalog or database unavailable
    ///   before anything was recorded, or the checkout was interrupted: ask again with the same key).
    public func placeOrder(_ command: PlaceOrderCommand, deadline: ContinuousClock.Instant?) async throws
        -> CheckoutResult
    {
        let deadline = deadline ?? ContinuousClock.now + configuration.defaultDeadline
        let answerBy = deadline - configuration.answerMargin
        let fingerprint = CheckoutValidation.fingerprint(command)
        var log = logger
        log[metadataKey: "idempotency_key"] = "\(command.idempotencyKey)"

        if let existing = try await repository.find(idempotencyKey: command.idempotencyKey) {
            return try await replay(existing, fingerprint: fingerprint, answerBy: answerBy)
        }

        // Prices come from the catalog, never from the caller. A read: nothing to undo if it fails.
        let draftOrRejection = try await price(command, deadline: min(deadline, ContinuousClock.now + configuration.stepTimeout))

        var attempt = 0
        while true {
            attempt += 1
            let id = ids.next()
            let saga: CheckoutSaga
            var firstLog: [CheckoutLogEntry] = []
            let draft: OrderDraft
            switch draftOrRejection {
            case .success(let d):
                draft = d.with(checkoutID: String(id))
                // Recorded with the intent of the first step in the same commit.
                var s = CheckoutSaga()
                try s.apply(.begin(.reserve))
                saga = s
                firstLog = [
                    CheckoutLogEntry(
                        kind: "intent", step: .reserve, fromPhase: .recorded, toPhase: s.phase,
                        detail: JSONText.object(["event": CheckoutEvent.begin(.reserve).description])),
                ]
            case .failure(let rejection):
                draft = rejection.draft?.with(checkoutID: String(id)) ?? OrderDraft(
                    checkoutID: String(id), customer: command.customer, lines: [], shippingAddress: command.shippingAddress,
                    metadataJSON: command.metadataJSON, reservationID: String(id))
                saga = .rejectedAtStart(rejection.rejection)
            }
            let outcome = saga.isFinal ? outcome(of: saga, checkoutID: id) : nil
            let inserted = try await repository.insert(
                checkoutID: id, idempotencyKey: command.idempotencyKey, requestHash: fingerprint.value, saga: saga,
                request: StoredRequest(draft: draft, cardLast4: command.card.last4), outcome: outcome,
                owner: configuration.instanceName, lease: configuration.lease, log: firstLog)
            switch inserted {
            case .idTaken where attempt < 5:
                continue
            case .idTaken:
                throw RPCError(.unavailable, "could not mint a unique checkout id; retry")
            case .keyTaken:
                guard let existing = try await repository.find(idempotencyKey: command.idempotencyKey) else {
                    throw RPCError(.aborted, "checkout with this key changed concurrently; retry with the same key")
                }
                return try await replay(existing, fingerprint: fingerprint, answerBy: answerBy)
            case .inserted:
                log[metadataKey: "checkout_id"] = "\(id)"
                if let outcome {
                    metrics.finished(outcome)
                    log.info("checkout rejected before any step", metadata: ["outcome": "\(outcome.label)"])
                    return CheckoutResult(checkoutID: String(id), outcome: outcome)
                }
                log.info("checkout recorded", metadata: ["lines": "\(draft.lines.count)"])
                let run = DriveRun(
                    checkoutID: id, version: 0, saga: saga, draft: draft, card: command.card, callerDeadline: deadline,
                    recovering: false, intentLogged: .reserve)
                return try await driveAndWait(run, answerBy: answerBy, logger: log)
            }
        }
    }

    /// Answers a call whose key is already recorded.
    private func replay(
        _ existing: CheckoutSnapshot, fingerprint: FingerprintVerifier, answerBy: ContinuousClock.Instant
    ) async throws -> CheckoutResult {
        guard fingerprint.matches(existing.requestHash) else {
            metrics.replay("conflict")
            throw RPCError(
                .failedPrecondition,
                "idempotency_key was already used with a different request (checkout \(existing.checkoutID))")
        }
        var current = existing
        while current.outcome == nil {
            guard ContinuousClock.now + configuration.pollInterval < answerBy else {
                metrics.replay("in_progress")
                return CheckoutResult(checkoutID: current.checkoutIDString, outcome: nil)
            }
            try await Task.sleep(for: configuration.pollInterval)
            guard let again = try await repository.find(checkoutID: current.checkoutID) else { break }
            current = again
        }
        metrics.replay("result")
        return CheckoutResult(checkoutID: current.checkoutIDString, outcome: current.outcome)
    }

    struct PricingRejection: Error {
        var rejection: CheckoutRejection
        /// The priced draft, when the lines could be priced (kept with the recorded rejection).
        var draft: OrderDraft? = nil
    }

    /// Looks the catalog up and builds the draft, or the business rejection (invalid lines; or, with
    /// the stock pre-check, lines the gate cannot cover right now).
    private func price(_ command: PlaceOrderCommand, deadline: ContinuousClock.Instant) async throws
        -> Result<OrderDraft, PricingRejection>
    {
        let skus = command.lines.map(\.sku)
        // Asked alongside the prices; a failed or late answer only skips the shortcut.
        async let stock = stockHint(skus: skus, deadline: deadline)
        let catalog: [String: CatalogItem]
        do {
            catalog = try await retrying(until: deadline) { d in try await self.inventory.prices(skus: skus, deadline: d) }
        } catch let e as PortError {
            // Nothing was recorded: the caller may simply retry.
            throw RPCError(e.kind == .definite ? e.code : .unavailable, "catalog lookup failed: \(e.message)")
        }
        var violations: [CheckoutFieldViolation] = []
        var lines: [PricedLine] = []
        var currency: String?
        var subtotal: Int64 = 0
        for (i, line) in command.lines.enumerated() {
            guard let item = catalog[line.sku] else {
                violations.append(.init(field: "lines[\(i)].sku", description: "unknown SKU \(line.sku)"))
                continue
            }
            guard item.active else {
                violations.append(.init(field: "lines[\(i)].sku", description: "SKU \(line.sku) is not for sale"))
                continue
            }
            if currency == nil { currency = item.unitPrice.currency }
            guard item.unitPrice.currency == currency else {
                violations.append(.init(field: "lines[\(i)].sku", description: "SKU \(line.sku) is priced in another currency"))
                continue
            }
            let (lineTotal, o1) = item.unitPrice.amountMinor.multipliedReportingOverflow(by: line.quantity)
            let (sum, o2) = subtotal.addingReportingOverflow(lineTotal)
            guard !o1, !o2, item.unitPrice.amountMinor >= 0 else {
                violations.append(.init(field: "lines[\(i)].quantity", description: "amount out of range"))
                continue
            }
            subtotal = sum
            lines.append(
                PricedLine(
                    sku: line.sku, productName: item.name, quantity: line.quantity, unitPrice: item.unitPrice,
                    attributesJSON: line.attributesJSON))
        }
        if !violations.isEmpty {
            return .failure(PricingRejection(rejection: .invalidRequest(
                reason: "some lines cannot be sold", violations: violations)))
        }
        let draft = OrderDraft(
            checkoutID: "", customer: command.customer, lines: lines, shippingAddress: command.shippingAddress,
            metadataJSON: command.metadataJSON, reservationID: "")
        if let available = await stock {
            let short = lines.filter { line in available[line.sku].map { $0 < line.quantity } ?? false }.map(\.sku)
            if !short.isEmpty {
                metrics.precheckRejected()
                return .failure(PricingRejection(rejection: .outOfStock(skus: short), draft: draft))
            }
        }
        return .success(draft)
    }

    /// The gate's stock of `skus`, or nil when the pre-check is off or the answer did not come.
    private func stockHint(skus: [String], deadline: ContinuousClock.Instant) async -> [String: Int64]? {
        guard configuration.stockPrecheck else { return nil }
        do {
            return try await inventory.availability(skus: skus, deadline: deadline)
        } catch {
            logger.debug("stock pre-check skipped", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The final answer of an ended saga.
    func outcome(of saga: CheckoutSaga, checkoutID: Int64) -> CheckoutOutcome? {
        switch saga.phase {
        case .completed:
            return .placed(
                PlacedOrder(
                    orderID: saga.orderID ?? "", subtotal: saga.subtotal ?? CheckoutMoney(amountMinor: 0, currency: ""),
                    total: saga.total ?? CheckoutMoney(amountMinor: 0, currency: ""), paymentID: saga.paymentID ?? "",
                    reservationID: String(checkoutID)))
        case .compensated:
            return .rejected(
                saga.rejection ?? .failed(step: "unknown", code: RPCStatusCode.internalError.rawValue, message: "no reason recorded"))
        default:
            return nil
        }
    }

    /// Starts the saga in its own task (it must go on when the caller gives up) and waits for it
    /// until `answerBy`.
    private func driveAndWait(_ run: DriveRun, answerBy: ContinuousClock.Instant, logger: Logger) async throws
        -> CheckoutResult
    {
        let waiter = OutcomeWaiter()
        Task.detached { [self] in
            var run = run
            do {
                let outcome = try await self.drive(&run, logger: logger)
                waiter.finish(.success(outcome))
            } catch {
                logger.error("checkout driver stopped; recovery will finish it", metadata: ["error": "\(error)"])
                waiter.finish(.failure(error))
            }
        }
        switch await waiter.wait(until: answerBy) {
        case nil, .success(nil)?:
            return CheckoutResult(checkoutID: String(run.checkoutID), outcome: nil)
        case .success(let outcome?)?:
            return CheckoutResult(checkoutID: String(run.checkoutID), outcome: outcome)
        case .failure?:
            throw RPCError(
                .unavailable, "checkout \(run.checkoutID) was interrupted; it will be finished by recovery; ask again with the same key")
        }
    }

    // MARK: Queries

    /// The checkout recorded under a key, or nil.
    /// - Throws: `MySQLError`.
    public func checkout(idempotencyKey: String) async throws -> CheckoutSnapshot? {
        try await repository.find(idempotencyKey: idempotencyKey)
    }

    /// The checkout with an id, or nil.
    /// - Throws: `MySQLError`.
    public func checkout(id: Int64) async throws -> CheckoutSnapshot? {
        try await repository.find(checkoutID: id)
    }

    /// Checkouts recovery gave up on, oldest first.
    /// - Throws: `MySQLError`.
    public func parkedCheckouts(limit: Int) async throws -> [CheckoutSnapshot] {
        try await repository.parked(limit: limit)
    }

    /// Takes a parked checkout back into recovery with a fresh attempt budget (the next sweeper
    /// pass claims it). A checkout that is not parked is left as it is.
    /// - Returns: the checkout as it is now, or nil when there is none with that id.
    /// - Throws: `MySQLError`.
    public func resume(checkoutID: Int64) async throws -> CheckoutSnapshot? {
        if try await repository.resume(checkoutID: checkoutID) {
            logger.notice("parked checkout resumed by an operator", metadata: ["checkout_id": "\(checkoutID)"])
        }
        return try await repository.find(checkoutID: checkoutID)
    }

    /// The step log of a checkout, oldest first.
    /// - Throws: `MySQLError`.
    public func log(checkoutID: Int64) async throws -> [CheckoutLogEntry] {
        try await repository.log(checkoutID: checkoutID)
    }

    // MARK: Retries

    /// Runs `body`, retrying on `PortError.unavailable` with full-jitter exponential backoff while the
    /// next attempt can start before `deadline`. Other errors are thrown at once.
    func retrying<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ body: @Sendable (ContinuousClock.Instant) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            guard ContinuousClock.now < deadline else {
                throw PortError.unavailable("deadline passed before the call was sent")
            }
            do {
                return try await body(deadline)
            } catch let e as PortError where e.kind == .unavailable {
                attempt += 1
                let delay = backoff(attempt: attempt)
                if ContinuousClock.now + delay >= deadline { throw e }
                try await Task.sleep(for: delay)
            }
        }
    }

    func backoff(attempt: Int) -> Duration {
        let cap = configuration.retryInitialDelay * (1 << min(attempt - 1, 16))
        let upper = min(cap, configuration.retryMaximumDelay)
        let micros = max(1, upper.wholeMicroseconds)
        return .microseconds(Int64.random(in: 0...micros))
    }
}

/// The result of a detached driver handed to the handler that waits for it (first of: the result
/// or the handler's answer time).
final class OutcomeWaiter: @unchecked Sendable {
    // Guarded by `lock`; hence `@unchecked Sendable`.
    private let lock = NSLock()
    private var result: Result<CheckoutOutcome?, any Error>?
    private var continuation: CheckedContinuation<Result<CheckoutOutcome?, any Error>?, Never>?
    private var resumed = false

    func finish(_ value: Result<CheckoutOutcome?, any Error>) {
        lock.lock()
        result = value
        let c = resumed ? nil : continuation
        if c != nil { resumed = true }
        lock.unlock()
        c?.resume(returning: value)
    }

    private func timeout() {
        lock.lock()
        let c = resumed ? nil : continuation
        if c != nil { resumed = true }
        lock.unlock()
        c?.resume(returning: nil)
    }

    func wait(until instant: ContinuousClock.Instant) async -> Result<CheckoutOutcome?, any Error>? {
        let timer = Task { [self] in
            try? await Task.sleep(until: instant, clock: .continuous)
            timeout()
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { c in
            lock.lock()
            if let result {
                resumed = true
                lock.unlock()
                c.resume(returning: result)
            } else if ContinuousClock.now >= instant {
                resumed = true
                lock.unlock()
                c.resume(returning: nil)
            } else {
                continuation = c
                lock.unlock()
            }
        }
    }
}

extension OrderDraft {
    func with(checkoutID: String) -> OrderDraft {
        var d = self
        d.checkoutID = checkoutID
        d.reservationID = checkoutID
        return d
    }
}
