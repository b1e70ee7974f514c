import CHiredis
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ignore SIGPIPE once per process: hiredis writes with `write(2)`, which raises it on a closed socket.
let redisIgnoreSIGPIPE: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return true
}()

/// Owns one `redisContext*`; frees it in deinit.
///
/// Not Sendable: used only on its connection's worker thread.
final class RedisContextHandle {
    let context: UnsafeMutablePointer<redisContext>

    init(_ context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    var errorText: String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The context's error as a `RedisError`.
    var error: RedisError {
        let text = errorText
        switch context.pointee.err {
        case REDIS_ERR_IO where text.contains("temporarily unavailable") || text.contains("timed out"):
            return RedisError(kind: .timeout, message: text)
        case REDIS_ERR_PROTOCOL:
            return RedisError(kind: .protocol, message: text)
        default:
            return RedisError(kind: .connection, message: text.isEmpty ? "connection error" : text)
        }
    }
}

extension Duration {
    var cTimeval: timeval {
        let (s, a) = components
        return timeval(tv_sec: .init(s), tv_usec: .init(a / 1_000_000_000_000))
    }
}

/// One Redis connection's state. `@unchecked Sendable`: confined to its `RedisConnection`'s single worker
/// thread; every call arrives through that thread's work items.
final class RedisSession: @unchecked Sendable {
    let configuration: RedisConfiguration
    let logger: Logger
    private var handle: RedisContextHandle?
    private var appliedTimeout: Duration?
    private(set) var connectCount = 0

    init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    func drop() {
        handle = nil
        appliedTimeout = nil
    }

    func connect() throws {
        _ = redisIgnoreSIGPIPE
        drop()
        let c = configuration
        let raw: UnsafeMutablePointer<redisContext>?
        if let path = c.unixSocket {
            raw = redisConnectUnixWithTimeout(path, c.connectTimeout.cTimeval)
        } else {
            raw = redisConnectWithTimeout(c.host, Int32(c.port), c.connectTimeout.cTimeval)
        }
        guard let raw else { throw RedisError(kind: .connection, message: "cannot allocate redis context") }
        let h = RedisContextHandle(raw)
        if raw.pointee.err != 0 {
            throw RedisError(kind: .connection, message: "connect to \(c.host):\(c.port): \(h.errorText)")
        }
        handle = h
        var setup: [[[UInt8]]] = []
        if let password = c.password {
            setup.append(
                c.user.map { [Array("AUTH".utf8), Array($0.utf8), Array(password.utf8)] }
                    ?? [Array("AUTH".utf8), Array(password.utf8)])
        }
        if c.database != 0 { setup.append([Array("SELECT".utf8), Array(String(c.database).utf8)]) }
        if !c.clientName.isEmpty {
            setup.append([Array("CLIENT".utf8), Array("SETNAME".utf8), Array(c.clientName.utf8)])
        }
        if !setup.isEmpty {
            let replies = try roundTrip(h, setup, timeout: c.connectTimeout)
            for case .error(let message) in replies {
                drop()
                throw RedisError(kind: .connection, message: "connection setup failed: \(message)")
            }
        }
        connectCount += 1
        if connectCount > 1 { logger.info("redis reconnected", metadata: ["connects": "\(connectCount)"]) }
    }

    /// An idle connection has nothing to read; readability means the server closed it.
    private func isDeadWhileIdle(_ h: RedisContextHandle) -> Bool {
        var p = pollfd(fd: h.context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) != 0
    }

    private func usable() throws -> RedisContextHandle {
        if let h = handle, !isDeadWhileIdle(h) { return h }
        try connect()
        return handle!
    }

    /// Sends the commands back to back, then reads one reply per command (pipelining).
    func run(_ commands: [[[UInt8]]], timeout: Duration?) throws -> [RedisValue] {
        let h = try usable()
        return try roundTrip(h, commands, timeout: timeout ?? configuration.commandTimeout)
    }

    private func roundTrip(_ h: RedisContextHandle, _ commands: [[[UInt8]]], timeout: Duration) throws -> [RedisValue] {
        if appliedTimeout != timeout {
            guard redisSetTimeout(h.context, timeout.cTimeval) == REDIS_OK else {
                let e = h.error
                drop()
                throw e
            }
            appliedTimeout = timeout
        }
        for command in commands {
            let rc = Self.withArgv(command) { argc, argv, lengths in
                redisAppendCommandArgv(h.context, argc, argv, lengths)
            }
            guard rc == REDIS_OK else {
                let e = h.error
                drop()
                throw e
            }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var reply: UnsafeMutableRawPointer?
            guard redisGetReply(h.context, &reply) == REDIS_OK, let reply else {
                let e = h.error
                drop()  // a partial exchange leaves the stream unusable
                throw e
            }
            let r = reply.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(r))
            freeReplyObject(reply)
        }
        return replies
    }

    private static func withArgv<R>(
        _ words: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var flat: [UInt8] = []
        flat.reserveCapacity(words.reduce(0) { $0 + $1.count } + 1)
        var offsets: [Int] = []
        var lengths: [Int] = []
        for w in words {
            offsets.append(flat.count)
            lengths.append(w.count)
            flat.append(contentsOf: w)
        }
        flat.append(0)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { av in
                lengths.withUnsafeBufferPointer { lp in body(Int32(words.count), av.baseAddress!, lp.baseAddress!) }
            }
        }
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let reply = r.pointee
        func bytes() -> [UInt8] {
            guard let s = reply.str, reply.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: Int(reply.len)))
        }
        switch reply.type {
        case REDIS_REPLY_STRING: return .bulk(bytes())
        case REDIS_REPLY_STATUS: return .simpleString(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(reply.integer)
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = reply.element else { return .array([]) }
            return .array((0..<Int(reply.elements)).map { convert(elements[$0]!) })
        default: return .error("PROTOCOL unknown reply type \(reply.type)")
        }
    }
}
