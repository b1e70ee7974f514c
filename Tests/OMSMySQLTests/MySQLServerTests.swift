import Foundation
import NIOConcurrencyHelpers
import OMSMySQL
import OMSTestKit
import Testing

@Suite("MySQL against MariaDB")
struct MySQLServerTests {
    @Test("every bind type round-trips through the binary protocol")
    func typeRoundTrips() async throws {
        try await withTestPool { pool, _ in
            try await pool.execute(
                """
                CREATE TABLE t (
                  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  i64 BIGINT NULL, u64 BIGINT UNSIGNED NULL, i32 INT NULL, d DOUBLE NULL,
                  dec_ DECIMAL(20,4) NULL, s VARCHAR(200) NULL, txt TEXT NULL, b BLOB NULL,
                  dt DATETIME(6) NULL, j JSON NULL
                )
                """)
            let when = Date(timeIntervalSince1970: 1_700_000_123.456789)
            let blob: [UInt8] = [0, 1, 2, 0, 255, 0] + Array(repeating: 7, count: 5000)
            let longText = String(repeating: "é🛒", count: 3000)
            let r = try await pool.execute(
                "INSERT INTO t (i64, u64, i32, d, dec_, s, txt, b, dt, j) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .int64(-9_223_372_036_854_775_807), .uint64(.max), .int32(-2_147_483_648), .double(-1.5e-300),
                    .decimal(minorUnits: -123_456_789, scale: 4), .string("héllo 🛒"), .string(longText),
                    .bytes(blob), .datetime(when), .json(#"{"a": [1, 2, {"b": null}]}"#),
                ])
            #expect(r.affectedRows == 1)
            #expect(r.lastInsertId == 1)
            let nulls = try await pool.execute(
                "INSERT INTO t (i64, u64, i32, d, dec_, s, txt, b, dt, j) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                Array(repeating: MySQLValue.null, count: 10))
            #expect(nulls.lastInsertId == 2)

            let row = try #require(try await pool.queryOne("SELECT * FROM t WHERE id = ?", [.int64(1)]))
            #expect(try row.int64("i64") == -9_223_372_036_854_775_807)
            #expect(try row.uint64("u64") == UInt64.max)
            #expect(try row.int32("i32") == Int32.min)
            #expect(try row.double("d") == -1.5e-300)
            #expect(try row.decimal("dec_") == "-12345.6789")
            #expect(try row.minorUnits("dec_", scale: 4) == -123_456_789)
            #expect(try row.string("s") == "héllo 🛒")
            #expect(try row.string("txt") == longText)
            #expect(try row.bytes("b") == blob)
            let back = try row.date("dt")
            #expect(abs(back.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_001)
            #expect(try row.json("j").contains(#""b": null"#))
            #expect(try row.string(6) == "héllo 🛒")

            let empty = try #require(try await pool.queryOne("SELECT * FROM t WHERE id = ?", [.int64(2)]))
            for column in ["i64", "u64", "i32", "d", "dec_", "s", "txt", "b", "dt", "j"] {
                #expect(try empty.isNull(column), "\(column)")
            }
            #expect(try empty.optionalString("s") == nil)
            #expect(throws: MySQLError.self) { try empty.int64("i64") }

            // Expressions come back typed too.
            let e = try #require(
                try await pool.queryOne("SELECT ? + 1 AS n, CAST(? AS CHAR) AS s", [.int64(41), .int64(7)]))
            #expect(try e.int64("n") == 42)
            #expect(try e.string("s") == "7")
            #expect(try await pool.queryOne("SELECT 1 FROM t WHERE id = ?", [.int64(99)]) == nil)
        }
    }

    @Test("empty strings and byte arrays bind without overrunning the parameter arena")
    func emptyValuesBind() async throws {
        try await withTestPool { pool, _ in
            try await pool.execute("CREATE TABLE e (id INT PRIMARY KEY, s VARCHAR(10) NOT NULL, b VARBINARY(10) NOT NULL)")
            // Many empty values in one statement: each needs its own slot and length word.
            for i in 0..<50 {
                try await pool.execute(
                    "INSERT INTO e (id, s, b) VALUES (?, ?, ?)", [.int32(Int32(i)), .string(""), .bytes([])])
            }
            let rows = try await pool.query(
                "SELECT COUNT(*) AS n FROM e WHERE s = ? AND b = ? AND ? = '' AND ? = ''",
                [.string(""), .bytes([]), .string(""), .decimal("")])
            #expect(try rows.first?.int("n") == 50)
        }
    }

