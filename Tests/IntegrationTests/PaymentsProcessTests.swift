import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// `oms-payments` as a real process: idempotent authorization under concurrency.
    @Suite(.serialized) struct PaymentsProcessTests {
        @Test func fiftyConcurrentIdenticalAuthorizeCallsMakeOneAuthorization() async throws {
            // A little provider latency keeps the first call's claim alive while the others arrive.
            try await TestSuite.with(services: ["payments"], settings: ["OMS_PAYMENTS_SANDBOX_LATENCY": "300ms"]) { suite in
                let key = unique("chk")
                let request = authorizeRequest(key: key, orderID: "7001", amount: 12_345)
                let payments = suite.clients.payments
                let results = await withTaskGroup(of: Result<PaymentsV1.AuthorizeResponse, any Error>.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            do { return .success(try await payments.authorize(request)) } catch { return .failure(error) }
                        }
                    }
                    var all: [Result<PaymentsV1.AuthorizeResponse, any Error>] = []
                    for await r in group { all.append(r) }
                    return all
                }
                let answers = results.compactMap { try? $0.get() }
                let errors = results.compactMap { r -> String? in
                    if case .failure(let e) = r { return "\(e)" }
                    return nil
                }
                #expect(answers.count == 50, "\(errors.count) calls failed: \(errors.prefix(3))")
                #expect(Set(answers).count == 1, "answers differ: \(Set(answers).count) distinct")
                let payment = try #require(answers.first?.payment)
                #expect(payment.status == .authorized)
                #expect(payment.authorized == money(12_345))
                #expect(payment.idempotencyKey == key)
                #expect(payment.card?.last4 == "4242")

                // A later repeat answers the same, too.
                let later = try await payments.authorize(request)
                #expect(later == answers.first)

                // Same key, different amount: refused, and nothing changes.
                var other = request
                other.amount = money(12_346)
                await expectCode([9], "same key, different amount") { try await payments.authorize(other) }
                var otherOrder = request
                otherOrder.orderID = "7002"
                await expectCode([9], "same key, different order") { try await payments.authorize(otherOrder) }

                try await withDatabase(suite, "payments") { db in
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM payment_intents") == 1)
                    let row = try #require(try await db.queryOne("SELECT amount, status, version FROM payment_intents"))
                    #expect(try row.int64("amount") == 12_345)
                    #expect(try row.string("status") == "authorized")
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM payment_events WHERE event = 'authorized'") == 1)
                    #expect(try await count(db, "SELECT COUNT(*) AS n FROM payment_operations") == 0)
                }
                let now = try await getPayment(suite, payment.paymentID)
                #expect(now == payment, "the payment changed after the refused request")
                let byKey = try await payments.getPayment(PaymentsV1.GetPaymentRequest(lookup: .idempotencyKey(key)))
                #expect(byKey.payment?.paymentID == payment.paymentID)
            }
        }
    }
}
