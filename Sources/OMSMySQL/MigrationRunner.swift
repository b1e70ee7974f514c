import OMSCore
import Foundation
import Logging

/// One versioned schema migration: the SQL of `V<version>__<name>.sql`.
public struct Migration: Sendable, Hashable {
    /// Version number; migrations apply in ascending order.
    public var version: Int
    /// Descriptive name.
    public var name: String
    /// The SQL script (see `MySQLScript` for how it is split; use `DELIMITER` around stored routines).
    public var sql: String

    /// Creates a migration.
    /// - Parameters:
    ///   - version: version number (> 0).
    ///   - name: descriptive name.
    ///   - sql: SQL script.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the SQL text (hex), recorded when applied; a changed file is refused.
    public var checksum: String { SHA256Hex.digest(of: sql.utf8) }
}

/// Applies versioned SQL migrations once, in order, recording them in `schema_migrations`.
///
/// - Runs on one connection of the pool, in the pool's default schema.
/// - Holds `GET_LOCK('<schema>.migrations', lockTimeout)` throughout, so instances starting together apply
///   each migration once: the later one waits, then finds everything applied.
/// - Each file is a multi-statement script split like the `mariadb` client does (quotes, comments and
///   `DELIMITER //` lines understood), executed statement by statement over the text protocol. Stored
///   procedures go between `DELIMITER //` and `DELIMITER ;` lines. Partitioned tables need nothing special.
/// - DDL commits implicitly in MySQL, so a migration that fails halfway is not rolled back: it is not
///   recorded, the error is thrown, and the file must be written so it can be fixed and rerun
///   (`CREATE TABLE IF NOT EXISTS`, …).
/// - A recorded migration whose checksum differs from the file's is refused with `.migration`, before
///   anything new is applied.
public struct MigrationRunner: Sendable {
    /// The migrations, sorted by version.
    public let migrations: [Migration]
    private let pool: MySQLConnectionPool
    private let lockTimeout: Duration
    private let logger: Logger

    /// Creates a runner.
    /// - Parameters:
    ///   - pool: the pool of the schema to migrate.
    ///   - migrations: the migrations in any order.
    ///   - lockTimeout: how long to wait for another instance's migration lock.
    ///   - logger: logger.
    public init(
        pool: MySQLConnectionPool, migrations: [Migration], lockTimeout: Duration = .seconds(120),
        logger: Logger = Logger(label: "oms.mysql.migrations")
    ) {
        self.pool = pool
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.lockTimeout = lockTimeout
        self.logger = logger
    }

    /// Applies the pending migrations.
    /// - Returns: the migrations applied by this call (empty when already up to date).
    /// - Throws: `MySQLError` of kind `.migration` for duplicate versions, changed checksums or a lock timeout;
    ///   any error of a failing statement.
    @discardableResult
    public func run() async throws -> [Migration] {
        var seen = Set<Int>()
        for m in migrations {
            guard m.version > 0, seen.insert(m.version).inserted else {
                throw MySQLError(kind: .migration, message: "duplicate or invalid migration version \(m.version)")
            }
        }
        return try await pool.withConnection { c in
            guard let schema = try await c.queryOne("SELECT DATABASE() AS db")?.optionalString("db") else {
                throw MySQLError(kind: .migration, message: "the connection has no default schema")
            }
            let lockName = String("\(schema).migrations".prefix(64))
            let seconds = max(0, Int64(lockTimeout.inSeconds.rounded(.up)))
            let got = try await c.queryOne("SELECT GET_LOCK(?, ?) AS got", [.string(lockName), .int64(seconds)])
            guard try got?.optionalInt64("got") == 1 else {
                throw MySQLError(kind: .migration, message: "timed out waiting for migration lock \(lockName)")
            }
            do {
                let applied = try await apply(on: c, schema: schema)
                try await c.execute("DO RELEASE_LOCK(?)", [.string(lockName)])
                return applied
            } catch {
                _ = try? await c.execute("DO RELEASE_LOCK(?)", [.string(lockName)])
                throw error
            }
        }
    }

    private func apply(on c: MySQLConnection, schema: String) async throws -> [Migration] {
        try await c.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
              version BIGINT NOT NULL PRIMARY KEY,
              name VARCHAR(255) NOT NULL,
              checksum CHAR(64) NOT NULL,
              applied_at DATETIME(6) NOT NULL
            ) ENGINE=InnoDB
            """)
        var recorded: [Int: String] = [:]
        for row in try await c.query("SELECT version, checksum FROM schema_migrations") {
            recorded[try row.int("version")] = try row.string("checksum")
        }
        for m in migrations {
            if let sum = recorded[m.version], sum != m.checksum {
                throw MySQLError(
                    kind: .migration,
                    message: "migration V\(m.version)__\(m.name) was changed after it was applied to \(schema)")
            }
        }
        var applied: [Migration] = []
        for m in migrations where recorded[m.version] == nil {
            logger.info(
                "applying migration", metadata: ["schema": "\(schema)", "version": "\(m.version)", "name": "\(m.name)"])
            try await c.executeScript(m.sql)
            try await c.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                [.int64(Int64(m.version)), .string(m.name), .string(m.checksum), .datetime(Date())])
            applied.append(m)
        }
        return applied
    }

    /// Parses a file name `V<version>__<name>.sql`.
    /// - Parameter fileName: the file name without directory.
    /// - Returns: version and name, or nil when the name does not match.
    public static func parseFileName(_ fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasPrefix("V") || fileName.hasPrefix("v"), fileName.hasSuffix(".sql"),
            let sep = fileName.range(of: "__")
        else { return nil }
        let digits = fileName[fileName.index(after: fileName.startIndex)..<sep.lowerBound]
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let version = Int(digits) else { return nil }
        let name = fileName[sep.upperBound..<fileName.index(fileName.endIndex, offsetBy: -4)]
        return (version, String(name))
    }

    /// Reads every `V<version>__<name>.sql` file of a directory (other files are ignored).
    /// - Parameter directory: directory path, e.g. `services/inventory/migrations`.
    /// - Returns: the migrations sorted by version.
    /// - Throws: file system errors; `.migration` for non-UTF-8 files.
    public static func loadMigrations(directory: String) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        var result: [Migration] = []
        for file in names {
            guard let (version, name) = parseFileName(file) else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(file))
            guard let sql = String(data: data, encoding: .utf8) else {
                throw MySQLError(kind: .migration, message: "\(file) is not UTF-8")
            }
            result.append(Migration(version: version, name: name, sql: sql))
        }
        return result.sorted { $0.version < $1.version }
    }
}
