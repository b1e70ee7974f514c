import OMSServiceKit
import Synchronization
import Testing

@Suite("BatchCoalescer: group commit across callers")
struct BatchCoalescerTests {
    struct Refused: Error, Equatable { var value: Int }

    /// Counts the batches `together` saw and the commands `alone` applied.
    final class Calls: Sendable {
        let batches = Mutex<[[Int]]>([])
        let alone = Mutex<[Int]>([])
    }

    static func coalescer(_ calls: Calls) -> BatchCoalescer<Int, Result<Int, any Error>> {
        // Negative commands are refused: a batch holding one cannot be applied as a whole.
        BatchCoalescer(
            metricPrefix: "test", name: "t", maxBatchSize: 16, maxConcurrentBatches: 1,
            together: { commands in
                calls.batches.withLock { $0.append(commands) }
                try await Task.sleep(for: .milliseconds(20))
                if let bad = commands.first(where: { $0 < 0 }) { throw Refused(value: bad) }
                return commands.map { $0 * 10 }
            },
            alone: { command in
                calls.alone.withLock { $0.append(command) }
                if command < 0 { throw Refused(value: command) }
                return command * 10
            })
    }

    static func submitAll(_ c: BatchCoalescer<Int, Result<Int, any Error>>, _ commands: [Int]) async -> [Int: Int?] {
        await withTaskGroup(of: (Int, Int?).self) { group in
            for command in commands {
                group.addTask { (command, try? await c.submit(command).get()) }
            }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
    }

    @Test("a lone command is applied alone, at once")
    func lone() async throws {
        let calls = Calls()
        let c = Self.coalescer(calls)
        #expect(try await c.submit(4).get() == 40)
        #expect(calls.batches.withLock { $0 }.isEmpty && calls.alone.withLock { $0 } == [4])
    }

    @Test("concurrent commands share batches; every caller gets its own answer")
    func shared() async {
        let calls = Calls()
        let answers = await Self.submitAll(Self.coalescer(calls), Array(1...40))
        #expect(answers.count == 40 && answers.allSatisfy { $0.value == $0.key * 10 })
        let batches = calls.batches.withLock { $0 }
        #expect(batches.allSatisfy { $0.count <= 16 })
        #expect(batches.map(\.count).reduce(0, +) + calls.alone.withLock { $0.count } == 40)
        #expect(batches.contains { $0.count > 1 }, "40 concurrent commands never shared a batch")
    }

    @Test("a refused command fails only itself: its batch is applied one by one")
    func refusedAmongNeighbours() async {
        let calls = Calls()
        let answers = await Self.submitAll(Self.coalescer(calls), Array(1...30) + [-7])
        #expect(answers[-7] == .some(nil))
        for i in 1...30 { #expect(answers[i] == .some(i * 10)) }
    }
}
