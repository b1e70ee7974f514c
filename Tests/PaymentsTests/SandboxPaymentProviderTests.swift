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
        let ledger = try await sandbox.ledger(forKey: "a")
        #expect(ledger?.captured == 600 && ledger?.refunded == 600)
    }
}

@Suite("Sandbox provider over the payments database", .serialized)
struct DurableSandboxTests {
    private func request(_ number: String, key: String, amount: Int64) throws -> ProviderAuthorizationRequest {
        ProviderAuthorizationRequest(
            idempotencyKey: key, amount: amount, currency: Currency(code: "USD")!,
            card: try CardDetails(number: CardNumber(number), expiryMonth: 12, expiryYear: 2099))
    }

    @Test func authorizationsOutliveARestartAndMoneyMovesOnce() async throws {
        try await PaymentsHarness.run { h in
            typealias Card = SandboxPaymentProvider.TestCard
            let before = SandboxPaymentProvider(database: h.database)
            guard case .approved(let ref) = try await before.authorize(request(Card.success, key: "d-a", amount: 1000)) else {
                Issue.record("not approved")
                return
            }
            #expect(try await before.authorize(request(Card.genericDecline, key: "d-b", amount: 500)) == .declined(.cardDeclined))

            // A new instance on the same database — a restarted service — knows both outcomes.
            let after = SandboxPaymentProvider(database: h.database)
            #expect(try await after.lookupAuthorization(idempotencyKey: "d-a") == .completed(.approved(reference: ref)))
            #expect(try await after.lookupAuthorization(idempotencyKey: "d-b") == .completed(.declined(.cardDeclined)))
            #expect(try await after.authorize(request(Card.success, key: "d-a", amount: 1000)) == .approved(reference: ref))
            await #expect(throws: PaymentProviderError.idempotencyMismatch) {
                try await after.authorize(request(Card.success, key: "d-a", amount: 999))
            }

            // Twenty identical captures at once (one key): the money moves once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await after.capture(reference: ref, amount: 400, idempotencyKey: "cap-1") }
                }
                try await group.waitForAll()
            }
            await #expect(throws: PaymentProviderError.idempotencyMismatch) {
                try await after.capture(reference: ref, amount: 401, idempotencyKey: "cap-1")
            }
            await #expect(throws: PaymentProviderError.rejected("capture exceeds the authorization")) {
                try await after.capture(reference: ref, amount: 601, idempotencyKey: "cap-2")
            }
            try await before.refund(reference: ref, amount: 400, idempotencyKey: "ref-1")
            await #expect(throws: PaymentProviderError.rejected("unknown authorization")) {
                try await after.capture(reference: "sbx_nope_1", amount: 1, idempotencyKey: "cap-3")
            }
            let ledger = try await after.ledger(forKey: "d-a")
            #expect(ledger?.authorized == 1000 && ledger?.captured == 400 && ledger?.refunded == 400 && ledger?.voided == false)
            // Recorded in the database, not in either instance's memory.
            let rows = try await h.database.write { c in
                try await c.queryOne(
                    """
                    SELECT (SELECT COUNT(*) FROM sandbox_authorizations) AS a, (SELECT COUNT(*) FROM sandbox_operations) AS o,
                      (SELECT captured FROM sandbox_authorizations WHERE idempotency_key = 'd-a') AS c
                    """)
            }
            #expect(try rows?.int("a") == 2 && rows?.int("o") == 2 && rows?.int64("c") == 400)
        }
    }
}
