import Foundation

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
