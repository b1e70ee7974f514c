import Foundation
import OMSMySQL
import OMSTestKit
import Testing

@Suite("Migrations against MariaDB")
struct MigrationRunnerTests {
    static let migrations = [
        Migration(
            version: 1, name: "init",
            sql: """
                -- stock; with a seed row that would duplicate if applied twice
                CREATE TABLE stock (
                  sku VARCHAR(64) NOT NULL PRIMARY KEY,
                  on_hand INT NOT NULL,
                  reserved INT NOT NULL DEFAULT 0,
                  CONSTRAINT stock_available CHECK (on_hand - reserved >= 0)
                );
                INSERT INTO stock (sku, on_hand) VALUES ('seed;1', 10);
                CREATE TABLE seeded (n INT NOT NULL);
                INSERT INTO seeded VALUES (1);
                """),
        Migration(
            version: 2, name: "procedure_and_partitions",
            sql: """
                DELIMITER //
                CREATE PROCEDURE reserve_units(IN p_sku VARCHAR(64), IN p_units INT)
                BEGIN
                  UPDATE stock SET reserved = reserved + p_units WHERE sku = p_sku;
                  SELECT on_hand - reserved AS available FROM stock WHERE sku = p_sku;
                END //
                DELIMITER ;
                CREATE TABLE orders (
                  id BIGINT UNSIGNED NOT NULL,
                  created_at DATETIME(6) NOT NULL,
                  meta JSON NULL,
                  PRIMARY KEY (id)
                ) PARTITION BY RANGE (id) (
                  PARTITION p0 VALUES LESS THAN (1000),
                  PARTITION p1 VALUES LESS THAN (2000),
                  PARTITION pmax VALUES LESS THAN MAXVALUE
                );
                """),
    ]

    @Test("applies once, re-run is a no-op, procedures and partitions work")
    func appliesOnce() async throws {
        try await withTestPool(poolSize: 2) { pool, _ in
            let runner = MigrationRunner(pool: pool, migrations: Self.migrations.reversed())
            #expect(try await runner.run().map(\.version) == [1, 2])
            #expect(try await runner.run().isEmpty)
            let recorded = try await pool.query(
                "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0.int("version") } == [1, 2])
            #expect(try recorded[0].string("checksum") == Self.migrations[0].checksum)
            #expect(try await pool.queryOne("SELECT COUNT(*) AS n FROM seeded")?.int("n") == 1)

            let out = try await pool.query("CALL reserve_units(?, ?)", [.string("seed;1"), .int32(3)])
            #expect(try out.first?.int("available") == 7)
            for id: UInt64 in [5, 1500, 99_999] {
                try await pool.execute(
                    "INSERT INTO orders (id, created_at, meta) VALUES (?, ?, ?)",
                    [.uint64(id), .datetime(Date()), .json(#"{"k":1}"#)])
            }
            let parts = try await pool.query(
                """
                SELECT PARTITION_NAME AS p FROM information_schema.PARTITIONS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' ORDER BY PARTITION_ORDINAL_POSITION
                """)
            #expect(try parts.map { try $0.string("p") } == ["p0", "p1", "pmax"])
            #expect(try await pool.query("SELECT id FROM orders PARTITION (p1)").map { try $0.uint64("id") } == [1500])
        }
    }

    @Test("two runners started together apply each migration once")
    func concurrentRunners() async throws {
        try await withTestPool(poolSize: 1) { pool, config in
            let other = MySQLConnectionPool(configuration: config, name: "other")
            async let a = MigrationRunner(pool: pool, migrations: Self.migrations).run()
            async let b = MigrationRunner(pool: other, migrations: Self.migrations).run()
            let (ra, rb) = try await (a, b)
            await other.shutdown()
            #expect(ra.count + rb.count == 2)
            #expect(ra.isEmpty || rb.isEmpty)
            #expect(try await pool.queryOne("SELECT COUNT(*) AS n FROM seeded")?.int("n") == 1)
            #expect(try await pool.queryOne("SELECT COUNT(*) AS n FROM schema_migrations")?.int("n") == 2)
        }
    }

    @Test("a changed applied migration is refused")
    func checksumChangeRefused() async throws {
        try await withTestPool(poolSize: 1) { pool, _ in
            try await MigrationRunner(pool: pool, migrations: [Self.migrations[0]]).run()
            var changed = Self.migrations
            changed[0].sql += "\n-- edited"
            await expectMySQLError(.migration) { try await MigrationRunner(pool: pool, migrations: changed).run() }
            // Nothing new was applied after the refusal.
            #expect(try await pool.queryOne("SELECT COUNT(*) AS n FROM schema_migrations")?.int("n") == 1)
            await expectMySQLError(.migration) {
                try await MigrationRunner(pool: pool, migrations: [Self.migrations[1], Self.migrations[1]]).run()
            }
        }
    }

    @Test("loads V<n>__<name>.sql files from a directory in version order")
    func loadsDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "oms-mig-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "SELECT 10;".write(to: dir.appendingPathComponent("V10__ten.sql"), atomically: true, encoding: .utf8)
        try "SELECT 2;".write(to: dir.appendingPathComponent("V002__two.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: dir.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let loaded = try MigrationRunner.loadMigrations(directory: dir.path)
        #expect(loaded.map(\.version) == [2, 10])
        #expect(loaded.map(\.name) == ["two", "ten"])
        #expect(loaded[0].sql == "SELECT 2;")
    }
}
