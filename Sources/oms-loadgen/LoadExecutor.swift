import Foundation
import NIOConcurrencyHelpers
import OMSCore
import OMSLoadgenCore

/// Drives operations `0..<total` (or until `duration` has passed) in closed or open loop.
///
/// The operation closure gets its index and the instant it was due; it records its own result.
struct LoadExecutor: Sendable {
    var mode: LoadMode
    /// Most operations to run.
    var total: Int
    /// Stop starting operations after this long (nil: run until `total`).
    var duration: Duration?

    /// Runs the load and returns the wall time it took (until the last operation answered).
    func run(
        stats: LoadStats, _ operation: @escaping @Sendable (_ index: Int, _ due: ContinuousClock.Instant) async -> Void
    ) async -> Duration {
        let start = ContinuousClock.now
        let deadline = duration.map { start + $0 }
        switch mode {
        case .closedLoop(let concurrency):
            let next = NIOLockedValueBox(0)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, min(concurrency, total)) {
                    group.addTask {
                        while true {
                            if let deadline, ContinuousClock.now >= deadline { return }
                            let index = next.withLockedValue { n -> Int in
                                defer { n += 1 }
                                return n
                            }
                            guard index < total else { return }
                            await operation(index, ContinuousClock.now)
                        }
                    }
                }
            }
        case .openLoop(let rate, let maxInFlight):
            let pacer = OpenLoopPacer(rate: rate)
            let inFlight = NIOLockedValueBox(0)
            // Discarding: finished operations free their task at once (a long open-loop run starts millions).
            await withDiscardingTaskGroup { group in
                var sent = 0
                while sent < total {
                    let now = ContinuousClock.now
                    if let deadline, now >= deadline { break }
                    let due = min(total, pacer.dueCount(atNanoseconds: (now - start).wholeNanoseconds))
                    while sent < due {
                        let index = sent
                        sent += 1
                        let admitted = inFlight.withLockedValue { n -> Bool in
                            guard n < maxInFlight else { return false }
                            n += 1
                            return true
                        }
                        guard admitted else {
                            stats.recordDropped()
                            continue
                        }
                        let dueAt = start + .nanoseconds(pacer.dueOffsetNanoseconds(of: index))
                        group.addTask {
                            await operation(index, dueAt)
                            inFlight.withLockedValue { $0 -= 1 }
                        }
                    }
                    let nextDue = start + .nanoseconds(pacer.dueOffsetNanoseconds(of: sent))
                    let wait = nextDue - ContinuousClock.now
                    if wait > .zero { try? await Task.sleep(for: min(wait, .milliseconds(50))) }
                }
            }
        }
        return ContinuousClock.now - start
    }
}

/// Prints one progress line per second to standard error while a run lasts.
struct ProgressPrinter: Sendable {
    var enabled: Bool
    var label: String

    /// Runs until cancelled.
    func run(stats: LoadStats) async {
        guard enabled else { return }
        let start = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { break }
            let i = stats.takeInterval()
            let t = Int((ContinuousClock.now - start).inSeconds.rounded())
            let line = label + String(
                format: " t=%3ds  %5d checkouts/s  placed %5d  rejected %5d  errors %4d  p50 %7.1f ms  p99 %7.1f ms\n",
                t, i.checkouts, i.placed, i.rejected, i.errors, Double(i.p50) / 1000, Double(i.p99) / 1000)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
