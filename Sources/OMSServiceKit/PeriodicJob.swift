import Logging
import ServiceLifecycle

/// A background job that runs `body` every `interval` until graceful shutdown (sweepers,
/// reconciliation, outbox relays, partition maintenance). A failing run is logged and the
/// job carries on at the next tick; it never takes the process down.
public struct PeriodicJob: Service, Sendable {
    public let name: String
    public let interval: Duration
    /// Run once right away at start, before the first interval has passed.
    public let runAtStart: Bool
    let logger: Logger
    let body: @Sendable () async throws -> Void

    /// - Parameters:
    ///   - name: for logs (`job` metadata).
    ///   - interval: time between the end of one run and the start of the next.
    ///   - runAtStart: whether to run once immediately.
    ///   - logger: where failures are logged.
    ///   - body: the work; cancellation means shutdown.
    public init(
        name: String, interval: Duration, runAtStart: Bool = true, logger: Logger,
        body: @escaping @Sendable () async throws -> Void
    ) {
        self.name = name
        self.interval = interval
        self.runAtStart = runAtStart
        self.logger = logger
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var first = true
            while !Task.isCancelled {
                if !(first && runAtStart) {
                    do { try await Task.sleep(for: interval) } catch { return }
                }
                first = false
                do {
                    try await body()
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("background job failed", metadata: ["job": "\(name)", "error": "\(error)"])
                }
            }
        }
    }
}
