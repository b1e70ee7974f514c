import OMSCore
import Synchronization
import Testing

@Suite("SharedLookups: concurrent callers share a lookup in flight")
struct SharedLookupsTests {
    struct Failed: Error {}

    final class Count: Sendable {
        let n = Mutex(0)
        func add() { n.withLock { $0 += 1 } }
        var value: Int { n.withLock { $0 } }
    }

    @Test("callers of one key during a lookup share it; a later caller makes a new one")
    func sharedWhileInFlight() async throws {
        let lookups = SharedLookups<String, Int>()
        let calls = Count()
        let answers = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await lookups.value("sku") {
                        calls.add()
                        try await Task.sleep(for: .milliseconds(300))
                        return 7
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(answers == Array(repeating: 7, count: 20))
        // Every caller started well inside the 300 ms lookup: one or a few calls, never one each.
        #expect(calls.value < 20)
        // Nothing is kept: the next caller asks again.
        let before = calls.value
        #expect(try await lookups.value("sku") { calls.add(); return 8 } == 8)
        #expect(calls.value == before + 1)
    }

    @Test("a failed lookup fails its sharers, and is not remembered")
    func failureIsSharedNotKept() async throws {
        let lookups = SharedLookups<Int, Int>()
        await #expect(throws: Failed.self) { try await lookups.value(1) { throw Failed() } }
        #expect(try await lookups.value(1) { 2 } == 2)
        #expect(try await lookups.value(3) { 4 } == 4)  // keys are independent
    }
}
