import Foundation
import OMSRedis
import OMSTestKit
import Testing

func withRedis<R>(
    poolSize: Int = 4, callerIsolation: isolated (any Actor)? = #isolation,
    _ body: (RedisClient, String) async throws -> R
) async throws -> R {
    var config = try TestEnvironment.load().redisConfiguration()
    config.poolSize = poolSize
    let prefix = "omstest:\(UInt64.random(in: 0...UInt64.max)):"
    config.clientName = "omstest-\(UInt32.random(in: 0...UInt32.max))"
    let client = RedisClient(configuration: config)
    func cleanup() async {
        if let keys = try? await client.send("KEYS", prefix + "*").array {
            for k in keys { if let b = k.bytes { _ = try? await client.send("DEL", b) } }
        }
        await client.shutdown()
    }
    do {
        let r = try await body(client, prefix)
        await cleanup()
        return r
    } catch {
        await cleanup()
        throw error
    }
}

@Suite("Redis against the local server")
struct RedisClientTests {
    @Test func urlParsing() throws {
        let c = try RedisConfiguration(url: "redis://:p%40ss@10.0.0.1:6390/3?pool=2&timeout=0.5")
        #expect(c.password == "p@ss")
        #expect(c.user == nil)
        #expect(c.host == "10.0.0.1")
        #expect(c.port == 6390)
        #expect(c.database == 3)
        #expect(c.poolSize == 2)
        #expect(c.commandTimeout == .milliseconds(500))
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "http://x") }
    }

    @Test("binary-safe values, typed replies and typed errors")
    func basics() async throws {
        try await withRedis { redis, prefix in
            #expect(try await redis.send("PING") == .simpleString("PONG"))
            let value: [UInt8] = [0, 1, 0, 255, 13, 10, 0] + Array("🛒".utf8)
            #expect(try await redis.send("SET", prefix + "bin\0key", value) == .simpleString("OK"))
            #expect(try await redis.send("GET", prefix + "bin\0key") == .bulk(value))
            #expect(try await redis.send("GET", prefix + "missing") == .null)
            #expect(try await redis.send("INCRBY", prefix + "n", 41) == .integer(41))
            try await redis.send("RPUSH", prefix + "list", "a", "b")
            #expect(
                try await redis.send("LRANGE", prefix + "list", 0, -1)
                    == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
            do {
                try await redis.send("INCR", prefix + "list")
                Issue.record("expected WRONGTYPE")
            } catch let e as RedisError {
                #expect(e.kind == .server)
                #expect(e.code == "WRONGTYPE")
            }
            // A command the server blocks on longer than its timeout fails typed; the client recovers.
            do {
                try await redis.send(RedisCommand("BLPOP", prefix + "empty", 2), timeout: .milliseconds(200))
                Issue.record("expected a timeout")
            } catch let e as RedisError {
                #expect(e.kind == .timeout, "\(e)")
            }
            #expect(try await redis.send("GET", prefix + "n") == .bulk(Array("41".utf8)))
        }
    }

    @Test("pipelining 1,000 commands in one round trip")
    func pipeline() async throws {
        try await withRedis { redis, prefix in
            let sets = (0..<1000).map { RedisCommand("SET", prefix + "p:\($0)", "v\($0)") }
            let replies = try await redis.pipeline(sets)
            #expect(replies.count == 1000)
            #expect(replies.allSatisfy { $0 == .simpleString("OK") })
            let gets = (0..<1000).map { RedisCommand("GET", prefix + "p:\($0)") }
            let values = try await redis.pipeline(gets + [RedisCommand("INCR", prefix + "p:1")])
            #expect(values.prefix(1000).enumerated().allSatisfy { $0.element.string == "v\($0.offset)" })
            if case .error(let message) = values[1000] {
                #expect(message.hasPrefix("ERR"))
            } else {
                Issue.record("expected error reply")
            }
        }
    }

    @Test("EVALSHA reloads the script after SCRIPT FLUSH")
    func scriptReload() async throws {
        try await withRedis { redis, prefix in
            let script = RedisScript(
                name: "add", version: 1,
                source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await redis.evalScript(script, keys: [prefix + "s"], args: [5]) == .integer(5))
            try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.evalScript(script, keys: [prefix + "s"], args: [2]) == .integer(7))
            let bad = RedisScript(name: "bad", version: 1, source: "return redis.call('INCR', KEYS[1])")
            try await redis.send("SET", prefix + "str", "x")
            await #expect(throws: RedisError.self) { try await redis.evalScript(bad, keys: [prefix + "str"], args: []) }
        }
    }

    @Test("pool connections killed by the server are replaced on next use")
    func reconnectAfterKill() async throws {
        try await withRedis(poolSize: 3) { redis, prefix in
            // Open all pool connections.
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<12 { g.addTask { try await redis.send("SET", prefix + "k\(i)", i) } }
                try await g.waitForAll()
            }
            // Kill exactly our connections (by client name) from another client; others' tests keep theirs.
            var killerConfig = redis.configuration
            killerConfig.clientName = "omstest-killer"
            let killer = RedisClient(configuration: killerConfig)
            let list = try await killer.send("CLIENT", "LIST").string ?? ""
            let ids = list.split(separator: "\n").filter { $0.contains(" name=\(redis.configuration.clientName) ") }
                .compactMap { line in
                    line.split(separator: " ").first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) }
                }
            #expect(ids.count == redis.stats.open)
            for id in ids { try await killer.send("CLIENT", "KILL", "ID", id) }
            await killer.shutdown()
            try await Task.sleep(for: .milliseconds(100))
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<12 {
                    g.addTask {
                        let value = try await redis.send("GET", prefix + "k\(i)")
                        #expect(value.string == "\(i)")
                    }
                }
                try await g.waitForAll()
            }
        }
    }
}
