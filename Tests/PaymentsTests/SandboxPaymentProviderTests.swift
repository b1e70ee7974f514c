import Testing

@testable import Payments

@Suite struct SandboxPaymentProviderTests {
    private func request(_ number: String, key: String, amount: Int64 = 1000, year: Int = 2099) throws
        -> ProviderAuthorizationRequest
    {
        ProviderAuthorizationRequest(
            idempotencyKey: key, amount: amount, currency: Currency(code: "USD")!,
            card: try CardDetails(number: CardNumber(number), expiryMonth: 12, expiryYear: year))
    }

    @Test func answersByTestCard() async throws {
        let sandbox = SandboxPaymentProvider()
        typealias Card = SandboxPaymentProvider.TestCard
        guard case .approved = try await sandbox.authorize(request(Card.success, key: "a")) else {
            Issue.record("success card not approved")
            return
        }
        #expect(try await sandbox.authorize(request(Card.genericDecline, key: "b")) == .declined(.cardDeclined))
        #expect(try await sandbox.authorize(request(Card.insufficientFunds, key: "c")) == .declined(.insufficientFunds))
        #expect(try await sandbox.authorize(request(Card.processingError, key: "d")) == .declined(.processingError))
        #expect(try await sandbox.authorize(request(Card.success, key: "e", year: 2001)) == .declined(.expiredCard))
        #expect(await sandbox.authorizeCallCount == 5)
    }

    @Test func idempotentByKeyAndAnswersLookups() async throws {
        let sandbox = SandboxPaymentProvider()
        #expect(try await sandbox.lookupAuthorization(idempotencyKey: "k") == .notFound)
        let first = try await sandbox.authorize(request(SandboxPaymentProvider.TestCard.success, key: "k"))
        let again = try await sandbox.authorize(request(SandboxPaymentProvider.TestCard.success, key: "k"))
        #expect(first == again)
        #expect(try await sandbox.lookupAuthorization(idempotencyKey: "k") == .completed(first))
        await #expect(throws: PaymentProviderError.idempotencyMismatch) {
            _ = try await sandbox.authorize(request(SandboxPaymentProvider.TestCard.success, key: "k", amount: 1001))
        }
        #expect(await sandbox.authorizeCalls(forKey: "k") == 3)
    }

    @Test func slowCardIsDecidedAtOnceAndCanBeLookedUpWhileItsAnswerIsLate() async throws {
        let sandbox = SandboxPaymentProvider(slowLatency: .seconds(3600))
        let call = Task { try await sandbox.authorize(request(SandboxPaymentProvider.TestCard.slow, key: "slow")) }
        // Poll until the sandbox has the request (no timing assumption: it may take any time to arrive).
        var looked = ProviderLookupResult.notFound
        while looked == .notFound {
            await Task.yield()
            looked = try await sandbox.lookupAuthorization(idempotencyKey: "slow")
        }
        guard case .completed(.approved) = looked else {
            Issue.record("slow card lookup: \(looked)")
            return
        }
        call.cancel()
        await #expect(throws: (any Error).self) { _ = try await call.value }
    }

    @Test func ledgerRefusesOverCaptureAndOverRefundAndIsIdempotentPerKey() async throws {
        let sandbox = SandboxPaymentProvider()
        guard
            case .approved(let ref) = try await sandbox.authorize(
                request(SandboxPaymentProvider.TestCard.success, key: "a"))
        else { return }
        try await sandbox.capture(reference: ref, amount: 600, idempotencyKey: "c1")
        try await sandbox.capture(reference: ref, amount: 600, idempotencyKey: "c1")
        await #expect(throws: PaymentProviderError.self) {
            try await sandbox.capture(reference: ref, amount: 401, idempotencyKey: "c2")
        }
        try await sandbox.refund(reference: ref, amount: 600, idempotencyKey: "r1")
        await #expect(throws: PaymentProviderError.self) {
            try await sandbox.refund(reference: ref, amount: 1, idempotencyKey: "r2")
        }
        await #expect(throws: PaymentProviderError.self) { try await sandbox.void(reference: ref, idempotencyKey: "v") }
        let ledger = await sandbox.ledger(forKey: "a")
        #expect(ledger?.captured == 600 && ledger?.refunded == 600)
    }
}
