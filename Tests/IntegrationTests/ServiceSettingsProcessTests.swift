import Foundation
import OMSMySQL
import OMSTestKit
import Testing

/// A service binary refuses a misspelled setting before it does anything: usage error, the name on
/// standard error, and its (fresh, empty) schema left untouched.
@Suite struct ServiceSettingsProcessTests {
    @Test func misspelledFlagOrVariableIsRefusedBeforeTheDatabaseIsOpened() async throws {
        let environment = try TestEnvironment.load()
        try await environment.withFreshSchema(service: "inventory", poolSize: 1) { config, schema in
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMS_") }
            env["OMS_AUTH_TOKEN"] = String(repeating: "t", count: 40)
            env["OMS_INVENTORY_DB_URL"] = try Self.url(environment.dbURL(service: "inventory"), schema: schema)
            env["OMS_REDIS_URL"] = environment.redisURL
            env["OMS_INVENTORY_PORT"] = "0"
            env["OMS_INVENTORY_METRICS_PORT"] = "0"

            let flag = try await ToolProcess.run(
                "oms-inventory", ["--reservaton-ttl", "900"], environment: env, timeLimit: .seconds(60))
            #expect(flag.status == 64, "\(flag.transcript)")
            let errorLines = flag.stderr.split(separator: "\n").filter { $0.contains("error:") }
            #expect(errorLines.count == 1 && errorLines[0].contains("--reservaton-ttl"), "\(flag.transcript)")
            #expect(!flag.timedOut)

            var misspelled = env
            misspelled["OMS_INVENTORY_RESERVATON_TTL"] = "900"
            let variable = try await ToolProcess.run("oms-inventory", [], environment: misspelled, timeLimit: .seconds(60))
            #expect(variable.status == 64, "\(variable.transcript)")
            #expect(variable.stderr.contains("OMS_INVENTORY_RESERVATON_TTL"), "\(variable.transcript)")

            let help = try await ToolProcess.run("oms-inventory", ["--help"], environment: env, timeLimit: .seconds(60))
            #expect(help.status == 0, "\(help.transcript)")
            #expect(help.stdout.contains("OMS_INVENTORY_RESERVATION_TTL"), "\(help.transcript)")

            // Never migrated, so never opened: the schema has no tables at all.
            let pool = MySQLConnectionPool(configuration: config, name: "settings-test")
            let row = try await pool.queryOne(
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ?", [.string(schema)])
            await pool.shutdown()
            #expect(try row?.int64("n") == 0)
        }
    }

    /// `url` with its database replaced by `schema`.
    static func url(_ url: String, schema: String) throws -> String {
        guard let slash = url.lastIndex(of: "/") else { throw TestKitError("no database in \(url)") }
        return url[..<slash] + "/" + schema
    }
}
