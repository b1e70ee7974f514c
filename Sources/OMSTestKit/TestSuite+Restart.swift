import Foundation

extension TestSuite {
    /// Stops one service and starts it again with `environment` added to (or replacing entries of)
    /// the environment it was started with, then waits until it is healthy. An empty `environment`
    /// restarts it with its original environment. Later `startProcess` calls keep these overrides
    /// until the next `restartProcess`.
    /// - Parameters:
    ///   - service: the service.
    ///   - environment: overrides, e.g. `["OMS_CHECKOUT_FAILPOINT": "crash-after:reserve"]`.
    ///   - crash: stop it with SIGKILL (a crash) instead of SIGTERM (graceful).
    ///   - timeout: how long to wait for health.
    /// - Throws: `TestKitError` when it does not come up healthy.
    public func restartProcess(
        _ service: String, environment: [String: String] = [:], crash: Bool = false, timeout: Duration = .seconds(60)
    ) async throws {
        guard let process = processes[service] else { throw TestKitError("\(service) is not part of this suite") }
        await process.stop(signal: crash ? SIGKILL : SIGTERM)
        process.setEnvironmentOverrides(environment)
        try await startProcess(service, timeout: timeout)
    }
}
