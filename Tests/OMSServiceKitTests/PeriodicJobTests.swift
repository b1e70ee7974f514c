import Logging
import NIOConcurrencyHelpers
import OMSServiceKit
import ServiceLifecycle
import Testing

@Suite("PeriodicJob")
struct PeriodicJobTests {
    struct Boom: Error {}

    static let logger = Logger(label: "oms.test.periodic-job")

    /// Counts one run and returns its number (1 for the first).
    static func countRun(_ runs: NIOLockedValueBox<Int>) -> Int {
        runs.withLockedValue { n in
            n += 1
            return n
        }
    }

    /// Waits until `condition` holds: a generous bound (a loaded 2-core box running every suite at
    /// once can starve a 10 ms job for seconds), never a measure of speed.
    static func eventually(_ condition: () -> Bool) async throws {
        let until = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < until else {
                Issue.record("condition not met within 60 s")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("runs repeatedly; a failing run does not stop later runs; graceful shutdown ends it")
    func repeatsAndSurvivesErrors() async throws {
        let runs = NIOLockedValueBox(0)
        let job = PeriodicJob(name: "test", interval: .milliseconds(10), logger: Self.logger) {
            let n = Self.countRun(runs)
            if n == 1 || n == 3 { throw Boom() }
        }
        let group = ServiceGroup(services: [job], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Self.eventually { runs.withLockedValue { $0 } >= 5 }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let stopped = runs.withLockedValue { $0 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(runs.withLockedValue { $0 } == stopped)
    }

    @Test("the first run waits an interval unless runAtStart")
    func runAtStart() async throws {
        let runs = NIOLockedValueBox(0)
        let job = PeriodicJob(name: "test", interval: .seconds(30), runAtStart: false, logger: Self.logger) {
            runs.withLockedValue { $0 += 1 }
        }
        let task = Task { try await job.run() }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        try await task.value
        #expect(runs.withLockedValue { $0 } == 0)
    }

    @Test("cancellation ends the job, also while a run is in progress")
    func cancellation() async throws {
        let runs = NIOLockedValueBox(0)
        let job = PeriodicJob(name: "test", interval: .milliseconds(10), logger: Self.logger) {
            let n = Self.countRun(runs)
            // The second run blocks until it is cancelled.
            if n == 2 { try await Task.sleep(for: .seconds(60)) }
        }
        let task = Task { try await job.run() }
        try await Self.eventually { runs.withLockedValue { $0 } >= 2 }
        task.cancel()
        try await task.value
        #expect(runs.withLockedValue { $0 } == 2)
    }
}