    @Test("hostile text through bound parameters is stored and read back literally")
    func injectionIsInert() async throws {
        try await withTestPool { pool, _ in
            try await pool.execute("CREATE TABLE x (id INT PRIMARY KEY, v VARCHAR(255) NOT NULL, b VARBINARY(255))")
            let hostile = [
                "'; DROP TABLE x; --", "\" OR 1=1 --", "\\", "\\'", "a\0b\0", "🛒💥'\"`", "%_", "' UNION SELECT 1 #",
                "\u{0}", "x'; SELECT SLEEP(5); --",
            ]
            for (i, text) in hostile.enumerated() {
                try await pool.execute(
                    "INSERT INTO x (id, v, b) VALUES (?, ?, ?)",
                    [.int32(Int32(i)), .string(text), .bytes(Array(text.utf8))])
            }
            for (i, text) in hostile.enumerated() {
                let row = try #require(try await pool.queryOne("SELECT v, b FROM x WHERE id = ?", [.int32(Int32(i))]))
                #expect(try row.string("v") == text)
                #expect(try row.bytes("b") == Array(text.utf8))
                let byValue = try await pool.query("SELECT id FROM x WHERE v = ?", [.string(text)])
                #expect(byValue.count >= 1)
            }
            let count = try #require(try await pool.queryOne("SELECT COUNT(*) AS n FROM x"))
            #expect(try count.int("n") == hostile.count)
        }
    }

    @Test("32 tasks × N transactions on one row: no lost update, pool bounded")
    func concurrentCounter() async throws {
        let tasks = 32
        let perTask = Int(ProcessInfo.processInfo.environment["OMS_MYSQL_COUNTER_TX"] ?? "") ?? 1000
        try await withTestPool(poolSize: 8) { pool, _ in
            try await pool.execute("CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
            try await pool.execute("INSERT INTO counter VALUES (1, 0)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<perTask {
                            try await pool.withTransaction(retryable: true) { tx in
                                let row = try #require(
                                    try await tx.queryOne("SELECT n FROM counter WHERE id = ? FOR UPDATE", [.int32(1)]))
                                let n = try row.int64("n")
                                try await tx.execute(
                                    "UPDATE counter SET n = ? WHERE id = ?", [.int64(n + 1), .int32(1)])
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try #require(try await pool.queryOne("SELECT n FROM counter WHERE id = 1"))
            #expect(try final.int64("n") == Int64(tasks * perTask))
            let stats = pool.stats
            #expect(stats.highWaterInUse <= 8)
            #expect(stats.highWaterInUse == 8, "32 tasks should saturate the pool")
            #expect(stats.open <= 8)
            #expect(stats.inUse == 0)
            #expect(stats.waiters == 0)
        }
    }

    @Test("a connection killed by the server is replaced transparently")
    func killedConnectionRecovers() async throws {
        let env = try TestEnvironment.load()
        try await withTestPool(poolSize: 1) { pool, _ in
            let first = try await pool.withConnection { try await $0.connectionID() }
            let admin = MySQLConnectionPool(configuration: try env.adminConfiguration(), name: "admin")
            try await admin.withConnection { c in
                // KILL takes no placeholder; the id is an integer the server gave us.
                try await c.executeScript("KILL CONNECTION \(first)")
            }
            await admin.shutdown()
            try await Task.sleep(for: .milliseconds(100))
            let second = try await pool.withConnection { try await $0.connectionID() }
            #expect(second != first)
            let row = try #require(try await pool.queryOne("SELECT 1 + ? AS n", [.int64(1)]))
            #expect(try row.int("n") == 2)
            // And again, for a connection killed between statements of a prepared-statement workload.
            try await pool.execute("CREATE TABLE k (id INT PRIMARY KEY)")
            try await pool.execute("INSERT INTO k VALUES (?)", [.int32(1)])
            let admin2 = MySQLConnectionPool(configuration: try env.adminConfiguration(), name: "admin")
            try await admin2.withConnection { try await $0.executeScript("KILL CONNECTION \(second)") }
            await admin2.shutdown()
            try await Task.sleep(for: .milliseconds(100))
            try await pool.execute("INSERT INTO k VALUES (?)", [.int32(2)])  // cached statement re-prepared
            #expect(try await pool.query("SELECT id FROM k ORDER BY id").count == 2)
        }
    }

    @Test("a provoked deadlock is retried and both transactions succeed")
    func deadlockRetried() async throws {
        try await withTestPool(poolSize: 4) { pool, _ in
            try await pool.execute("CREATE TABLE acct (id INT PRIMARY KEY, n INT NOT NULL)")
            try await pool.execute("INSERT INTO acct VALUES (1, 0), (2, 0)")
            let barrier = Barrier(count: 2)
            let attempts = AttemptCounter()
            func transfer(first: Int32, second: Int32) async throws {
                try await pool.withTransaction(retryable: true) { tx in
                    await attempts.increment()
                    try await tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(first)])
                    await barrier.arrive()  // both hold their first row lock now
                    try await tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(second)])
                }
            }
            async let a: Void = transfer(first: 1, second: 2)
            async let b: Void = transfer(first: 2, second: 1)
            _ = try await (a, b)
            #expect(await attempts.value >= 3, "one transaction must have been retried")
            let rows = try await pool.query("SELECT n FROM acct ORDER BY id")
            #expect(try rows.map { try $0.int("n") } == [2, 2])

