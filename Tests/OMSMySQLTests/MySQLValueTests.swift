import OMSCore
import Foundation
import Testing

@testable import OMSMySQL

@Suite("MySQL values and rows (no server)")
struct MySQLValueTests {
    @Test func configurationFromURL() throws {
        let c = try MySQLConfiguration(
            url: "mysql://us%40er:p%3Aw%2Fd@db.example:3310/oms_x?pool=4&timeout=2.5&statement_timeout=1")
        #expect(c.user == "us@er")
        #expect(c.password == "p:w/d")
        #expect(c.host == "db.example")
        #expect(c.port == 3310)
        #expect(c.database == "oms_x")
        #expect(c.poolSize == 4)
        #expect(c.connectTimeout == .milliseconds(2500))
        #expect(c.statementTimeout == .seconds(1))
        let s = try MySQLConfiguration(url: "mysql://root@localhost/?socket=%2Ftmp%2Fm.sock")
        #expect(s.unixSocket == "/tmp/m.sock")
        #expect(s.database == nil)
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: "postgres://x@y/z") }
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: "mysql://x@y:99999/z") }
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: "mysql://x@y/z?bogus=1") }
    }

    @Test func decimalMinorUnits() {
        #expect(DecimalText.format(minorUnits: -1250, scale: 2) == "-12.50")
        #expect(DecimalText.format(minorUnits: 5, scale: 3) == "0.005")
        #expect(DecimalText.format(minorUnits: 42, scale: 0) == "42")
        #expect(DecimalText.minorUnits("-12.50", scale: 2) == -1250)
        #expect(DecimalText.minorUnits("12.5", scale: 2) == 1250)
        #expect(DecimalText.minorUnits("12.501", scale: 2) == nil)
        #expect(DecimalText.minorUnits("12.500", scale: 2) == 1250)
        #expect(DecimalText.minorUnits("abc", scale: 2) == nil)
        #expect(DecimalText.minorUnits("-9223372036854775808", scale: 0) == Int64.min)
    }

    @Test func civilTimeRoundTrip() {
        for seconds in [-86_400.5, 0, 951_782_400.123456, 1_700_000_000.999999, 4_102_444_800] {
            let d = Date(timeIntervalSince1970: seconds)
            let back = CivilTime.date(CivilTime.components(of: d))
            #expect(abs(back.timeIntervalSince1970 - seconds) < 0.000_001)
        }
        let c = CivilTime.components(of: Date(timeIntervalSince1970: 951_782_400))  // 2000-02-29
        #expect(c == .init(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0, microsecond: 0))
    }

    @Test func rowAccessors() throws {
        let cols = MySQLColumns(names: ["id", "Name", "amount", "n"])
        let row = MySQLRow(columns: cols, values: [.uint64(7), .string("x"), .decimal("1.20"), .null])
        #expect(try row.int64("id") == 7)
        #expect(try row.string("name") == "x")
        #expect(try row.minorUnits("amount", scale: 2) == 120)
        #expect(try row.optionalInt64("n") == nil)
        #expect(try row.string(1) == "x")
        #expect(throws: MySQLError.self) { try row.int64("n") }
        #expect(throws: MySQLError.self) { try row.int64("missing") }
        #expect(throws: MySQLError.self) { try row.date("name") }
        #expect(throws: MySQLError.self) { try row.int64(9) }
        let big = MySQLRow(columns: cols, values: [.uint64(.max), .null, .null, .null])
        #expect(throws: MySQLError.self) { try big.int64("id") }
        #expect(try big.uint64("id") == .max)
    }

    @Test func scriptSplitter() {
        let script = """
            -- comment; with semicolon
            CREATE TABLE a (s VARCHAR(10) DEFAULT 'x;y'); # trailing; comment
            INSERT INTO a VALUES ('it''s; fine'), ("q\\";"), (`c;`);
            /* block; comment */
            DELIMITER //
            CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END //
            DELIMITER ;
            SELECT 3;
            """
        let parts = MySQLScript.split(script)
        #expect(parts.count == 4, "\(parts)")
        #expect(parts[0] == "CREATE TABLE a (s VARCHAR(10) DEFAULT 'x;y')")
        #expect(parts[1] == "INSERT INTO a VALUES ('it''s; fine'), (\"q\\\";\"), (`c;`)")
        #expect(parts[2] == "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END")
        #expect(parts[3] == "SELECT 3")
    }

    @Test func jsonTextRoundTripsThroughFoundation() throws {
        let nasty = "quote\" back\\ slash/ nl\n tab\t cr\r bell\u{07} nul\u{00} é 😀 \u{1F}"
        let text = JSONText.object(["b": nasty, "a": "", "reason": "payment declined: \"insufficient\""])
        #expect(text.hasPrefix("{\"a\":\"\",\"b\":"))
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(parsed == ["b": nasty, "a": "", "reason": "payment declined: \"insufficient\""])
        #expect(JSONText.object([:]) == "{}")
        #expect(JSONText.quoted("\u{01}x") == "\"\\u0001x\"")
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256Hex.digest(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Hex.digest(of: Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256Hex.digest(of: long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// Databases record each applied migration's checksum and refuse a file whose checksum changed, so
    /// the digest must stay what it was: these are the checksums recorded for the first migrations.
    @Test func migrationChecksumsAreUnchanged() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let recorded = [
            "checkout": "4fa21e8ec099b1e94a7da010e9e4cb4360fc591e1a8c086d5e05d3d140e94862",
            "orders": "8d76fcf505205f926b80a0b0082dd4cf5c84ae3761a32661ce2df359cdedd39e",
            "payments": "879efda5ae1869288ea56538c28a65876c1a9f9edd8ef417ee58816eaf4d6582",
        ]
        for (service, checksum) in recorded {
            let directory = root.appendingPathComponent("services/\(service)/migrations").path
            let first = try MigrationRunner.loadMigrations(directory: directory).first { $0.version == 1 }
            #expect(first?.checksum == checksum, "\(service)")
        }
    }

    @Test func migrationFileNames() {
        #expect(MigrationRunner.parseFileName("V001__init.sql")! == (1, "init"))
        #expect(MigrationRunner.parseFileName("V10__add_orders.sql")! == (10, "add_orders"))
        #expect(MigrationRunner.parseFileName("README.md") == nil)
        #expect(MigrationRunner.parseFileName("Vx__bad.sql") == nil)
    }

    @Test func errorClassification() {
        #expect(MySQLError.classify(1213) == .deadlock)
        #expect(MySQLError.classify(1205) == .lockWaitTimeout)
        #expect(MySQLError.classify(1062) == .duplicateKey)
        #expect(MySQLError.classify(3819) == .checkViolation)
        #expect(MySQLError.classify(4025) == .checkViolation)
        #expect(MySQLError.classify(2013) == .connectionLost)
        #expect(MySQLError.classify(1969) == .timeout)
    }
}
