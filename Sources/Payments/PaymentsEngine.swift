import Foundation
import Logging
import Metrics
import OMSCore
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// Tunables of the payments engine (settings `provider-timeout`, `claim-margin`, `poll-interval`,
/// `resolver-interval`).
public struct PaymentsEngineSettings: Sendable, Hashable {
    /// Longest wait for one provider call when the caller's deadline allows more (or set none).
    public var providerTimeout: Duration
    /// Added to a claim beyond the provider call's own timeout, so a claim outlives its call.
    public var claimMargin: Duration
    /// How often a caller waiting for another call with the same key re-reads the row.
    public var pollInterval: Duration
    /// Period of the resolver job.
    public var resolverInterval: Duration
    /// This instance's node id for time-ordered ids (`--node-id`); distinct per instance.
    public var nodeID: Int = 0
    /// Most new intents of concurrent Authorize calls recorded together (`write-batch-size`; 1: each alone).
    public var intentBatch = defaultIntentBatch
    /// The default of `intentBatch`.
    public static let defaultIntentBatch = 128
    /// TEST-ONLY crash points (`failpoint`); off unless a test arms them.
    public var failpoints: Failpoints<PaymentsFailpoint> = .off

    public init(
        providerTimeout: Duration = .seconds(10), claimMargin: Duration = .seconds(2),
        pollInterval: Duration = .milliseconds(15), resolverInterval: Duration = .seconds(5)
    ) {
        self.providerTimeout = providerTimeout
        self.claimMargin = claimMargin
        self.pollInterval = pollInterval
        self.resolverInterval = resolverInterval
    }
}

/// The payments logic over domain types: idempotent authorize/capture/void/refund with one
/// provider call per idempotency key, unknown outcomes resolved by asking the provider.
///
/// Protocol: see docs/payments.md. In short, the first call with a key inserts the row under a
/// unique key together with a *claim* (a lease in `claimed_until`); only the claim holder talks
/// to the provider. Other calls with the key poll the row until it carries the final answer, or
/// until their deadline is near (then 10 ABORTED "in progress"). A claim holder that cannot learn
/// the outcome releases the claim and the row stays pending; the next caller (or the resolver
/// job) takes a new claim and first asks the provider by key.
public final class PaymentsEngine: Sendable {
    let repository: PaymentsRepository
    let provider: any PaymentProvider
    /// The tunables the engine runs with.
    public let settings: PaymentsEngineSettings
    let logger: Logger
    let ids: PaymentIDGenerator
    private let metrics: EngineMetrics

    /// - Parameters:
    ///   - database: the `oms_payments` database (migrated).
    ///   - provider: the card processor.
    ///   - settings: tunables.
    ///   - logger: logger; card data appears only as brand and last four.
    public init(
        database: MySQLDatabase, provider: any PaymentProvider, settings: PaymentsEngineSettings = .init(),
        logger: Logger
    ) {
        self.repository = PaymentsRepository(database: database, maxIntentBatch: settings.intentBatch)
        self.provider = provider
        self.settings = settings
        self.logger = logger
        self.ids = PaymentIDGenerator(node: settings.nodeID)
        self.metrics = EngineMetrics()
    }

    // MARK: Authorize

