import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSCore

/// One pooled Redis connection with its own worker thread; blocking hiredis calls run only there.
public final class RedisConnection: Sendable {
    let session: RedisSession
    private let worker: NIOThreadPool

    init(configuration: RedisConfiguration, logger: Logger) {
        session = RedisSession(configuration: configuration, logger: logger)
        worker = NIOThreadPool(numberOfThreads: 1)
        worker.start()
    }

    func perform<T: Sendable>(_ body: @escaping @Sendable (RedisSession) throws -> T) async throws -> T {
        let session = self.session
        do {
            return try await worker.runIfActive { try body(session) }
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw RedisError(kind: .closed, message: "the connection was closed")
        }
    }

    func close() async {
        _ = try? await worker.runIfActive { [session] in session.drop() }
        try? await worker.shutdownGracefully()
    }

    /// Sends one command; an error reply is thrown as `RedisError` of kind `.server`.
    /// - Parameters:
    ///   - command: the command.
    ///   - timeout: timeout for this command (default: the configuration's).
    /// - Throws: `RedisError`.
    @discardableResult
    public func send(_ command: RedisCommand, timeout: Duration? = nil) async throws -> RedisValue {
        let words = command.arguments
        let reply = try await perform { try $0.run([words], timeout: timeout)[0] }
        if case .error(let message) = reply { throw RedisError(kind: .server, message: message) }
        return reply
    }

    /// Sends every command, then reads every reply (one round trip). Error replies are returned as
    /// `.error` values in their positions, not thrown.
    /// - Parameters:
    ///   - commands: the commands.
    ///   - timeout: timeout for reading each reply.
    /// - Throws: `RedisError` for connection, timeout or protocol failures.
    public func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let words = commands.map(\.arguments)
        return try await perform { try $0.run(words, timeout: timeout) }
    }
}

/// A snapshot of a Redis pool's counters.
public struct RedisPoolStats: Sendable, Hashable {
    /// Most connections.
    public var size: Int
    /// Connections open.
    public var open: Int
    /// Connections leased now.
    public var inUse: Int
    /// Callers waiting now.
    public var waiters: Int
}

