import Foundation
import Metrics
import OMSMySQL

/// Group commit across callers: concurrent requests of one kind are gathered into few short
/// transactions (docs/architecture.md, "Batching"). Inventory uses it for Reserve and
/// CommitReservation, the checkout coordinator for its saga-log writes.
///
/// Up to `maxConcurrentBatches` batches run at once; requests that arrive while they run queue up and
/// go together in the next batch (up to `maxBatchSize` each). There is no timer: when idle a request
/// runs alone at once, so a lone caller waits for nothing; under load each fixed cost (round trip,
/// statement, commit and its fsync, row-lock hold) is paid once per batch. `run` must decide every
/// command on its own (one command's refusal must not fail the others) and return one result per
/// command, in order; a failure of the batch as a whole fails each of its callers, who handle it as
/// the unknown outcome of a single call.
public actor BatchCoalescer<Command: Sendable, Result: Sendable> {
    typealias Item = (command: Command, continuation: CheckedContinuation<Result, any Error>)
    private let run: @Sendable ([Command]) async throws -> [Result]
    private let maxBatchSize: Int
    private let maxConcurrentBatches: Int
    private let retryAttempts: Int
    private var pending: [Item] = []
    private var running = 0
    private let batchSizes: Recorder
    private let batchTimer: Timer

    /// - Parameters:
    ///   - metricPrefix: names the metrics `<prefix>_batch_size` and `<prefix>_batch_duration`
    ///     (e.g. `oms_inventory`).
    ///   - name: the `op` dimension of those metrics (e.g. `reserve`).
    ///   - maxBatchSize: most commands in one batch.
    ///   - maxConcurrentBatches: most batches running at once.
    ///   - duplicateKeyRetries: how often a batch that failed with a duplicate key is run again (another
    ///     process inserted one of its ids since it looked, and deciding again sees that row).
    ///   - run: decides a batch; one result per command, in order.
    public init(
        metricPrefix: String, name: String, maxBatchSize: Int, maxConcurrentBatches: Int, duplicateKeyRetries: Int = 3,
        run: @escaping @Sendable ([Command]) async throws -> [Result]
    ) {
        self.run = run
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxConcurrentBatches = max(1, maxConcurrentBatches)
        retryAttempts = max(0, duplicateKeyRetries) + 1
        batchSizes = Recorder(label: Self.sizeLabel(metricPrefix: metricPrefix), dimensions: [("op", name)])
        batchTimer = Timer(label: "\(metricPrefix)_batch_duration", dimensions: [("op", name)])
    }

    /// The histogram buckets of `<prefix>_batch_size`: 1, 2, 4, … 256 and above.
    public static var sizeBuckets: [Double] { (0...8).map { Double(1 << $0) } }

    /// The label of the batch-size histogram of coalescers with `metricPrefix`.
    public static func sizeLabel(metricPrefix: String) -> String { "\(metricPrefix)_batch_size" }

    /// Runs one command as part of a batch.
    /// - Throws: what `run` threw for its batch (`MySQLError`).
    public func submit(_ command: Command) async throws -> Result {
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
                precondition(results.count == batch.count, "a batch must answer every command")
                for (item, result) in zip(batch, results) { item.continuation.resume(returning: result) }
                break
            } catch let e as MySQLError where e.kind == .duplicateKey && attempt < retryAttempts {
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

