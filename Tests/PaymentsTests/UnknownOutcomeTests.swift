import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Payments

/// Wraps the sandbox and loses the answer of the first N captures after the sandbox acted on them
/// (the "connection lost after the provider moved money" case), and drops the first M authorizations
/// before they reach the sandbox (the "process died between recording the intent and calling the
/// provider" case, as the provider sees it).
final class LosingProvider: PaymentProvider, @unchecked Sendable {
    // @unchecked Sendable: `lose` and `drop` are only touched while `lock` is held; `inner` is an actor.
    let inner: SandboxPaymentProvider
    private let lock = NSLock()
    private var lose: Int
    private var drop: Int

    init(inner: SandboxPaymentProvider, loseCaptures: Int = 0, dropAuthorizations: Int = 0) {
        self.inner = inner
        self.lose = loseCaptures
        self.drop = dropAuthorizations
    }

    private func take(_ counter: ReferenceWritableKeyPath<LosingProvider, Int>) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard self[keyPath: counter] > 0 else { return false }
        self[keyPath: counter] -= 1
        return true
    }

    private func takeLoss() -> Bool { take(\.lose) }

    func authorize(_ request: ProviderAuthorizationRequest) async throws -> ProviderAuthorizationOutcome {
        if take(\.drop) { throw PaymentProviderError.unavailable("connection refused (test)") }
        return try await inner.authorize(request)
    }

    func lookupAuthorization(idempotencyKey: String) async throws -> ProviderLookupResult {
        try await inner.lookupAuthorization(idempotencyKey: idempotencyKey)
    }

    func withdrawAuthorization(idempotencyKey: String) async throws -> ProviderAuthorizationOutcome {
        try await inner.withdrawAuthorization(idempotencyKey: idempotencyKey)
    }

    func capture(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await inner.capture(reference: reference, amount: amount, idempotencyKey: idempotencyKey)
        if takeLoss() { throw PaymentProviderError.unavailable("connection reset (test)") }
    }

    func void(reference: String, idempotencyKey: String) async throws {
        try await inner.void(reference: reference, idempotencyKey: idempotencyKey)
    }

    func refund(reference: String, amount: Int64, idempotencyKey: String) async throws {
        try await inner.refund(reference: reference, amount: amount, idempotencyKey: idempotencyKey)
    }
}

@Suite(.serialized) struct UnknownOutcomeTests {
    @Test func anAuthorizationThatNeverReachedTheProviderIsWithdrawnAndSettledByTheResolver() async throws {
        try await PaymentsHarness.run { h in
            let dropping = LosingProvider(inner: h.sandbox, dropAuthorizations: 1)
            let engine = PaymentsEngine(database: h.database, provider: dropping, logger: h.engine.logger)
            let service = PaymentsService(engine: engine, logger: h.engine.logger)
            let request = PaymentsHarness.authorizeRequest(key: "never-sent", amount: 1000)
            await expectCode(.unavailable) { _ = try await service.authorize(request, context: h.context()) }
            let pending = try #require(try await h.get(.idempotencyKey("never-sent")).payment)
            #expect(pending.status == .pending)
            // The resolver settles it at once (no 15-minute wait): the provider has no request with
            // the key, so the key is withdrawn there and the intent fails.
            #expect(try await engine.resolvePending().intents == 1)
            let settled = try #require(try await h.get(.idempotencyKey("never-sent")).payment)
            #expect(settled.status == .failed)
            #expect(settled.failureMessage.contains("withdrawn"))
            // A request with the provider key that arrives late can no longer hold money.
            let providerKey = "oms-pay-\(settled.paymentID)"
            let late = ProviderAuthorizationRequest(
                idempotencyKey: providerKey, amount: 1000, currency: try #require(Currency(code: "EUR")),
                card: try CardDetails(
                    number: try CardNumber(SandboxPaymentProvider.TestCard.success), expiryMonth: 12, expiryYear: 2099))
            #expect(try await h.sandbox.authorize(late) == .declined(.withdrawn))
            #expect(try await h.sandbox.ledger(forKey: providerKey)?.authorized == 0)
            // The caller's retry gets the recorded answer and the provider is not asked to charge.
            let calls = await h.sandbox.authorizeCallCount
            let retried = try await service.authorize(request, context: h.context())
            #expect(retried.payment?.status == .failed)
            #expect(await h.sandbox.authorizeCallCount == calls)
        }
    }

