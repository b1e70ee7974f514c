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


extension BatchCoalescer {
    /// A coalescer for work that is applied to a batch all at once or, failing that, one command at a
    /// time: `together` applies every command of a batch in one transaction with multi-row
    /// statements and throws when it cannot apply every one of them as asked (a duplicate key, a
    /// lost race, a refusal); the transaction is then rolled back and each command is applied
    /// `alone`, the way a single call always was, so each caller gets its own answer and one
    /// command's refusal never becomes its neighbours'. A lone command goes straight to `alone`.
    /// - Parameters:
    ///   - metricPrefix: see `init(metricPrefix:name:maxBatchSize:maxConcurrentBatches:duplicateKeyRetries:run:)`;
    ///     fallbacks are counted by `<prefix>_batch_fallbacks_total{op}`.
    ///   - name: the `op` dimension.
    ///   - maxBatchSize: most commands in one batch.
    ///   - maxConcurrentBatches: most batches running at once.
    ///   - together: applies a whole batch; one value per command, in order.
    ///   - alone: applies one command.
    public init<Value: Sendable>(
        metricPrefix: String, name: String, maxBatchSize: Int, maxConcurrentBatches: Int,
        together: @escaping @Sendable ([Command]) async throws -> [Value],
        alone: @escaping @Sendable (Command) async throws -> Value
    ) where Result == Swift.Result<Value, any Error> {
        let fallbacks = Counter(label: "\(metricPrefix)_batch_fallbacks_total", dimensions: [("op", name)])
        self.init(
            metricPrefix: metricPrefix, name: name, maxBatchSize: maxBatchSize,
            maxConcurrentBatches: maxConcurrentBatches, duplicateKeyRetries: 0
        ) { commands in
            if commands.count > 1, let values = try? await together(commands), values.count == commands.count {
                return values.map { .success($0) }
            }
            if commands.count > 1 { fallbacks.increment() }
            // Each alone, concurrently (the connection pool bounds how many at once).
            return await withTaskGroup(of: (Int, Swift.Result<Value, any Error>).self) { group in
                for (i, command) in commands.enumerated() {
                    group.addTask {
                        do { return (i, .success(try await alone(command))) } catch { return (i, .failure(error)) }
                    }
                }
                var results = [Swift.Result<Value, any Error>?](repeating: nil, count: commands.count)
                for await (i, result) in group { results[i] = result }
                return results.compactMap { $0 }
            }
        }
    }
}
