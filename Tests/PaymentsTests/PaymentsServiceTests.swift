import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Payments

/// The service in-process against the real MariaDB (fresh schema per test).
@Suite(.serialized) struct PaymentsServiceTests {
    typealias Card = SandboxPaymentProvider.TestCard

    @Test func fiftyConcurrentIdenticalAuthorizeCallsMakeOneAuthorization() async throws {
        // Latency keeps the first provider call open while the other 49 arrive.
        try await PaymentsHarness.run(latency: .milliseconds(200)) { h in
            let request = PaymentsHarness.authorizeRequest(key: "checkout-50")
            let answers = try await withThrowingTaskGroup(of: PaymentsV1.AuthorizeResponse.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await h.service.authorize(request, context: h.context()) }
                }
                var all: [PaymentsV1.AuthorizeResponse] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(answers.count == 50)
            #expect(Set(answers).count == 1, "answers differ")
            #expect(answers.first?.payment?.status == .authorized)
            #expect(await h.sandbox.authorizeCallCount == 1)
            let counts = try await h.database.primary.queryOne(
                "SELECT COUNT(*) AS n, SUM(status = 'authorized') AS a FROM payment_intents")
            #expect(try counts?.int64("n") == 1)
            #expect(try counts?.int64("a") == 1)
            let events = try await h.database.primary.query("SELECT event FROM payment_events ORDER BY id")
            #expect(try events.map { try $0.string("event") } == ["authorization_requested", "authorized"])

            // A later repeat still answers the first result without calling the provider.
            let repeated = try await h.service.authorize(request, context: h.context())
            #expect(repeated == answers.first)
            #expect(await h.sandbox.authorizeCallCount == 1)
        }
    }

    @Test func sameKeyDifferentRequestIsRefusedAndChangesNothing() async throws {
        try await PaymentsHarness.run { h in
            let first = try await h.authorize(PaymentsHarness.authorizeRequest(key: "k1", amount: 5000))
            let before = try await h.snapshot()
            await expectCode(.failedPrecondition) {
                try await h.authorize(PaymentsHarness.authorizeRequest(key: "k1", amount: 5001))
            }
            await expectCode(.failedPrecondition) {
                try await h.authorize(PaymentsHarness.authorizeRequest(key: "k1", order: "1002", amount: 5000))
            }
            await expectCode(.failedPrecondition) {
                try await h.authorize(
                    PaymentsHarness.authorizeRequest(key: "k1", amount: 5000, card: "5555555555554444"))
            }
            #expect(try await h.snapshot() == before)
            #expect(await h.sandbox.authorizeCallCount == 1)
            #expect(try await h.get(.idempotencyKey("k1")).payment == first)
        }
    }

    @Test func everyTestCard() async throws {
        try await PaymentsHarness.run { h in
            let cases: [(String, PaymentsV1.PaymentStatus, PaymentsV1.DeclineCode)] = [
                (Card.success, .authorized, .unspecified),
                (Card.genericDecline, .failed, .genericDecline),
                (Card.insufficientFunds, .failed, .insufficientFunds),
                (Card.processingError, .failed, .processingError),
                ("5555555555554444", .authorized, .unspecified),
            ]
            for (i, (number, status, decline)) in cases.enumerated() {
                let p = try await h.authorize(
                    PaymentsHarness.authorizeRequest(key: "card-\(i)", order: "\(2000 + i)", card: number))
                #expect(p.status == status, "\(number.suffix(4))")
                #expect(p.declineCode == decline, "\(number.suffix(4))")
                #expect(p.card?.last4 == String(number.suffix(4)))
                #expect(p.idempotencyKey == "card-\(i)")
                // A repeat answers the same (declines are results too) without a new provider call.
                let calls = await h.sandbox.authorizeCallCount
                #expect(
                    try await h.authorize(
                        PaymentsHarness.authorizeRequest(key: "card-\(i)", order: "\(2000 + i)", card: number)) == p)
                #expect(await h.sandbox.authorizeCallCount == calls)
            }
            let expired = try await h.authorize(PaymentsHarness.authorizeRequest(key: "expired", expYear: 2001))
            #expect(expired.status == .failed && expired.declineCode == .expiredCard)
            #expect(try await h.get(.orderID("2000")).payment?.card?.brand == "visa")
            #expect(try await h.get(.orderID("2004")).payment?.card?.brand == "mastercard")
        }
    }

    @Test func slowCardWithShortDeadlineThenRetryMakesOneAuthorization() async throws {
        try await PaymentsHarness.run { h in
            let request = PaymentsHarness.authorizeRequest(key: "slow-checkout", card: Card.slow)
            do {
                // Long enough to reach the provider even on a loaded machine, far shorter than the
                // slow card's answer (10 minutes).
                _ = try await h.authorize(request, timeout: .seconds(5))
                Issue.record("the slow card answered within a short deadline")
            } catch let error as RPCError {
                #expect(error.code == .deadlineExceeded || error.code == .unavailable, "\(error)")
            }
            // The outcome is unknown to the service: the payment is pending, not guessed.
            let pending = try await h.get(.idempotencyKey("slow-checkout")).payment
            #expect(pending?.status == .pending)

            let retried = try await h.authorize(request)
            #expect(retried.status == .authorized)
            #expect(retried.paymentID == pending?.paymentID)
            #expect(await h.sandbox.authorizeCallCount == 1)
            #expect(await h.sandbox.lookupCallCount >= 1)
            #expect(try await h.authorize(request) == retried)
            let n = try await h.database.primary.queryOne("SELECT COUNT(*) AS n FROM payment_intents")
            #expect(try n?.int64("n") == 1)
        }
    }

    @Test func resolverSettlesAPendingAuthorizationByAskingTheProvider() async throws {
        try await PaymentsHarness.run { h in
            let request = PaymentsHarness.authorizeRequest(key: "resolve-me", card: Card.slow)
            await expectCode(.deadlineExceeded) { try await h.authorize(request, timeout: .seconds(5)) }
            let settled = try await h.engine.resolvePending()
            #expect(settled.intents == 1)
            let p = try await h.get(.idempotencyKey("resolve-me")).payment
            #expect(p?.status == .authorized)
            #expect(await h.sandbox.authorizeCallCount == 1)
            // The caller's retry now gets the recorded result.
            #expect(try await h.authorize(request).status == .authorized)
        }
    }

    @Test func partialCapturesAndRefundsUpToTheLimitsAndOneUnitPast() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "ledger", amount: 10_000))
            let id = p.paymentID
            let c1 = try await h.capture(id, 3000, key: "shipment-1")
            #expect(c1.payment?.status == .partiallyCaptured)
            // A repeat of a capture returns the first result and moves nothing.
            #expect(try await h.capture(id, 3000, key: "shipment-1") == c1)
            await expectCode(.failedPrecondition) { try await h.capture(id, 3001, key: "shipment-1") }
            let c2 = try await h.capture(id, 6999, key: "shipment-2")
            #expect(c2.payment?.captured?.amountMinor == 9999)
            var before = try await h.snapshot()
            await expectCode(.failedPrecondition) { try await h.capture(id, 2, key: "shipment-3") }
            #expect(try await h.snapshot() == before)
            let c3 = try await h.capture(id, 1, key: "shipment-3")
            #expect(c3.payment?.status == .captured)
            before = try await h.snapshot()
            await expectCode(.failedPrecondition) { try await h.capture(id, 1, key: "shipment-4") }
            await expectCode(.failedPrecondition) { try await h.void(id, key: "void-after-capture") }
            await expectCode(.invalidArgument) { try await h.capture(id, 1, key: "shipment-5", currency: "USD") }
            #expect(try await h.snapshot() == before)

            let r1 = try await h.refund(id, 2500, key: "return-1")
            #expect(r1.payment?.status == .partiallyRefunded)
            #expect(try await h.refund(id, 2500, key: "return-1") == r1)
            before = try await h.snapshot()
            await expectCode(.failedPrecondition) { try await h.refund(id, 7501, key: "return-2") }
            #expect(try await h.snapshot() == before)
            let r2 = try await h.refund(id, 7500, key: "return-2")
            #expect(r2.payment?.status == .refunded)
            #expect(r2.payment?.refunded?.amountMinor == 10_000)
            await expectCode(.failedPrecondition) { try await h.refund(id, 1, key: "return-3") }

            let ledger = try await h.sandbox.ledger(forKey: "oms-pay-\(id)")
            #expect(ledger?.captured == 10_000 && ledger?.refunded == 10_000)
            let ops = try await h.engine.operations(paymentID: UInt64(id)!)
            #expect(ops.count == 5 && ops.allSatisfy(\.confirmed))
            let events = try await h.database.primary.query(
                "SELECT event, amount FROM payment_events WHERE payment_id = ? ORDER BY id", [.uint64(UInt64(id)!)])
            #expect(
                try events.map { "\(try $0.string("event")):\(try $0.int64("amount"))" } == [
                    "authorization_requested:10000", "authorized:10000", "captured:3000", "captured:6999", "captured:1",
                    "refunded:2500", "refunded:7500",
                ])
        }
    }

    @Test func voidReleasesAnUncapturedAuthorizationOnce() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "to-void", amount: 700))
            let v = try await h.void(p.paymentID, key: "void-1")
            #expect(v.payment?.status == .voided)
            #expect(try await h.void(p.paymentID, key: "void-1") == v)
            await expectCode(.failedPrecondition) { try await h.void(p.paymentID, key: "void-2") }
            await expectCode(.failedPrecondition) { try await h.capture(p.paymentID, 1, key: "after-void") }
            #expect(try await h.sandbox.ledger(forKey: "oms-pay-\(p.paymentID)")?.voided == true)
            let pending = try await h.authorize(
                PaymentsHarness.authorizeRequest(key: "declined", card: Card.genericDecline))
            await expectCode(.failedPrecondition) { try await h.void(pending.paymentID, key: "void-declined") }
            await expectCode(.notFound) { try await h.void("987654321", key: "void-missing") }
        }
    }

    @Test func concurrentCapturesNeverExceedTheAuthorization() async throws {
        try await PaymentsHarness.run { h in
            let p = try await h.authorize(PaymentsHarness.authorizeRequest(key: "race", amount: 10_000))
            let outcomes = await withTaskGroup(of: RPCStatusCode.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await h.capture(p.paymentID, 1000, key: "race-\(i)")
                            return .ok
                        } catch let error as RPCError {
                            return error.code
                        } catch {
                            Issue.record("capture failed with \(error)")
                            return .unknown
                        }
                    }
                }
                var all: [RPCStatusCode] = []
                for await code in group { all.append(code) }
                return all
            }
            #expect(outcomes.filter { $0 == .ok }.count == 10, "\(outcomes)")
            #expect(outcomes.filter { $0 == .failedPrecondition }.count == 10)
            let row = try await h.get(.paymentID(p.paymentID)).payment
            #expect(row?.captured?.amountMinor == 10_000)
            #expect(row?.status == .captured)
        }
    }

    @Test func badInputIsInvalidArgumentAndChangesNothing() async throws {
        try await PaymentsHarness.run { h in
            let existing = try await h.authorize(PaymentsHarness.authorizeRequest(key: "existing", amount: 1000))
            let before = try await h.snapshot()
            let callsBefore = await h.sandbox.authorizeCallCount
            let longKey = String(repeating: "k", count: 256)
            var requests: [(String, PaymentsV1.AuthorizeRequest)] = [
                ("zero", PaymentsHarness.authorizeRequest(key: "b1", amount: 0)),
                ("negative", PaymentsHarness.authorizeRequest(key: "b2", amount: -100)),
                ("int64 max", PaymentsHarness.authorizeRequest(key: "b3", amount: Int64.max)),
                ("over max", PaymentsHarness.authorizeRequest(key: "b4", amount: MoneyRules.maximumMinorUnits + 1)),
                ("unknown currency", PaymentsHarness.authorizeRequest(key: "b5", currency: "XXX")),
                ("lower-case currency", PaymentsHarness.authorizeRequest(key: "b6", currency: "eur")),
                ("empty currency", PaymentsHarness.authorizeRequest(key: "b7", currency: "")),
                ("luhn", PaymentsHarness.authorizeRequest(key: "b8", card: "4242424242424241")),
                ("short card", PaymentsHarness.authorizeRequest(key: "b9", card: "4242")),
                ("letters", PaymentsHarness.authorizeRequest(key: "b10", card: "4242abcd42424242")),
                ("long card", PaymentsHarness.authorizeRequest(key: "b11", card: "42424242424242424242")),
                ("empty card", PaymentsHarness.authorizeRequest(key: "b12", card: "")),
                ("long key", PaymentsHarness.authorizeRequest(key: longKey)),
                ("empty key", PaymentsHarness.authorizeRequest(key: "")),
                ("month", PaymentsHarness.authorizeRequest(key: "b13", expMonth: 13)),
                ("empty order", PaymentsHarness.authorizeRequest(key: "b14", order: "")),
            ]
            var noAmount = PaymentsHarness.authorizeRequest(key: "b15")
            noAmount.amount = nil
            requests.append(("no amount", noAmount))
            var noMethod = PaymentsHarness.authorizeRequest(key: "b16")
            noMethod.paymentMethod = nil
            requests.append(("no method", noMethod))
            var badMetadata = PaymentsHarness.authorizeRequest(key: "b17")
            badMetadata.metadataJson = "[1,2]"
            requests.append(("metadata", badMetadata))
            for (name, request) in requests {
                do {
                    _ = try await h.authorize(request)
                    Issue.record("\(name): accepted")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument, "\(name): \(error)")
                }
            }
            let id = existing.paymentID
            await expectCode(.invalidArgument) { try await h.capture(id, 0, key: "c") }
            await expectCode(.invalidArgument) { try await h.capture(id, -1, key: "c") }
            await expectCode(.invalidArgument) { try await h.capture(id, Int64.max, key: "c") }
            await expectCode(.invalidArgument) { try await h.capture(id, 1, key: "c", currency: "ABC") }
            await expectCode(.invalidArgument) { try await h.capture(id, 1, key: longKey) }
            await expectCode(.invalidArgument) { try await h.capture("not-an-id", 1, key: "c") }
            await expectCode(.invalidArgument) { try await h.refund(id, Int64.min, key: "r") }
            await expectCode(.invalidArgument) { try await h.void(id, key: "") }
            await expectCode(.invalidArgument) { try await h.get(.idempotencyKey(longKey)) }
            await expectCode(.invalidArgument) {
                try await h.service.getPayment(PaymentsV1.GetPaymentRequest(), context: h.context())
            }
            #expect(try await h.snapshot() == before)
            #expect(await h.sandbox.authorizeCallCount == callsBefore)
        }
    }

    @Test func idempotencyKeyMayComeFromCallMetadata() async throws {
        try await PaymentsHarness.run { h in
            let request = PaymentsHarness.authorizeRequest(key: "")
            let context = h.context(metadata: [Metadata.Keys.idempotencyKey: "from-metadata"])
            let p = try await h.service.authorize(request, context: context).payment
            #expect(p?.idempotencyKey == "from-metadata")
        }
    }

    @Test func noFullCardNumberReachesTheDatabaseOrTheLog() async throws {
        let numbers = [
            Card.success, Card.genericDecline, Card.insufficientFunds, Card.processingError, Card.slow,
            "5555555555554444",
        ]
        try await PaymentsHarness.run { h in
            for (i, number) in numbers.enumerated() {
                var request = PaymentsHarness.authorizeRequest(key: "pan-\(i)", order: "\(3000 + i)", card: number)
                request.metadataJson = #"{"checkout_id":"pan-\#(i)"}"#
                _ = try? await h.authorize(request, timeout: number == Card.slow ? .milliseconds(200) : nil)
            }
            // A malformed number is refused without echoing it.
            _ = try? await h.authorize(PaymentsHarness.authorizeRequest(key: "pan-bad", card: "4242424242424241"))
            let p = try await h.get(.orderID("3000")).payment
            _ = try await h.capture(try #require(p).paymentID, 100, key: "pan-capture")
            _ = try await h.engine.resolvePending()

            let stored = try await h.allStoredText()
            let logs = h.logs.all
            #expect(!stored.isEmpty && !logs.isEmpty)
            // The capture works: brand and last four are there.
            #expect(stored.contains("4242") && logs.contains { $0.contains("4242") })
            for number in numbers + ["4242424242424241"] {
                let spaced = stride(from: 0, to: 16, by: 4).map {
                    String(number.dropFirst($0).prefix(4))
                }.joined(separator: " ")
                for text in stored {
                    #expect(!text.contains(number) && !text.contains(spaced), "database holds a card number")
                }
                for line in logs {
                    #expect(!line.contains(number) && !line.contains(spaced), "log holds a card number: \(line)")
                }
            }
        }
    }
}