    /// Authorizes a payment, idempotently on `command.idempotencyKey`.
    /// - Parameters:
    ///   - command: the checked request.
    ///   - deadline: the caller's deadline, if any.
    /// - Returns: the payment as it was when the outcome became known (`authorized` or `failed`);
    ///   the same answer for every repeat of the request.
    /// - Throws: `RPCError` 9 when the key was used with a different request; 10 when another call
    ///   with the key is in progress and the deadline is near; 4/14 when the provider's outcome is
    ///   unknown (the payment stays `pending`; repeat the call with the same key).
    public func authorize(_ command: AuthorizeCommand, deadline: ContinuousClock.Instant?) async throws -> PaymentRecord
    {
        let fingerprint = command.fingerprint
        var log = logger
        log[metadataKey: "idempotency_key"] = "\(command.idempotencyKey)"
        log[metadataKey: "card"] = "\(command.card.summary)"
        while true {
            try Task.checkCancellation()
            if let row = try await repository.intent(idempotencyKey: command.idempotencyKey) {
                guard fingerprint.matches(row.requestHash) else {
                    metrics.idempotencyConflicts.increment()
                    throw RPCError.failedPrecondition(
                        "idempotency key was already used for a different Authorize request")
                }
                if let result = row.result { return try decode(PaymentRecord.self, result) }
                let now = Date()
                if let until = row.claimedUntil, until > now {
                    try await waitForOtherCall(deadline: deadline, what: "an Authorize with this idempotency key")
                    continue
                }
                let until = claimExpiry(deadline: deadline)
                guard try await repository.claimIntent(id: row.id, version: row.version, until: until) else { continue }
                var claimed = row
                claimed.record.version += 1
                claimed.claimedUntil = until
                log[metadataKey: "payment_id"] = "\(row.id)"
                log.info("resuming pending authorization: asking the provider first")
                return try await talkToProvider(claimed, command: command, askFirst: true, deadline: deadline, log: log)
            }
            let now = Date().truncatedToMicros
            let id = UInt64(ids.next())
            let record = PaymentRecord(
                id: id, idempotencyKey: command.idempotencyKey, orderID: command.orderID, status: .pending,
                currency: command.currency.code, amount: command.amount, capturedAmount: 0, refundedAmount: 0,
                cardBrand: command.card.number.brand.rawValue, cardLastFour: command.card.number.lastFour,
                cardExpiryMonth: command.card.expiryMonth, cardExpiryYear: command.card.expiryYear,
                providerReference: nil, failureCode: nil, version: 0, createdAtMicros: now.unixMicroseconds,
                updatedAtMicros: now.unixMicroseconds)
            let row = IntentRow(
                record: record, requestHash: fingerprint.value, providerKey: "oms-pay-\(id)",
                claimedUntil: claimExpiry(deadline: deadline),
                result: nil, createdAt: now)
            do {
                try await repository.insertPendingIntent(
                    row, metadataJSON: PaymentsRepository.jsonObject(command.metadata))
            } catch let error as MySQLError where error.kind == .duplicateKey {
                continue  // another call with this key won the insert: read its row
            } catch is PaymentsRepository.AuthorizationCancelled {
                metrics.idempotencyConflicts.increment()
                throw RPCError.failedPrecondition(
                    "the authorization with this idempotency key was cancelled by the merchant")
            }
            log[metadataKey: "payment_id"] = "\(id)"
            log.debug("payment intent created")
            settings.failpoints.reach(.afterIntent, logger: log)
            return try await talkToProvider(row, command: command, askFirst: false, deadline: deadline, log: log)
        }
    }

    /// Holding the claim on `row`: learn the outcome (ask first when resuming), then record it.
    private func talkToProvider(
        _ row: IntentRow, command: AuthorizeCommand, askFirst: Bool, deadline: ContinuousClock.Instant?, log: Logger
    ) async throws -> PaymentRecord {
        var outcome: ProviderAuthorizationOutcome?
        do {
            if askFirst {
                switch try await callProvider(
                    deadline: deadline,
                    { [provider] in
                        try await provider.lookupAuthorization(idempotencyKey: row.providerKey)
                    })
                {
                case .completed(let known): outcome = known
                case .inProgress:
                    await release(row, log: log)
                    throw RPCError.unavailable(
                        "the provider has not decided this authorization yet; the payment stays pending, retry later")
                case .notFound: break
                }
            }
            if outcome == nil {
                let request = ProviderAuthorizationRequest(
                    idempotencyKey: row.providerKey, amount: command.amount, currency: command.currency,
                    card: command.card)
                metrics.providerCalls.increment()
                let start = ContinuousClock.now
                outcome = try await callProvider(
                    deadline: deadline,
                    { [provider] in
                        try await provider.authorize(request)
                    })
                metrics.providerLatency.record(duration: ContinuousClock.now - start)
            }
        } catch let error as RPCError {
            throw error
        } catch PaymentProviderError.idempotencyMismatch {
            await release(row, log: log)
            log.error("provider refused the authorization key as reused with a different request")
            throw RPCError(.internalError, "the provider refused the authorization; see the payments log")
        } catch {
            // Timeout, lost connection or cancellation: nobody knows whether the card was charged.
            metrics.unknownOutcomes.increment()
            log.warning("authorization outcome unknown; payment stays pending", metadata: ["error": "\(error)"])
            await release(row, log: log)
            throw unknownOutcomeError(deadline: deadline, what: "authorization")
        }
        guard let outcome else { throw RPCError(.internalError, "no authorization outcome") }
        return try await recordOutcome(row, outcome: outcome, log: log)
    }

