import CHiredis
import CMySQLClient
import CProtobufC
import Foundation
import OMSMySQL
import OMSRedis
import OMSTestKit
import Testing

/// Each C library links and talks to the real server, without the Swift wrappers.
@Suite("C libraries")
struct CLibrariesSmokeTests {
    @Test("libmysqlclient: SELECT VERSION() on MariaDB")
    func mysqlVersion() throws {
        let config = try TestEnvironment.load().adminConfiguration()
        #expect(mysql_server_init(0, nil, nil) == 0)
        let mysql = try #require(mysql_init(nil))
        defer { mysql_close(mysql) }
        let connected = mysql_real_connect(
            mysql, config.host, config.user, config.password, nil, UInt32(config.port), nil, 0)
        try #require(connected != nil, "connect failed: \(String(cString: mysql_error(mysql)))")
        #expect(mysql_query(mysql, "SELECT VERSION()") == 0)
        let result = try #require(mysql_store_result(mysql))
        defer { mysql_free_result(result) }
        let row = try #require(mysql_fetch_row(result))
        let version = String(cString: try #require(row[0]))
        #expect(version.contains("MariaDB"), "version: \(version)")
    }

    @Test("hiredis: AUTH and PING")
    func hiredisPing() throws {
        let config = try TestEnvironment.load().redisConfiguration()
        let context = try #require(redisConnect(config.host, Int32(config.port)))
        defer { redisFree(context) }
        #expect(context.pointee.err == 0)
        func command(_ words: [String]) -> (Int32, String) {
            var cStrings = words.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            var lengths = words.map { $0.utf8.count }
            let raw = cStrings.withUnsafeMutableBufferPointer { argv in
                argv.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: words.count) { p in
                    redisCommandArgv(context, Int32(words.count), p, &lengths)
                }
            }
            guard let raw else { return (-1, "") }
            defer { freeReplyObject(raw) }
            let reply = raw.assumingMemoryBound(to: redisReply.self).pointee
            return (reply.type, reply.str.map { String(cString: $0) } ?? "")
        }
        if let password = config.password {
            let (type, text) = command(["AUTH", password])
            #expect(type == REDIS_REPLY_STATUS && text == "OK", "AUTH: \(text)")
        }
        let (type, text) = command(["PING"])
        #expect(type == REDIS_REPLY_STATUS)
        #expect(text == "PONG")
    }

    @Test("protobuf-c: protobuf_c_version()")
    func protobufVersion() throws {
        let version = String(cString: try #require(protobuf_c_version()))
        #expect(!version.isEmpty)
        #expect(protobuf_c_version_number() > 1_000_000)
    }
}