    @Test func withdrawingAKeyTheProviderDecidedAnswersThatOutcome() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "decided", amount: 500))
            let providerKey = "oms-pay-\(p.paymentID)"
            guard case .approved = try await h.sandbox.withdrawAuthorization(idempotencyKey: providerKey) else {
                Issue.record("an approved authorization was withdrawn")
                return
            }
            #expect(try await h.sandbox.ledger(forKey: providerKey)?.authorized == 500)
        }
    }

    @Test func lostCaptureAnswerIsConfirmedByRepeatingWithTheSameKey() async throws {
        try await PaymentsHarness.run { h in
            let losing = LosingProvider(inner: h.sandbox, loseCaptures: 2)
            let engine = PaymentsEngine(database: h.database, provider: losing, logger: h.engine.logger)
            let service = PaymentsService(engine: engine, logger: h.engine.logger)
            let p = try #require(
                try await service.authorize(
                    PaymentsHarness.authorizeRequest(key: "lost", amount: 1000), context: h.context()
                )
                .payment)
            var capture = PaymentsV1.CaptureRequest()
            capture.paymentID = p.paymentID
            capture.amount = CommonV1.Money(amountMinor: 400, currency: "EUR")
            capture.idempotencyKey = "shipment-lost"
            let ctx = h.context(PaymentsV1.Payments.Method.capture)
            await expectCode(.unavailable) { try await service.capture(capture, context: ctx) }
            // The ledger moved (reserved) but the operation is unconfirmed.
            var ops = try await h.engine.operations(paymentID: UInt64(p.paymentID)!)
            #expect(ops.count == 1 && ops.first?.confirmed == false)
            // The resolver re-sends it; its answer is lost again: still pending, nothing doubled.
            #expect(try await engine.resolvePending().operations == 0)
            let answer = try await service.capture(capture, context: ctx)
            #expect(answer.payment?.captured?.amountMinor == 400)
            ops = try await h.engine.operations(paymentID: UInt64(p.paymentID)!)
            #expect(ops.count == 1 && ops.first?.confirmed == true)
            #expect(try await h.sandbox.ledger(forKey: "oms-pay-\(p.paymentID)")?.captured == 400)
            #expect(try await service.capture(capture, context: ctx) == answer)
        }
    }

    @Test func aWaitingCallerWithAShortDeadlineIsToldInProgressAndTheOwnerLearnsNothingIsGuessed() async throws {
        var settings = PaymentsEngineSettings()
        settings.providerTimeout = .seconds(2)
        try await PaymentsHarness.run(settings: settings) { h in
            let request = PaymentsHarness.authorizeRequest(
                key: "in-progress", card: SandboxPaymentProvider.TestCard.slow)
            let owner = Task { try await h.service.authorize(request, context: h.context()) }
            // Wait until the owner's row exists (no timing assumption).
            while (try? await h.get(.idempotencyKey("in-progress"))) == nil {
                try await Task.sleep(for: .milliseconds(5))
            }
            await expectCode(.aborted) { try await h.authorize(request, timeout: .milliseconds(100)) }
            // The owner's provider call times out (no caller deadline): 14, payment pending.
            await expectCode(.unavailable) { try await owner.value }
            #expect(try await h.get(.idempotencyKey("in-progress")).payment?.status == .pending)
            // The next call asks the provider and records what it says.
            #expect(try await h.authorize(request).status == .authorized)
            #expect(await h.sandbox.authorizeCallCount == 1)
        }
    }
}