/// A pool of Redis connections with typed commands, pipelining and Lua scripts.
///
/// A connection the server closed while idle (restart, `CLIENT KILL`) is replaced transparently before its
/// next command. A command that fails mid-flight throws (`.connection`/`.timeout`) and is not resent, since it
/// may have run; the next command gets a fresh connection.
public final class RedisClient: Sendable {
    private struct State {
        var idle: [RedisConnection] = []
        var open = 0
        var inUse = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<RedisConnection?, Error>)] = []
        var nextID: UInt64 = 0
        var closed = false
    }

    /// The configuration.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let scriptSHAs = NIOLockedValueBox<[String: String]>([:])

    /// Creates a client; connections open on first use.
    /// - Parameters:
    ///   - configuration: server and pool settings.
    ///   - logger: logger.
    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "oms.redis")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Current counters.
    public var stats: RedisPoolStats {
        state.withLockedValue {
            RedisPoolStats(size: configuration.poolSize, open: $0.open, inUse: $0.inUse, waiters: $0.waiters.count)
        }
    }

    private func lease() async throws -> RedisConnection {
        enum Action {
            case use(RedisConnection)
            case create
            case wait(UInt64)
        }
        let action: Action = try state.withLockedValue { s in
            if s.closed { throw RedisError(kind: .closed, message: "the client is shut down") }
            if let c = s.idle.popLast() {
                s.inUse += 1
                return .use(c)
            }
            if s.open < configuration.poolSize {
                s.open += 1
                s.inUse += 1
                return .create
            }
            s.nextID += 1
            return .wait(s.nextID)
        }
        switch action {
        case .use(let c): return c
        case .create: return RedisConnection(configuration: configuration, logger: logger)
        case .wait(let id):
            let granted: RedisConnection? = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (cont: CheckedContinuation<RedisConnection?, Error>) in
                    let immediate: Result<RedisConnection?, Error>? = state.withLockedValue { s in
                        if s.closed { return .failure(RedisError(kind: .closed, message: "the client is shut down")) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        if let c = s.idle.popLast() {
                            s.inUse += 1
                            return .success(c)
                        }
                        s.waiters.append((id, cont))
                        return nil
                    }
                    if let immediate { cont.resume(with: immediate) }
                }
            } onCancel: {
                let w = state.withLockedValue { s -> CheckedContinuation<RedisConnection?, Error>? in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.waiters.remove(at: i).continuation
                }
                w?.resume(throwing: CancellationError())
            }
            return granted ?? RedisConnection(configuration: configuration, logger: logger)
        }
    }

    private func release(_ c: RedisConnection) async {
        let (waiter, close) = state.withLockedValue { s -> (CheckedContinuation<RedisConnection?, Error>?, Bool) in
            if s.closed {
                s.inUse -= 1
                s.open -= 1
                return (nil, true)
            }
            if !s.waiters.isEmpty { return (s.waiters.removeFirst().continuation, false) }
            s.inUse -= 1
            s.idle.append(c)
            return (nil, false)
        }
        if let waiter { waiter.resume(returning: c) }
        if close { await c.close() }
    }

    /// Leases a connection for `body` (e.g. for MULTI/EXEC or WATCH, which need one connection).
    /// - Parameters:
    ///   - callerIsolation: the caller's actor (filled in automatically).
    ///   - body: work with the connection; do not keep it after returning.
    /// - Throws: `RedisError` or what `body` throws.
    @discardableResult
    public func withConnection<R>(
        callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (RedisConnection) async throws -> R
    ) async throws -> R {
        try await withScopedLease(acquire: lease, release: release, body)
    }

    /// Sends one command: `try await redis.send("SET", key, value)`.
    /// - Parameters:
    ///   - name: command name.
    ///   - arguments: binary-safe arguments.
    /// - Returns: the reply.
    /// - Throws: `RedisError`; an error reply is thrown as kind `.server`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisValue {
        try await send(RedisCommand(name, arguments))
    }

    /// Sends one command.
    /// - Parameters:
    ///   - command: the command.
    ///   - timeout: timeout for this command.
    /// - Returns: the reply.
    /// - Throws: `RedisError`; an error reply is thrown as kind `.server`.
    @discardableResult
    public func send(_ command: RedisCommand, timeout: Duration? = nil) async throws -> RedisValue {
        try await withConnection { try await $0.send(command, timeout: timeout) }
    }

    /// Sends the commands in one round trip on one connection and returns one reply each; error replies are
    /// `.error` values in place.
    /// - Parameters:
    ///   - commands: the commands.
    ///   - timeout: timeout for each reply.
    /// - Throws: `RedisError` for connection, timeout or protocol failures.
    public func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws -> [RedisValue] {
        try await withConnection { try await $0.pipeline(commands, timeout: timeout) }
    }

    /// Runs a Lua script with EVALSHA, loading it (SCRIPT LOAD) first when its SHA is not known yet and again
    /// when Redis answers NOSCRIPT (restarted or flushed).
    /// - Parameters:
    ///   - script: the script.
    ///   - keys: KEYS.
    ///   - args: ARGV.
    ///   - timeout: timeout for each command.
    /// - Returns: the script's reply.
    /// - Throws: `RedisError`; a script error is kind `.server`.
    @discardableResult
    public func evalScript(
        _ script: RedisScript, keys: [any RedisArgument], args: [any RedisArgument], timeout: Duration? = nil
    ) async throws -> RedisValue {
        let cacheKey = "\(script.name)@\(script.version)"
        var sha: String
        if let known = scriptSHAs.withLockedValue({ $0[cacheKey] }) {
            sha = known
        } else {
            sha = try await load(script, cacheKey: cacheKey, timeout: timeout)
        }
        let rest: [any RedisArgument] = [keys.count] + keys + args
        do {
            return try await send(RedisCommand("EVALSHA", [sha] + rest), timeout: timeout)
        } catch let e as RedisError where e.code == "NOSCRIPT" {
            logger.info("redis script missing; reloading", metadata: ["script": "\(cacheKey)"])
            sha = try await load(script, cacheKey: cacheKey, timeout: timeout)
            return try await send(RedisCommand("EVALSHA", [sha] + rest), timeout: timeout)
        }
    }

    private func load(_ script: RedisScript, cacheKey: String, timeout: Duration?) async throws -> String {
        let reply = try await send(RedisCommand("SCRIPT", "LOAD", script.source), timeout: timeout)
        guard let sha = reply.string else {
            throw RedisError(kind: .protocol, message: "SCRIPT LOAD returned \(reply)")
        }
        scriptSHAs.withLockedValue { $0[cacheKey] = sha }
        return sha
    }

    /// Closes idle connections now and leased ones when they come back; waiters fail with `.closed`.
    public func shutdown() async {
        let (idle, waiters) = state.withLockedValue {
            s -> ([RedisConnection], [CheckedContinuation<RedisConnection?, Error>]) in
            s.closed = true
            let idle = s.idle
            s.open -= idle.count
            s.idle.removeAll()
            let w = s.waiters.map(\.continuation)
            s.waiters.removeAll()
            return (idle, w)
        }
        for w in waiters { w.resume(throwing: RedisError(kind: .closed, message: "the client is shut down")) }
        for c in idle { await c.close() }
    }
}
