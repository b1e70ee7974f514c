import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Payments

/// Wraps the sandbox and loses the answer of the first N captures after the sandbox acted on them
/// (the "connection lost after the provider moved money" case).
final class LosingProvider: PaymentProvider, @unchecked Sendable {
    // @unchecked Sendable: `lose` is only touched while `lock` is held; `inner` is an actor.
    let inner: SandboxPaymentProvider
    private let lock = NSLock()
    private var lose: Int

    init(inner: SandboxPaymentProvider, loseCaptures: Int) {
        self.inner = inner
        self.lose = loseCaptures
    }

    private func takeLoss() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard lose > 0 else { return false }
        lose -= 1
        return true
    }

    func authorize(_ request: ProviderAuthorizationRequest) async throws -> ProviderAuthorizationOutcome {
        try await inner.authorize(request)
    }

    func lookupAuthorization(idempotencyKey: String) async throws -> ProviderLookupResult {
        try await inner.lookupAuthorization(idempotencyKey: idempotencyKey)
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