    /// Records a known outcome on a row this call holds the claim on.
    private func recordOutcome(_ row: IntentRow, outcome: ProviderAuthorizationOutcome, log: Logger) async throws
        -> PaymentRecord
    {
        var machine = try PaymentIntentStateMachine(
            status: row.record.status, amount: row.record.amount, capturedAmount: row.record.capturedAmount,
            refundedAmount: row.record.refundedAmount)
        var updated = row.record
        let transition: PaymentTransition
        switch outcome {
        case .approved(let reference):
            transition = try machine.authorizationApproved()
            updated.providerReference = reference
        case .declined(let code):
            transition = try machine.authorizationFailed()
            updated.failureCode = code.rawValue
        }
        return try await record(row, updated: updated, machine: machine, transition: transition, log: log)
    }

    private func record(
        _ row: IntentRow, updated start: PaymentRecord, machine: PaymentIntentStateMachine,
        transition: PaymentTransition,
        log: Logger
    ) async throws -> PaymentRecord {
        let now = Date().truncatedToMicros
        var updated = start
        updated.status = machine.status
        updated.version = row.version + 1
        updated.updatedAtMicros = now.unixMicroseconds
        let result = try encode(updated)
        do {
            try await repository.completeAuthorization(
                updated, expectedVersion: row.version, transition: transition, result: result, at: now)
        } catch is VersionConflict {
            // Our claim expired and another call recorded the outcome (or holds a newer claim).
            if let current = try await repository.intent(id: row.id), let stored = current.result {
                return try decode(PaymentRecord.self, stored)
            }
            throw RPCError(.aborted, "the payment changed while its authorization was recorded; retry")
        }
        metrics.authorizations(updated.status).increment()
        log.info(
            "authorization recorded",
            metadata: ["status": "\(updated.status.rawValue)", "failure_code": "\(updated.failureCode ?? "")"])
        return updated
    }

