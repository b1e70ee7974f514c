import Logging
import NIOConcurrencyHelpers
import OMSAPI
import OMSCore
import OMSProto
import OMSRPCCore

/// One dependency a service reports in its health answer (database, Redis, a peer service).
public struct RPCHealthCheck: Sendable {
    /// The dependency's name in the answer, e.g. `mysql`.
    public var name: String
    /// Returns normally when the dependency is usable; throws otherwise (the error goes to the log only).
    public var check: @Sendable () async throws -> Void

    /// - Parameters:
    ///   - name: The dependency's name.
    ///   - check: Probes the dependency; throwing means NOT_SERVING with a fixed detail.
    public init(name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }
}

/// Serves `/oms.health.v1.Health/Check` (callable without credentials, see `publicMethods`): runs
/// every dependency check concurrently, each bounded by `checkTimeout`, and answers SERVING only
/// when all pass.
///
/// The answer reaches anyone who can open the port, so a failing dependency's `detail` is a fixed
/// reason (`unavailable`, `timed out`, `failed`); the error itself, with whatever user, host or
/// driver text it holds, is logged here and never sent.
public struct RPCHealthProvider: HealthV1.HealthService {
    /// `/oms.health.v1.Health/Check`.
    public static let checkMethod = HealthV1.Health.Method.check

    /// The dependency checks.
    public var checks: [RPCHealthCheck]
    /// Fully qualified service names this process serves (a request naming another one is
    /// answered SERVICE_UNKNOWN); empty accepts any name.
    public var services: Set<String>
    /// Reported in every answer.
    public var version: String
    /// Upper bound for one dependency check; a slower one reports NOT_SERVING.
    public var checkTimeout: Duration
    /// Where a failing check's error is written.
    public var logger: Logger

    /// Method paths that must be served without credentials for this provider to be useful.
    public static let publicMethods: Set<String> = [checkMethod.path]

    /// - Parameters:
    ///   - checks: Dependency checks.
    ///   - services: Served service names (empty: do not check names).
    ///   - version: Build version for operators.
    ///   - checkTimeout: Limit per dependency check (default 2 s).
    ///   - logger: Where failing checks are logged.
    public init(
        checks: [RPCHealthCheck], services: Set<String> = [], version: String = "",
        checkTimeout: Duration = .seconds(2), logger: Logger = Logger(label: "oms.health")
    ) {
        self.checks = checks
        self.services = services
        self.version = version
        self.checkTimeout = checkTimeout
        self.logger = logger
    }

    /// A provider for a process serving `services`: it answers for their names and its own.
    /// - Parameters:
    ///   - services: The services the process serves.
    ///   - checks: Dependency checks.
    ///   - logger: Where failing checks are logged.
    public static func serving(
        _ services: [any RPCService], checks: [RPCHealthCheck], logger: Logger
    ) -> RPCHealthProvider {
        var router = RPCRouter()
        for service in services { service.registerMethods(with: &router) }
        let names = Set(router.handlers.values.map(\.descriptor.service) + [HealthV1.Health.name])
        return RPCHealthProvider(checks: checks, services: names, logger: logger)
    }

    /// Answers the health of the process or of one served service.
    /// - Parameters:
    ///   - request: Names a service, or nothing for the whole process.
    ///   - context: The serving call.
    /// - Throws: Never; failing dependencies are reported in the answer.
    public func check(
        _ request: HealthV1.HealthCheckRequest, context: ServerContext
    ) async throws -> HealthV1.HealthCheckResponse {
        var response = HealthV1.HealthCheckResponse()
        response.version = version
        if !request.service.isEmpty, !services.isEmpty, !services.contains(request.service) {
            response.status = .serviceUnknown
            return response
        }
        let timeout = checkTimeout
        let logger = logger
        let results = await withTaskGroup(of: (Int, HealthV1.DependencyCheck).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    (index, await Self.run(check, timeout: timeout, logger: logger))
                }
            }
            var results = [HealthV1.DependencyCheck?](repeating: nil, count: checks.count)
            for await (index, result) in group {
                results[index] = result
            }
            return results.compactMap { $0 }
        }
        response.dependencies = results
        response.status = results.allSatisfy { $0.status == .serving } ? .serving : .notServing
        return response
    }

    /// Fixed reasons for `detail`: the only text about a dependency that leaves the process.
    enum Reason {
        static let unavailable = "unavailable"
        static let timedOut = "timed out"
        static let failed = "failed"
    }

    private static func run(
        _ check: RPCHealthCheck, timeout: Duration, logger: Logger
    ) async -> HealthV1.DependencyCheck {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await firstOf(timeout: timeout) {
            do {
                try await check.check()
                return nil
            } catch {
                logger.warning(
                    "health check failed", metadata: ["dependency": "\(check.name)", "error": "\(error)"])
                let unavailable = (error as? any RPCErrorConvertible)?.rpcError.code == .unavailable
                return unavailable ? Reason.unavailable : Reason.failed
            }
        }
        if outcome == Reason.timedOut {
            logger.warning("health check timed out", metadata: ["dependency": "\(check.name)", "limit": "\(timeout)"])
        }
        let elapsed = clock.now - start
        var result = HealthV1.DependencyCheck()
        result.name = check.name
        result.status = outcome == nil ? .serving : .notServing
        result.detail = outcome ?? ""
        result.latencyUs = elapsed.wholeMicroseconds
        return result
    }
}

/// Runs `body`, but answers "timed out" after `timeout` even when `body` ignores cancellation
/// (it is cancelled and left to finish on its own).
private func firstOf(timeout: Duration, _ body: @escaping @Sendable () async -> String?) async -> String? {
    let resumed = NIOLockedValueBox(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
        let work = Task {
            let result = await body()
            if resumed.withLockedValue({ done in defer { done = true }; return !done }) {
                continuation.resume(returning: result)
            }
        }
        Task {
            try? await Task.sleep(for: timeout)
            if resumed.withLockedValue({ done in defer { done = true }; return !done }) {
                work.cancel()
                continuation.resume(returning: RPCHealthProvider.Reason.timedOut)
            }
        }
    }
}

