import Foundation
import Metrics
import OMSMySQL

/// Coalesces concurrent requests into few short MySQL transactions (docs/inventory.md, "Hot SKUs"); used for
/// Reserve and CommitReservation.
///
/// Up to `maxConcurrentBatches` transactions run at once; requests that arrive while they run queue up and
/// go together in the next transaction (up to `maxBatchSize` each). On one hot SKU this turns a convoy of
/// row-lock waits and one fsync per request into one lock hold and one fsync per batch; when idle a
/// request runs alone, so latency does not grow. `run` must decide every command on its own (one
/// command's refusal must not fail the others) and return one result per command, in order.
actor BatchCoalescer<Command: Sendable, Result: Sendable> {
    typealias Item = (command: Command, continuation: CheckedContinuation<Result, any Error>)
    private let run: @Sendable ([Command]) async throws -> [Result]
    private let maxBatchSize: Int
    private let maxConcurrentBatches: Int
    private var pending: [Item] = []
    private var running = 0
    private let batchSizes: Recorder
    private let batchTimer: Timer

    init(
        name: String, maxBatchSize: Int, maxConcurrentBatches: Int,
        run: @escaping @Sendable ([Command]) async throws -> [Result]
    ) {
        self.run = run
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxConcurrentBatches = max(1, maxConcurrentBatches)
        batchSizes = Recorder(label: "oms_inventory_batch_size", dimensions: [("op", name)])
        batchTimer = Timer(label: "oms_inventory_batch_duration", dimensions: [("op", name)])
    }

    /// Runs one command as part of a batch.
    /// - Throws: what `run` threw for its batch (`MySQLError`).
    func submit(_ command: Command) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((command, continuation))
            startBatches()
        }
    }

    private func startBatches() {
        while running < maxConcurrentBatches, !pending.isEmpty {
            let n = min(maxBatchSize, pending.count)
            let batch = Array(pending.prefix(n))
            pending.removeFirst(n)
            running += 1
            Task { await self.execute(batch) }
        }
    }

    private func execute(_ batch: [Item]) async {
        batchSizes.record(batch.count)
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                let results = try await run(batch.map(\.command))
                for (item, result) in zip(batch, results) { item.continuation.resume(returning: result) }
                break
            } catch let e as MySQLError where e.kind == .duplicateKey && attempt < 4 {
                // Another process inserted one of these ids since we looked: decide again on its row.
                continue
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
                break
            }
        }
        batchTimer.record(duration: ContinuousClock.now - started)
        running -= 1
        startBatches()
    }
}

/// Runs at most one job per key at a time; callers for a key that is busy wait for the running job
/// instead of starting their own (its failure is theirs too, and they retry the gate afterwards).
actor SingleFlight {
    private var running: [String: Task<Void, any Error>] = [:]

    /// Runs `body` unless a job for any of `keys` is running, in which case waits for that job.
    func run(_ keys: Set<String>, _ body: @escaping @Sendable () async throws -> Void) async throws {
        if let busy = keys.lazy.compactMap({ self.running[$0] }).first {
            _ = try? await busy.value
            return
        }
        let task = Task { try await body() }
        for k in keys { running[k] = task }
        defer { for k in keys where running[k] == task { running[k] = nil } }
        try await task.value
    }
}