    private func release(_ row: IntentRow, log: Logger) async {
        do {
            _ = try await repository.releaseIntentClaim(id: row.id, version: row.version)
        } catch {
            log.warning("could not release the claim; it expires by itself", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Capture, void, refund

    /// Captures `amount` of an authorized payment, idempotently on `idempotencyKey`.
    /// - Throws: `RPCError` 5 unknown payment, 9 illegal move / amount over what remains / key reused with a
    ///   different request, 10 in progress elsewhere, 4/14 provider confirmation pending (ledger already moved;
    ///   repeat with the same key).
    /// - Parameters:
    ///   - currency: must be the payment's currency (else 3).
    public func capture(
        paymentID: UInt64, amount: Int64, currency: String, idempotencyKey: String, deadline: ContinuousClock.Instant?
    ) async throws -> PaymentOperationResult {
        try await moveMoney(
            .capture, paymentID: paymentID, amount: amount, currency: currency, key: idempotencyKey, deadline: deadline)
    }

    /// Voids an authorization that has no captures. Errors as for `capture`.
    public func void(paymentID: UInt64, idempotencyKey: String, deadline: ContinuousClock.Instant?) async throws
        -> PaymentOperationResult
    {
        try await moveMoney(
            .void, paymentID: paymentID, amount: 0, currency: nil, key: idempotencyKey, deadline: deadline)
    }

    /// Refunds `amount` of what was captured. Errors as for `capture`.
    /// - Parameters:
    ///   - currency: must be the payment's currency (else 3).
    public func refund(
        paymentID: UInt64, amount: Int64, currency: String, idempotencyKey: String, deadline: ContinuousClock.Instant?
    ) async throws -> PaymentOperationResult {
        try await moveMoney(
            .refund, paymentID: paymentID, amount: amount, currency: currency, key: idempotencyKey, deadline: deadline)
    }

    private func moveMoney(
        _ kind: PaymentOperationKind, paymentID: UInt64, amount: Int64, currency: String?, key: String,
        deadline: ContinuousClock.Instant?
    ) async throws -> PaymentOperationResult {
        var request = RequestFingerprint(kind.rawValue)
        request.append(paymentID)
        request.append(amount)
        request.append(currency)
        let fingerprint = FingerprintVerifier(
            request,
            legacy: LegacyFingerprint.moneyMovement(kind, paymentID: paymentID, amount: amount, currency: currency))
        var log = logger
        log[metadataKey: "payment_id"] = "\(paymentID)"
        log[metadataKey: "operation"] = "\(kind.rawValue)"
        log[metadataKey: "idempotency_key"] = "\(key)"
        var conflicts = 0
        while true {
            try Task.checkCancellation()
            if let op = try await repository.operation(kind: kind, idempotencyKey: key) {
                guard fingerprint.matches(op.requestHash) else {
                    metrics.idempotencyConflicts.increment()
                    throw RPCError.failedPrecondition(
                        "idempotency key was already used for a different \(kind.rawValue) request")
                }
                if op.state == "succeeded" { return try decode(PaymentOperationResult.self, op.result) }
                if let until = op.claimedUntil, until > Date() {
                    try await waitForOtherCall(deadline: deadline, what: "a \(kind.rawValue) with this idempotency key")
                    continue
                }
                let until = claimExpiry(deadline: deadline)
                guard try await repository.claimOperation(id: op.id, version: op.version, until: until) else {
                    continue
                }
                var claimed = op
                claimed.version += 1
                return try await confirm(claimed, deadline: deadline, log: log)
            }
            guard let intent = try await repository.intent(id: paymentID) else {
                throw RPCError.notFound("payment \(paymentID) does not exist")
            }
            if let currency, currency != intent.record.currency {
                throw RPCError.invalidArgument(
                    "amount.currency \(currency) does not match the payment's currency \(intent.record.currency)")
            }
            var machine = try PaymentIntentStateMachine(
                status: intent.record.status, amount: intent.record.amount,
                capturedAmount: intent.record.capturedAmount, refundedAmount: intent.record.refundedAmount)
            let transition: PaymentTransition
            switch kind {
            case .capture: transition = try machine.capture(amount)
            case .void: transition = try machine.void()
            case .refund: transition = try machine.refund(amount)
            }
            let now = Date().truncatedToMicros
            var updated = intent.record
            updated.status = machine.status
            updated.capturedAmount = machine.capturedAmount
            updated.refundedAmount = machine.refundedAmount
            updated.version = intent.version + 1
            updated.updatedAtMicros = now.unixMicroseconds
            let opRecord = PaymentOperationRecord(
                id: UInt64(ids.next()), paymentID: paymentID, kind: kind, idempotencyKey: key, amount: amount,
                createdAtMicros: now.unixMicroseconds)
            let result = PaymentOperationResult(operation: opRecord, payment: updated)
            let op = OperationRow(
                record: opRecord, requestHash: fingerprint.value, state: "pending",
                claimedUntil: claimExpiry(deadline: deadline),
                attempts: 1, result: try encode(result), version: 0)
            do {
                try await repository.insertOperation(
                    op, updatedIntent: updated, expectedVersion: intent.version, transition: transition, at: now)
            } catch let error as MySQLError where error.kind == .duplicateKey {
                continue
            } catch let error as MySQLError where error.isTransient {
                conflicts += 1
                metrics.versionConflicts.increment()
                guard conflicts < 50 else { throw RPCError(.aborted, "payment \(paymentID) is busy; retry") }
                continue
            } catch is VersionConflict {
                conflicts += 1
                metrics.versionConflicts.increment()
                guard conflicts < 50 else {
                    throw RPCError(.aborted, "payment \(paymentID) is changing too often; retry")
                }
                continue
            }
            log.info(
                "ledger moved", metadata: ["amount": "\(amount)", "status": "\(updated.status.rawValue)"])
            return try await confirm(op, deadline: deadline, log: log)
        }
    }

    /// Holding the claim on `op`: send it to the provider (idempotent by key), then mark it confirmed.
    private func confirm(_ op: OperationRow, deadline: ContinuousClock.Instant?, log: Logger) async throws
        -> PaymentOperationResult
    {
        let result = try decode(PaymentOperationResult.self, op.result)
        guard let reference = try await repository.intent(id: op.record.paymentID)?.record.providerReference else {
            throw RPCError(.internalError, "payment \(op.record.paymentID) has no provider reference")
        }
        let key = op.providerKey
        do {
            metrics.providerCalls.increment()
            try await callProvider(
                deadline: deadline,
                { [provider] in
                    switch op.record.kind {
                    case .capture:
                        try await provider.capture(reference: reference, amount: op.record.amount, idempotencyKey: key)
                    case .void: try await provider.void(reference: reference, idempotencyKey: key)
                    case .refund:
                        try await provider.refund(reference: reference, amount: op.record.amount, idempotencyKey: key)
                    }
                })
        } catch let error as RPCError {
            throw error
        } catch PaymentProviderError.rejected(let why) {
            _ = try? await repository.releaseOperationClaim(id: op.id, version: op.version)
            log.error("provider rejected a recorded operation; left pending", metadata: ["reason": "\(why)"])
            throw RPCError(.internalError, "the provider rejected the \(op.record.kind.rawValue); see the payments log")
        } catch {
            metrics.unknownOutcomes.increment()
            log.warning("provider confirmation unknown; operation stays pending", metadata: ["error": "\(error)"])
            _ = try? await repository.releaseOperationClaim(id: op.id, version: op.version)
            throw unknownOutcomeError(deadline: deadline, what: op.record.kind.rawValue)
        }
        if try await repository.completeOperation(id: op.id, version: op.version, at: Date().truncatedToMicros) {
            metrics.operations(op.record.kind).increment()
            return result
        }
        if let current = try await repository.operation(kind: op.record.kind, idempotencyKey: op.record.idempotencyKey),
            current.state == "succeeded"
        {
            return result
        }
        throw RPCError(.aborted, "the \(op.record.kind.rawValue) changed while it was confirmed; retry")
    }

    // MARK: Reads

    /// The payment with `id`, or nil.
    public func payment(id: UInt64) async throws -> PaymentRecord? {
        try await repository.intent(id: id)?.record
    }

    /// The payment authorized with `idempotencyKey` (the checkout id for checkouts), or nil.
    /// Withdraws the Authorize with `idempotencyKey`: if it has not been recorded yet, it never will
    /// be (a later Authorize is refused without a provider call); if it has, its payment is returned
    /// so the caller can void it (authorized) or ask again (pending).
    public func cancelAuthorization(idempotencyKey: String, reason: String) async throws -> PaymentRecord? {
        let found = try await repository.cancelAuthorization(
            idempotencyKey: idempotencyKey, reason: reason, at: Date().truncatedToMicros)
        var log = logger
        log[metadataKey: "idempotency_key"] = "\(idempotencyKey)"
        log.info("authorization cancelled by key", metadata: ["found": "\(found != nil)"])
        return found?.record
    }

    public func payment(idempotencyKey: String) async throws -> PaymentRecord? {
        try await repository.intent(idempotencyKey: idempotencyKey)?.record
    }

    /// The payments of an order, oldest first (at most 100).
    public func payments(orderID: String) async throws -> [PaymentRecord] {
        try await repository.intents(orderID: orderID, limit: 100).map(\.record)
    }

    /// The captures, voids and refunds of a payment, oldest first, with whether the provider confirmed each.
    public func operations(paymentID: UInt64) async throws -> [(operation: PaymentOperationRecord, confirmed: Bool)] {
        try await repository.operations(paymentID: paymentID).map { ($0.record, $0.state == "succeeded") }
    }

    // MARK: Resolver

    /// One pass of the resolver: settles pending intents and unconfirmed operations that nobody
    /// holds a claim on, by asking the provider (intents) or re-sending the idempotent call
    /// (operations). An intent the provider has no answer for, once its claim has run out (the call
    /// that recorded it died before or while sending), is withdrawn at the provider at once: the
    /// provider answers the outcome if the request reached it after all, else records the key as
    /// withdrawn so the request can never hold money later, and the intent fails as `withdrawn`.
    /// - Returns: how many intents and operations were settled.
    @discardableResult
    public func resolvePending(limit: Int = 100) async throws -> (intents: Int, operations: Int) {
        var settledIntents = 0
        var settledOperations = 0
        let now = Date()
        for row in try await repository.unclaimedPendingIntents(now: now, limit: limit) {
            let until = claimExpiry(deadline: nil)
            guard try await repository.claimIntent(id: row.id, version: row.version, until: until) else { continue }
            var claimed = row
            claimed.record.version += 1
            var log = logger
            log[metadataKey: "payment_id"] = "\(row.id)"
            do {
                switch try await callProvider(
                    deadline: nil,
                    { [provider] in
                        try await provider.lookupAuthorization(idempotencyKey: row.providerKey)
                    })
                {
                case .completed(let outcome):
                    _ = try await recordOutcome(claimed, outcome: outcome, log: log)
                    settledIntents += 1
                case .notFound:
                    let outcome = try await callProvider(
                        deadline: nil,
                        { [provider] in
                            try await provider.withdrawAuthorization(idempotencyKey: row.providerKey)
                        })
                    log.info("pending authorization settled by withdrawal", metadata: ["outcome": "\(outcome)"])
                    _ = try await recordOutcome(claimed, outcome: outcome, log: log)
                    settledIntents += 1
                case .inProgress:
                    await release(claimed, log: log)
                }
            } catch {
                log.warning("resolver could not settle a pending payment", metadata: ["error": "\(error)"])
                await release(claimed, log: log)
            }
        }
        for op in try await repository.unclaimedPendingOperations(now: now, limit: limit) {
            guard try await repository.claimOperation(id: op.id, version: op.version, until: claimExpiry(deadline: nil))
            else { continue }
            var claimed = op
            claimed.version += 1
            var log = logger
            log[metadataKey: "payment_id"] = "\(op.record.paymentID)"
            log[metadataKey: "operation"] = "\(op.record.kind.rawValue)"
            do {
                _ = try await confirm(claimed, deadline: nil, log: log)
                settledOperations += 1
            } catch {
                log.warning("resolver could not confirm an operation", metadata: ["error": "\(error)"])
            }
        }
        return (settledIntents, settledOperations)
    }

    // MARK: Helpers

    private func claimExpiry(deadline: ContinuousClock.Instant?) -> Date {
        Date().addingTimeInterval((callTimeout(deadline: deadline) + settings.claimMargin).inSeconds)
    }

    /// How long one provider call may take: what is left of the caller's deadline (less a little
    /// time to record the answer), at most `providerTimeout`.
    private func callTimeout(deadline: ContinuousClock.Instant?) -> Duration {
        guard let deadline else { return settings.providerTimeout }
        let left = deadline - ContinuousClock.now - .milliseconds(25)
        return max(.zero, min(left, settings.providerTimeout))
    }

    private func callProvider<T: Sendable>(
        deadline: ContinuousClock.Instant?, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = callTimeout(deadline: deadline)
        guard timeout > .zero else { throw PaymentProviderError.timedOut }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw PaymentProviderError.timedOut }
            return value
        }
    }

    private func waitForOtherCall(deadline: ContinuousClock.Instant?, what: String) async throws {
        if let deadline, deadline - ContinuousClock.now < settings.pollInterval * 2 {
            throw RPCError(.aborted, "\(what) is in progress; retry with the same key")
        }
        try await Task.sleep(for: settings.pollInterval)
    }

    private func unknownOutcomeError(deadline: ContinuousClock.Instant?, what: String) -> RPCError {
        let message =
            "the provider's answer to the \(what) is unknown; the payment stays pending — "
            + "repeat the call with the same idempotency key or ask GetPayment"
        if let deadline, ContinuousClock.now + .milliseconds(30) >= deadline {
            return RPCError(.deadlineExceeded, message)
        }
        return RPCError(.unavailable, message)
    }

    private func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw RPCError(.internalError, "stored payment result does not decode", cause: error)
        }
    }
}

/// Counters and timers of the engine (swift-metrics).
struct EngineMetrics: Sendable {
    let providerCalls = Counter(label: "oms_payments_provider_calls_total")
    let providerLatency = Timer(label: "oms_payments_provider_authorize_duration")
    let unknownOutcomes = Counter(label: "oms_payments_unknown_outcomes_total")
    let idempotencyConflicts = Counter(label: "oms_payments_idempotency_conflicts_total")
    let versionConflicts = Counter(label: "oms_payments_version_conflicts_total")

    func authorizations(_ status: PaymentStatus) -> Counter {
        Counter(label: "oms_payments_authorizations_total", dimensions: [("status", status.rawValue)])
    }

    func operations(_ kind: PaymentOperationKind) -> Counter {
        Counter(label: "oms_payments_operations_total", dimensions: [("kind", kind.rawValue)])
    }
}
