import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Payments

/// CancelAuthorization: a compensating caller withdraws an Authorize it does not know the fate of.
@Suite(.serialized) struct CancelAuthorizationTests {
    static func cancel(_ key: String) -> PaymentsV1.CancelAuthorizationRequest {
        var r = PaymentsV1.CancelAuthorizationRequest()
        r.idempotencyKey = key
        r.reason = "checkout compensated"
        return r
    }

    @Test func cancelBeforeAuthorizeRefusesTheLateRequestWithoutCallingTheProvider() async throws {
        try await PaymentsHarness.run { h in
            let first = try await h.service.cancelAuthorization(Self.cancel("late-1"), context: h.context())
            #expect(first.payment == nil)
            // Repeating the cancellation is harmless.
            #expect(try await h.service.cancelAuthorization(Self.cancel("late-1"), context: h.context()).payment == nil)
            await expectCode(.failedPrecondition) {
                try await h.authorize(PaymentsHarness.authorizeRequest(key: "late-1"))
            }
            #expect(await h.sandbox.authorizeCallCount == 0)
            let n = try await h.database.primary.queryOne("SELECT COUNT(*) AS n FROM payment_intents")
            #expect(try n?.int64("n") == 0)
            // Other keys are not affected.
            #expect(try await h.authorize(PaymentsHarness.authorizeRequest(key: "other")).status == .authorized)
        }
    }

    @Test func aCancelledKeyAmongConcurrentAuthorizationsFailsOnlyItself() async throws {
        try await PaymentsHarness.run { h in
            _ = try await h.service.cancelAuthorization(Self.cancel("burst-cancelled"), context: h.context())
            // 40 authorizations at once share the intent inserts; the cancelled key among them is
            // refused and every other one is authorized once.
            let keys = (0..<40).map { "burst-\($0)" } + ["burst-cancelled"]
            let answers = await withTaskGroup(of: (String, RPCStatusCode?).self) { group in
                for key in keys {
                    group.addTask {
                        do {
                            _ = try await h.authorize(PaymentsHarness.authorizeRequest(key: key))
                            return (key, nil)
                        } catch let e as RPCError { return (key, e.code) } catch { return (key, .unknown) }
                    }
                }
                return await group.reduce(into: [String: RPCStatusCode?]()) { $0[$1.0] = $1.1 }
            }
            #expect(answers["burst-cancelled"] == .some(.failedPrecondition))
            #expect(keys.dropLast().allSatisfy { answers[$0] == .some(nil) })
            let n = try await h.database.primary.queryOne(
                "SELECT COUNT(*) AS n, SUM(status = 'authorized') AS a FROM payment_intents")
            #expect(try n?.int64("n") == 40 && n?.int64("a") == 40)
            #expect(await h.sandbox.authorizeCallCount == 40)
        }
    }

    @Test func cancelAfterAuthorizeReturnsThePaymentToVoid() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "early-1"))
            let r = try await h.service.cancelAuthorization(Self.cancel("early-1"), context: h.context())
            #expect(r.payment?.paymentID == p.paymentID)
            #expect(r.payment?.status == .authorized)
            // The recorded authorization still answers repeats with its first result.
            #expect(try await h.authorize(PaymentsHarness.authorizeRequest(key: "early-1")) == p)
        }
    }

    @Test func racingAuthorizeAndCancelNeverLeaveAnUnseenAuthorization() async throws {
        try await PaymentsHarness.run { h in
            for i in 0..<20 {
                let key = "race-\(i)"
                async let auth: Result<PaymentsV1.Payment, any Error> = {
                    do { return .success(try await h.authorize(PaymentsHarness.authorizeRequest(key: key))) } catch {
                        return .failure(error)
                    }
                }()
                async let cancelled = h.service.cancelAuthorization(Self.cancel(key), context: h.context())
                let (a, c) = try await (auth, cancelled)
                let row = try await h.database.primary.queryOne(
                    "SELECT COUNT(*) AS n FROM payment_intents WHERE idempotency_key = ?", [.string(key)])
                let recorded = try row?.int64("n") == 1
                if c.payment == nil {
                    // The cancellation came first: the Authorize was refused and nothing exists.
                    #expect(!recorded, "\(key): an authorization exists that the canceller was told did not")
                    if case .success = a { Issue.record("\(key): Authorize succeeded after its cancellation") }
                } else {
                    // The Authorize came first: the canceller saw it and can void it.
                    #expect(recorded)
                    if case .success(let p) = a { #expect(p.paymentID == c.payment?.paymentID) }
                }
            }
        }
    }

    @Test func badInputIsRefused() async throws {
        try await PaymentsHarness.run { h in
            await expectCode(.invalidArgument) {
                try await h.service.cancelAuthorization(Self.cancel(""), context: h.context())
            }
            await expectCode(.invalidArgument) {
                try await h.service.cancelAuthorization(Self.cancel(String(repeating: "k", count: 256)), context: h.context())
            }
            let n = try await h.database.primary.queryOne("SELECT COUNT(*) AS n FROM authorization_cancellations")
            #expect(try n?.int64("n") == 0)
        }
    }
}
