import Foundation
import OMSAPI
import OMSRPCCore
import Testing

@testable import Orders

extension OrdersServiceTests {
    @Test func parkedOutboxRowsAreListedAndResumedOneByOne() async throws {
        try await withService { s, db in
            let o = try await create(s)
            _ = try await confirm(s, o.orderID)
            _ = try await ship(s, o.orderID, "s1", [("1", 2), ("2", 1)])
            _ = try await returnUnits(s, o.orderID, "ret-1", [("1", 1)])
            let receiver = RecordingReceiver()
            await receiver.setRefusing(true)
            let relay = OrdersOutboxRelay(database: db.database, receiver: receiver, lease: .zero, maxAttempts: 1, logger: logger)
            _ = try await relay.runOnce()
            #expect(try await relay.parkedCount() == 2)

            let listed = try await s.listParkedOutbox(OrdersV1.ListParkedOutboxRequest(), context: context).entries
            #expect(listed.map(\.kind).sorted() == ["refund", "restock"])
            #expect(listed.allSatisfy { $0.orderID == o.orderID && $0.attempts == 1 && $0.parkedAtUs > 0 })
            #expect(listed.allSatisfy { $0.lastError.contains("Refused") && $0.deliveredAtUs == 0 }, "\(listed)")
            let limited = try await s.listParkedOutbox(OrdersV1.ListParkedOutboxRequest(pageSize: 1), context: context)
            #expect(limited.entries.count == 1)

            // The receiver is fixed; one row is resumed and delivered, the other stays parked.
            await receiver.setRefusing(false)
            let refund = try #require(listed.first { $0.kind == "refund" })
            let resumed = try #require(
                try await s.resumeOutbox(OrdersV1.ResumeOutboxRequest(outboxID: refund.outboxID), context: context).entry)
            #expect(resumed.parkedAtUs == 0 && resumed.attempts == 0)
            #expect(try await relay.runOnce() == 1)
            let refunds = await receiver.refunds
            let restocks = await receiver.restocks
            #expect(refunds.count == 1 && restocks.isEmpty)
            let still = try await s.listParkedOutbox(OrdersV1.ListParkedOutboxRequest(), context: context).entries
            #expect(still.map(\.kind) == ["restock"])

            // A delivered row is answered as it is; an unknown one is 5, a malformed id 3 (router validation).
            let again = try await s.resumeOutbox(OrdersV1.ResumeOutboxRequest(outboxID: refund.outboxID), context: context)
            #expect(again.entry?.deliveredAtUs ?? 0 > 0)
            await expectCode(.notFound) {
                _ = try await s.resumeOutbox(OrdersV1.ResumeOutboxRequest(outboxID: "999999999"), context: context)
            }
            await expectCode(.invalidArgument) { try OrdersV1.ResumeOutboxRequest(outboxID: "x").validate() }
            await expectCode(.invalidArgument) { try OrdersV1.ListParkedOutboxRequest(pageSize: 501).validate() }
        }
    }
}
