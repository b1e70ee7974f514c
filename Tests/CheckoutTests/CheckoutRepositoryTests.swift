import Checkout
import Foundation
import OMSMySQL
import Testing

@Suite("Checkout repository: one statement per saga write, the log in the row", .serialized)
struct CheckoutRepositoryTests {
    @Test func everyWriteAppendsItsLogEntriesAndLosersWriteNothing() async throws {
        try await CheckoutHarness.run { h in
            let repo = CheckoutRepository(database: h.database)
            let id: Int64 = 7_000_001
            var saga = CheckoutSaga()
            try saga.apply(.begin(.reserve))
            let draft = OrderDraft(
                checkoutID: String(id), customer: CheckoutCustomer(customerID: "c1", name: "C", email: "c@example.test"),
                lines: [], shippingAddress: CheckoutAddress(name: "C", line1: "1 Main St", city: "Springfield", country: "US"), metadataJSON: "{}", reservationID: String(id))
            let inserted = try await repo.insert(
                checkoutID: id, idempotencyKey: "repo-\(id)", requestHash: String(repeating: "0", count: 64), saga: saga,
                request: StoredRequest(draft: draft, cardLast4: "4242"), outcome: nil, owner: "a", lease: .milliseconds(1),
                log: [CheckoutLogEntry(kind: "intent", step: .reserve, fromPhase: .recorded, toPhase: .reserving)])
            guard case .inserted = inserted else {
                Issue.record("expected inserted, got \(inserted)")
                return
            }
            // A write by the wrong owner or with a stale version changes nothing, its log entry included.
            var next = saga
            try next.apply(.reserved)
            let entry = CheckoutLogEntry(kind: "result", step: .reserve, fromPhase: .reserving, toPhase: .reserved,
                                         detail: #"{"event":"reserved \"quoted\""}"#)
            #expect(try await repo.update(
                checkoutID: id, expectedVersion: 0, owner: "b", saga: next, outcome: nil, log: [entry], lease: .seconds(1)) == nil)
            #expect(try await repo.update(
                checkoutID: id, expectedVersion: 5, owner: "a", saga: next, outcome: nil, log: [entry], lease: .seconds(1)) == nil)
            #expect(try await repo.update(
                checkoutID: id, expectedVersion: 0, owner: "a", saga: next, outcome: nil, log: [entry], lease: .milliseconds(1)) == 1)
            #expect(try await repo.deferRetry(
                checkoutID: id, expectedVersion: 1, owner: "a", phase: .reserved, reason: "inventory down",
                retryAfter: .milliseconds(1)) == 2)
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await repo.claim(checkoutID: id, expectedVersion: 2, owner: "c", lease: .seconds(30)) == 3)
            #expect(try await repo.claim(checkoutID: id, expectedVersion: 2, owner: "d", lease: .seconds(30)) == nil)

            let log = try await repo.log(checkoutID: id)
            #expect(log.map(\.kind) == ["recorded", "intent", "result", "deferred", "claimed"])
            #expect(log[1].step == .reserve && log[1].fromPhase == .recorded && log[1].toPhase == .reserving)
            #expect(log[2].detail == #"{"event":"reserved \"quoted\""}"#)
            #expect(log[4].fromPhase == .reserved && log[4].toPhase == .reserved)
            let stored = try #require(try await repo.find(checkoutID: id))
            #expect(stored.version == 3 && stored.leaseOwner == "c" && stored.saga == next)
        }
    }

    @Test func concurrentWritesShareCommitsAndEachKeepsItsOwnAnswer() async throws {
        try await CheckoutHarness.run { h in
            let repo = CheckoutRepository(database: h.database)
            let ids = (0..<64).map { Int64(7_100_000 + $0) }
            var saga = CheckoutSaga()
            try saga.apply(.begin(.reserve))
            for id in ids {
                let draft = OrderDraft(
                    checkoutID: String(id), customer: CheckoutCustomer(customerID: "c1", name: "C", email: "c@example.test"),
                    lines: [], shippingAddress: CheckoutAddress(name: "C", line1: "1 Main St", city: "Springfield", country: "US"),
                    metadataJSON: "{}", reservationID: String(id))
                _ = try await repo.insert(
                    checkoutID: id, idempotencyKey: "batch-\(id)", requestHash: String(repeating: "0", count: 64), saga: saga,
                    request: StoredRequest(draft: draft, cardLast4: "4242"), outcome: nil, owner: "a", lease: .seconds(30))
            }
            // Concurrent inserts with one idempotency key, sharing batches with each other: one wins.
            let draft = OrderDraft(
                checkoutID: "1", customer: CheckoutCustomer(customerID: "c1", name: "C", email: "c@example.test"),
                lines: [], shippingAddress: CheckoutAddress(name: "C", line1: "1 Main St", city: "Springfield", country: "US"),
                metadataJSON: "{}", reservationID: "1")
            let first = saga
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<16 {
                    group.addTask {
                        let outcome = try await repo.insert(
                            checkoutID: Int64(7_200_000 + i), idempotencyKey: "one-key", requestHash: String(repeating: "0", count: 64),
                            saga: first, request: StoredRequest(draft: draft, cardLast4: "4242"), outcome: nil, owner: "a",
                            lease: .seconds(30))
                        if case .inserted = outcome { return true }
                        return false
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(inserted == 1)

            var reserved = saga
            try reserved.apply(.reserved)
            let next = reserved
            let entry = CheckoutLogEntry(kind: "result", step: .reserve, fromPhase: .reserving, toPhase: .reserved)
            // 64 writes at once, every fourth with a stale version: those change nothing, the others
            // all land, whichever batch they shared.
            let answers = try await withThrowingTaskGroup(of: (Int64, Int64?).self) { group in
                for (i, id) in ids.enumerated() {
                    let version: Int64 = i % 4 == 0 ? 9 : 0
                    group.addTask {
                        (id, try await repo.update(
                            checkoutID: id, expectedVersion: version, owner: "a", saga: next, outcome: nil, log: [entry],
                            lease: .seconds(30)))
                    }
                }
                var out: [Int64: Int64?] = [:]
                for try await (id, version) in group { out[id] = version }
                return out
            }
            for (i, id) in ids.enumerated() {
                let stored = try #require(try await repo.find(checkoutID: id))
                if i % 4 == 0 {
                    #expect(answers[id] == .some(nil) && stored.version == 0)
                } else {
                    #expect(answers[id] == .some(1) && stored.version == 1 && stored.saga == next)
                    #expect(try await repo.log(checkoutID: id).map(\.kind) == ["recorded", "result"])
                }
            }
        }
    }

    @Test func rowsOfTheOldEventTableAreReadFirst() async throws {
        try await CheckoutHarness.run { h in
            let repo = CheckoutRepository(database: h.database)
            let id: Int64 = 7_000_002
            let draft = OrderDraft(
                checkoutID: String(id), customer: CheckoutCustomer(customerID: "c1", name: "C", email: "c@example.test"),
                lines: [], shippingAddress: CheckoutAddress(name: "C", line1: "1 Main St", city: "Springfield", country: "US"), metadataJSON: "{}", reservationID: String(id))
            _ = try await repo.insert(
                checkoutID: id, idempotencyKey: "repo-\(id)", requestHash: String(repeating: "0", count: 64),
                saga: CheckoutSaga(), request: StoredRequest(draft: draft, cardLast4: "4242"), outcome: nil, owner: "a",
                lease: .seconds(30))
            try await h.database.write { c in
                try await c.execute(
                    """
                    INSERT INTO checkout_events (checkout_id, version, kind, step, from_phase, to_phase, detail, owner, created_at)
                    VALUES (?, 0, 'intent', 'reserve', 'recorded', 'reserving', NULL, 'old', NOW(6))
                    """, [.int64(id)])
            }
            let log = try await repo.log(checkoutID: id)
            #expect(log.map(\.kind) == ["intent", "recorded"])
        }
    }

    @Test func retentionDeletesOnlyOldFinishedCheckouts() async throws {
        try await CheckoutHarness.run { h in
            let repo = CheckoutRepository(database: h.database)
            let draft = OrderDraft(
                checkoutID: "0", customer: CheckoutCustomer(customerID: "c1", name: "C", email: "c@example.test"),
                lines: [], shippingAddress: CheckoutAddress(name: "C", line1: "1 Main St", city: "Springfield", country: "US"),
                metadataJSON: "{}", reservationID: "0")
            let rejected = CheckoutSaga.rejectedAtStart(.outOfStock(skus: ["X"]))
            let outcome = CheckoutOutcome.rejected(.outOfStock(skus: ["X"]))
            // 1: finished long ago; 2: finished just now; 3: still open (started long ago).
            for (id, saga, result) in [
                (Int64(7_100_001), rejected, Optional(outcome)), (7_100_002, rejected, outcome), (7_100_003, CheckoutSaga(), nil),
            ] {
                _ = try await repo.insert(
                    checkoutID: id, idempotencyKey: "ret-\(id)", requestHash: String(repeating: "0", count: 64), saga: saga,
                    request: StoredRequest(draft: draft, cardLast4: "4242"), outcome: result, owner: "a", lease: .seconds(30))
            }
            try await h.database.write { c in
                try await c.execute(
                    "UPDATE checkouts SET finished_at = NOW(6) - INTERVAL 2 DAY, created_at = NOW(6) - INTERVAL 2 DAY WHERE checkout_id = 7100001")
                try await c.execute("UPDATE checkouts SET created_at = NOW(6) - INTERVAL 2 DAY WHERE checkout_id = 7100003")
                try await c.execute(
                    """
                    INSERT INTO checkout_events (checkout_id, version, kind, to_phase, owner, created_at)
                    VALUES (7100001, 0, 'finished', 'compensated', 'old', NOW(6) - INTERVAL 2 DAY)
                    """)
            }
            #expect(try await repo.purgeFinished(olderThan: .seconds(86_400), limit: 10) == 1)
            #expect(try await repo.find(checkoutID: 7_100_001) == nil)
            #expect(try await repo.find(checkoutID: 7_100_002) != nil)
            #expect(try await repo.find(checkoutID: 7_100_003) != nil)
            let events = try await h.database.write { c in
                try await c.queryOne("SELECT COUNT(*) AS n FROM checkout_events WHERE checkout_id = 7100001")?.int("n")
            }
            #expect(events == 0)
            #expect(try await repo.purgeFinished(olderThan: .seconds(86_400), limit: 10) == 0)
        }
    }
}
