import Foundation
import OMSMySQL
import OMSTestKit
import Testing

/// Throughput of the pool for point selects and single-row updates; not a test. Runs only with OMS_BENCH=1
/// (see tools/bench-storage.sh, which runs the C client against the same table for comparison).
///
/// Environment: OMS_BENCH_SCHEMA (a prepared schema with table `bench`, required), OMS_BENCH_SECONDS
/// (per measurement, default 5), OMS_BENCH_ROWS (default 10000).
@Suite("Storage benchmark", .enabled(if: ProcessInfo.processInfo.environment["OMS_BENCH"] == "1"))
struct StorageBenchmark {
    @Test func pointSelectAndUpdate() async throws {
        let env = ProcessInfo.processInfo.environment
        let schema = try #require(env["OMS_BENCH_SCHEMA"])
        let seconds = Double(env["OMS_BENCH_SECONDS"] ?? "") ?? 5
        let rows = Int64(env["OMS_BENCH_ROWS"] ?? "") ?? 10_000
        var config = try TestEnvironment.load().adminConfiguration().with(database: schema)
        config.poolSize = 32
        let pool = MySQLConnectionPool(configuration: config, name: "bench")
        // Warm up every connection and its statement cache.
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<32 {
                g.addTask {
                    _ = try await pool.query("SELECT id, n, pad FROM bench WHERE id = ?", [.int64(1)])
                    try await pool.execute("UPDATE bench SET n = n + 1 WHERE id = ?", [.int64(1)])
                }
            }
            try await g.waitForAll()
        }
        for (name, sql) in [
            ("point_select", "SELECT id, n, pad FROM bench WHERE id = ?"),
            ("update", "UPDATE bench SET n = n + 1 WHERE id = ?"),
        ] {
            for concurrency in [1, 32] {
                let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
                let started = ContinuousClock.now
                let total = try await withThrowingTaskGroup(of: Int.self) { g in
                    for _ in 0..<concurrency {
                        g.addTask {
                            var done = 0
                            while ContinuousClock.now < deadline {
                                let id = Int64.random(in: 1...rows)
                                if name == "update" {
                                    try await pool.execute(sql, [.int64(id)])
                                } else {
                                    _ = try await pool.query(sql, [.int64(id)])
                                }
                                done += 1
                            }
                            return done
                        }
                    }
                    return try await g.reduce(0, +)
                }
                let elapsed = (ContinuousClock.now - started) / .milliseconds(1) / 1000
                let rate = Int(Double(total) / elapsed)
                print("BENCH name=\(name) concurrency=\(concurrency) ops=\(total) seconds=\(elapsed) rate=\(rate)")
            }
        }
        await pool.shutdown()
    }
}