            // Without retry the deadlock surfaces typed.
            let barrier2 = Barrier(count: 2)
            func once(first: Int32, second: Int32) async throws {
                try await pool.withTransaction(retryable: false) { tx in
                    try await tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(first)])
                    await barrier2.arrive()
                    try await tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(second)])
                }
            }
            async let c: Result<Void, Error> = Result(catching: { try await once(first: 1, second: 2) })
            async let d: Result<Void, Error> = Result(catching: { try await once(first: 2, second: 1) })
            let results = await [c, d]
            let failures = results.compactMap { r -> MySQLError? in
                if case .failure(let e) = r { return e as? MySQLError }
                return nil
            }
            #expect(failures.count == 1)
            #expect(failures.first?.kind == .deadlock)
            #expect(failures.first?.number == 1213)
            #expect(failures.first?.sqlState == "40001")
        }
    }

    @Test("a batched transaction commits, rolls back on throw and retries a deadlock")
    func batchedTransactions() async throws {
        try await withTestPool(poolSize: 4) { pool, _ in
            try await pool.execute("CREATE TABLE acct (id INT PRIMARY KEY, n INT NOT NULL)")
            try await pool.execute("INSERT INTO acct VALUES (1, 0), (2, 0)")
            let seen = try await pool.withBatchedTransaction(isolation: .readCommitted) { tx -> Int? in
                try tx.execute("UPDATE acct SET n = n + ? WHERE id = ?", [.int32(5), .int32(1)])
                return try tx.queryOne("SELECT n FROM acct WHERE id = ?", [.int32(1)])?.int("n")
            }
            #expect(seen == 5)

            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await pool.withBatchedTransaction { tx in
                    try tx.execute("UPDATE acct SET n = 99 WHERE id = 1")
                    throw Boom()
                }
            }
            #expect(try await pool.queryOne("SELECT n FROM acct WHERE id = 1")?.int("n") == 5)
            await expectMySQLError(.duplicateKey) {
                try await pool.withBatchedTransaction { tx in
                    try tx.execute("UPDATE acct SET n = 42 WHERE id = 2")
                    try tx.execute("INSERT INTO acct VALUES (1, 0)")
                }
            }
            #expect(try await pool.queryOne("SELECT n FROM acct WHERE id = 2")?.int("n") == 0)

            // Two bodies lock the rows in opposite order on their connections' threads: InnoDB kills
            // one (1213) and the retry runs it again after the other committed.
            let barrier = ThreadBarrier(count: 2)
            let attempts = ThreadCounter()
            @Sendable func transfer(_ first: Int32, _ second: Int32) async throws {
                try await pool.withBatchedTransaction(retryable: true) { tx in
                    attempts.increment()
                    try tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(first)])
                    barrier.arrive()  // both hold their first row lock now (later attempts pass straight on)
                    try tx.execute("UPDATE acct SET n = n + 1 WHERE id = ?", [.int32(second)])
                }
            }
            async let a: Void = transfer(1, 2)
            async let b: Void = transfer(2, 1)
            _ = try await (a, b)
            #expect(attempts.value >= 3, "one transaction must have been retried")
            let rows = try await pool.query("SELECT n FROM acct ORDER BY id")
            #expect(try rows.map { try $0.int("n") } == [7, 2])
        }
    }

    @Test("non-retryable errors surface typed; rollback on throw")
    func typedErrors() async throws {
        try await withTestPool { pool, _ in
            try await pool.execute(
                "CREATE TABLE s (id INT PRIMARY KEY, qty INT NOT NULL, CONSTRAINT qty_nonneg CHECK (qty >= 0))")
            try await pool.execute("INSERT INTO s VALUES (?, ?)", [.int32(1), .int32(5)])
            await expectMySQLError(.duplicateKey) {
                try await pool.execute("INSERT INTO s VALUES (?, ?)", [.int32(1), .int32(1)])
            }
            await expectMySQLError(.checkViolation) {
                try await pool.execute("UPDATE s SET qty = ? WHERE id = ?", [.int32(-1), .int32(1)])
            }
            await expectMySQLError(.syntax) { _ = try await pool.query("SELEKT nonsense") }
            await expectMySQLError(.syntax) { _ = try await pool.query("SELECT * FROM missing_table") }
            await expectMySQLError(.invalidArgument) { _ = try await pool.query("SELECT ?", []) }
            await expectMySQLError(.timeout) {
                _ = try await pool.query("SELECT SLEEP(3)", timeout: .milliseconds(200))
            }
            // The session is usable after a statement timeout, and the override does not stick.
            #expect(try await pool.queryOne("SELECT SLEEP(0.3) AS s")?.int("s") == 0)

            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("UPDATE s SET qty = ? WHERE id = ?", [.int32(99), .int32(1)])
                    throw Boom()
                }
            }
            #expect(try await pool.queryOne("SELECT qty FROM s WHERE id = 1")?.int("qty") == 5)
            let committed = try await pool.withTransaction(isolation: .readCommitted) { tx in
                try await tx.execute("UPDATE s SET qty = qty - ? WHERE id = ?", [.int32(2), .int32(1)]).affectedRows
            }
            #expect(committed == 1)
            #expect(try await pool.queryOne("SELECT qty FROM s WHERE id = 1")?.int("qty") == 3)
        }
    }

    @Test("each transaction runs at the isolation level it asked for on a reused session")
    func isolationLevelsOnOneSession() async throws {
        try await withTestPool(poolSize: 1) { pool, _ in
            // MariaDB 10.11 names the variable tx_isolation; MySQL 8 transaction_isolation.
            let isMariaDB = try await pool.queryOne("SELECT VERSION() AS v")?.string("v").contains("MariaDB") ?? true
            let variable = isMariaDB ? "@@tx_isolation" : "@@transaction_isolation"
            func level(_ wanted: MySQLIsolationLevel?) async throws -> String? {
                try await pool.withTransaction(isolation: wanted) { tx in
                    try await tx.queryOne("SELECT \(variable) AS l")?.string("l")
                }
            }
            // Set once, kept while the next transaction asks for the same, reset for the default.
            for wanted: MySQLIsolationLevel? in [.readCommitted, .readCommitted, nil, .serializable, nil, .readCommitted] {
                let expected = (wanted ?? .repeatableRead).rawValue.replacingOccurrences(of: " ", with: "-")
                #expect(try await level(wanted) == expected, "asked for \(wanted?.rawValue ?? "the default")")
            }
        }
    }

    @Test("reads fall back to the primary when the replica is down")
    func replicaFallback() async throws {
        let env = try TestEnvironment.load()
        try await env.withFreshSchema(service: "inventory", poolSize: 2) { config, _ in
            var dead = config
            dead.port = 1  // nothing listens there
            dead.connectTimeout = .seconds(1)
            let db = MySQLDatabase(primary: config, replica: dead)
            try await db.write { try await $0.execute("CREATE TABLE r (id INT PRIMARY KEY)") }
            try await db.transaction { try await $0.execute("INSERT INTO r VALUES (?)", [.int32(1)]) }
            let n = try await db.read { try await $0.queryOne("SELECT COUNT(*) AS n FROM r")?.int("n") }
            #expect(n == 1)
            let healthy = MySQLDatabase(primary: config, replica: config)
            #expect(try await healthy.read { try await $0.queryOne("SELECT COUNT(*) AS n FROM r")?.int("n") } == 1)
            #expect(healthy.replica?.stats.leases == 1)
            await healthy.shutdown()
            await db.shutdown()
        }
    }
}

actor AttemptCounter {
    private(set) var value = 0
    func increment() { value += 1 }
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Lets `count` threads wait for each other (at most 10 s); later arrivals pass straight through.
final class ThreadBarrier: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let condition = NSCondition()
    private var arrived = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func arrive() {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= count {
            condition.broadcast()
            return
        }
        let until = Date().addingTimeInterval(10)
        while arrived < count, condition.wait(until: until) {}
    }
}

/// A counter shared by threads.
final class ThreadCounter: Sendable {
    private let count = NIOLockedValueBox(0)

    func increment() { count.withLockedValue { $0 += 1 } }
    var value: Int { count.withLockedValue { $0 } }
}
