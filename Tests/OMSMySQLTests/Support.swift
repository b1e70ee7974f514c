import Foundation
import OMSMySQL
import OMSTestKit
import Testing

/// Runs `body` with a pool on a fresh schema of the inventory user; drops the schema afterwards.
func withTestPool<R>(
    poolSize: Int = 8, callerIsolation: isolated (any Actor)? = #isolation,
    _ body: (MySQLConnectionPool, MySQLConfiguration) async throws -> R
) async throws -> R {
    let env = try TestEnvironment.load()
    return try await env.withFreshSchema(service: "inventory", poolSize: poolSize) { config, _ in
        let pool = MySQLConnectionPool(configuration: config, name: "test")
        do {
            let r = try await body(pool, config)
            await pool.shutdown()
            return r
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}

/// Expects `body` to throw a `MySQLError` of `kind`.
func expectMySQLError(
    _ kind: MySQLError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
    callerIsolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected MySQLError \(kind), nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as MySQLError {
        #expect(e.kind == kind, "got \(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected MySQLError \(kind), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Lets `count` tasks wait for each other; later arrivals pass straight through.
actor Barrier {
    private let count: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        arrived += 1
        if arrived >= count {
            let w = waiting
            waiting = []
            w.forEach { $0.resume() }
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}
