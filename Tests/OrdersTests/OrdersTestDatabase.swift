import Foundation
import Logging
import OMSMySQL

@testable import Orders

/// A fresh `oms_orders_t<random>` schema with the migrations applied and partitions ensured.
/// (Uses OMS_ORDERS_DB_URL from the environment or `.oms/env`; OMSTestKit's TestEnvironment can replace
/// this once it lands.)
struct OrdersTestDatabase {
    let database: MySQLDatabase
    let schema: String
    let admin: MySQLConnectionPool

    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static func url() throws -> String {
        if let u = ProcessInfo.processInfo.environment["OMS_ORDERS_DB_URL"], !u.isEmpty { return u }
        let text = try String(contentsOfFile: repoRoot + "/.oms/env", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("OMS_ORDERS_DB_URL=") {
            return String(line.dropFirst("OMS_ORDERS_DB_URL=".count))
        }
        throw MySQLError(kind: .invalidArgument, message: "OMS_ORDERS_DB_URL is not set")
    }

    static func make(replicaLagging: Bool = false) async throws -> OrdersTestDatabase {
        let base = try MySQLConfiguration(url: try url())
        let schema = "oms_orders_t\(UInt32.random(in: 0...UInt32.max))"
        let admin = MySQLConnectionPool(configuration: base.with(database: nil), name: "orders-test-admin")
        try await admin.withConnection { try await $0.executeScript("CREATE DATABASE \(schema)") }
        var config = base.with(database: schema)
        config.poolSize = 8
        var replica: MySQLConfiguration?
        if replicaLagging {
            // A "replica" that never receives the primary's writes: same schema shape, no data.
            let lag = schema + "r"
            try await admin.withConnection { try await $0.executeScript("CREATE DATABASE \(lag)") }
            replica = base.with(database: lag)
            let pool = MySQLConnectionPool(configuration: base.with(database: lag), name: "orders-test-lag")
            try await migrate(pool)
            await pool.shutdown()
        }
        let database = MySQLDatabase(primary: config, replica: replica, name: "orders-test")
        try await migrate(database.primary)
        try await PartitionMaintenance(database: database, logger: Logger(label: "test")).run()
        return OrdersTestDatabase(database: database, schema: schema, admin: admin)
    }

    static func migrate(_ pool: MySQLConnectionPool) async throws {
        let migrations = try MigrationRunner.loadMigrations(
            directory: OrdersDefinition.migrationsDirectory(root: repoRoot))
        try await MigrationRunner(pool: pool, migrations: migrations).run()
    }

    func drop() async {
        await database.shutdown()
        _ = try? await admin.withConnection { c in
            try await c.executeScript("DROP DATABASE IF EXISTS \(schema)")
            try await c.executeScript("DROP DATABASE IF EXISTS \(schema)r")
        }
        await admin.shutdown()
    }

    func count(_ sql: String, _ binds: [MySQLValue] = []) async throws -> Int {
        try await database.primary.queryOne(sql, binds)?.int(0) ?? -1
    }
}
