import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSRPCCore

/// A client of one server address: one multiplexed connection reused by every call, opened on
/// first use and reopened (with jittered exponential backoff) after it is lost or sent GoAway.
///
/// ```swift
/// let client = RPCClient(configuration: .init(host: "127.0.0.1", port: 7101, authToken: token))
/// let inventory = InventoryV1.InventoryClient(transport: client)
/// ...
/// await client.close()
/// ```
public final class RPCClient: RPCClientTransport, Sendable {
    /// Where to connect and how to behave on failures.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Sent as `authorization: Bearer <token>` on every call (`nil` sends nothing).
        public var authToken: String?
        /// Deadline for calls whose options give none and that are not made inside a handler
        /// (which propagates its own remaining deadline). `nil`: no deadline.
        public var defaultTimeout: Duration?
        /// Largest frame sent or accepted; larger requests fail locally with 8.
        public var maximumFrameLength: Int
        /// How long one TCP connect may take.
        public var connectTimeout: Duration
        /// Delays between reconnects and between retries.
        public var backoff: Backoff
        /// Attempts per call, including the first (retries happen only on 14 UNAVAILABLE, only for
        /// idempotent calls or calls that never left this process, and within the deadline).
        public var maximumAttempts: Int

        /// - Parameters:
        ///   - host: Server host name or address.
        ///   - port: Server port.
        ///   - authToken: The suite token (`nil` sends no `authorization`).
        ///   - defaultTimeout: Deadline of calls that set none (default 30 s).
        ///   - maximumFrameLength: Frame size limit (default 4 MiB).
        ///   - connectTimeout: TCP connect timeout (default 5 s).
        ///   - backoff: Reconnect and retry delays.
        ///   - maximumAttempts: Attempts per call, first included (default 3).
        public init(
            host: String,
            port: Int,
            authToken: String?,
            defaultTimeout: Duration? = .seconds(30),
            maximumFrameLength: Int = FrameLengthPrefix.defaultMaximumFrameLength,
            connectTimeout: Duration = .seconds(5),
            backoff: Backoff = Backoff(),
            maximumAttempts: Int = 3
        ) {
            self.host = host
            self.port = port
            self.authToken = authToken
            self.defaultTimeout = defaultTimeout
            self.maximumFrameLength = maximumFrameLength
            self.connectTimeout = connectTimeout
            self.backoff = backoff
            self.maximumAttempts = maximumAttempts
        }
    }

    /// Jittered exponential backoff: attempt n waits `initial × multiplier^(n-1)`, capped at
    /// `maximum`, scaled by a random factor in `1 ± jitter`.
    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration
        public var multiplier: Double
        public var jitter: Double

        /// - Parameters:
        ///   - initial: First delay (default 50 ms).
        ///   - maximum: Largest delay (default 5 s).
        ///   - multiplier: Growth per attempt (default 2).
        ///   - jitter: Relative random spread, 0...1 (default 0.2).
        public init(
            initial: Duration = .milliseconds(50), maximum: Duration = .seconds(5), multiplier: Double = 2,
            jitter: Double = 0.2
        ) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
            self.jitter = min(max(jitter, 0), 1)
        }

        /// The delay before retry number `attempt` (1 for the first retry).
        /// - Parameter attempt: How many attempts have failed so far.
        public func delay(attempt: Int) -> Duration {
            let base = initial * pow(multiplier, Double(max(attempt - 1, 0)))
            let capped = min(base, maximum)
            let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter))
            return capped * factor
        }

        private func pow(_ base: Double, _ exponent: Double) -> Double {
            var result = 1.0
            var remaining = Int(min(exponent, 64))
            while remaining > 0 {
                result *= base
                remaining -= 1
            }
            return result
        }
    }

    private final class Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ClientConnectionHandler>
        private let callIDs = NIOLockedValueBox<UInt64>(0)

        init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>) {
            self.channel = channel
            self.handler = handler
        }

        /// Call ids are never reused on a connection, so a late reply cannot match a newer call.
        func nextCallID() -> UInt64 {
            callIDs.withLockedValue { id in
                id &+= 1
                return id
            }
        }
    }

    private struct State {
        var current: Connection?
        var connecting: EventLoopFuture<Connection>?
        var open: [ObjectIdentifier: Connection] = [:]
        var consecutiveFailures = 0
        var nextConnectAllowed = ContinuousClock.now
        var closed = false
    }

    /// The client's configuration.
    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let gauges = RPCGauges(side: .client)
    private let state = NIOLockedValueBox(State())
    private let authorization: String?

    /// Creates a client; the connection opens on the first call.
    /// - Parameters:
    ///   - configuration: Address, credentials, timeouts, retry policy.
    ///   - eventLoopGroup: Where the socket lives (default: NIO's shared singleton group).
    ///   - logger: Connection-level log.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "oms.rpc.client")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.authorization = configuration.authToken.map { "Bearer \($0)" }
    }

    /// Closes every connection; calls in flight fail with 14 and new calls are refused.
    public func close() async {
        let connections = state.withLockedValue { state -> [Connection] in
            state.closed = true
            state.current = nil
            return Array(state.open.values)
        }
        for connection in connections {
            try? await connection.channel.close()
        }
    }

    // MARK: Calls

    /// Sends one unary call and waits for its reply.
    ///
    /// Adds `authorization`, `x-request-id` (the serving call's, or a new one) and `traceparent`
    /// (when called from inside a handler); the deadline is the smallest of `options.timeout`,
    /// the serving call's remaining deadline, and `configuration.defaultTimeout` (when neither
    /// is set).
    /// - Parameters:
    ///   - method: The method to call.
    ///   - request: The protobuf-encoded request.
    ///   - options: Timeout, extra metadata, idempotency.
    /// - Returns: The protobuf-encoded response.
    /// - Throws: `RPCError` with the server's code, or 4 (deadline passed), 1 (task cancelled),
    ///   14 (no connection, or it was lost before the reply), 8 (request larger than the limit).
    public func unary(method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> [UInt8] {
        let serving = ServerContext.current
        var metadata = options.metadata
        if let authorization { metadata[Metadata.Keys.authorization] = authorization }
        if metadata[Metadata.Keys.requestID] == nil {
            metadata[Metadata.Keys.requestID] = serving?.requestID ?? Self.makeRequestID()
        }
        if metadata[Metadata.Keys.traceparent] == nil, let traceparent = serving?.traceparent {
            metadata[Metadata.Keys.traceparent] = traceparent
        }
        var timeout = options.timeout
        if let remaining = serving?.remaining {
            timeout = min(timeout ?? remaining, remaining)
        } else if timeout == nil {
            timeout = configuration.defaultTimeout
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let idempotent = options.idempotent ?? method.idempotent
        let path = method.path

        var attempt = 1
        while true {
            do {
                return try await attemptCall(path: path, request: request, metadata: metadata, deadline: deadline)
            } catch let error as RPCError where error.code == .unavailable {
                guard idempotent || error.wasNeverSent, attempt < configuration.maximumAttempts else { throw error }
                let delay = configuration.backoff.delay(attempt: attempt)
                if let deadline, ContinuousClock.now + delay >= deadline { throw error }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw RPCError(.cancelled, "cancelled")
                }
                attempt += 1
                logger.debug("rpc retry", metadata: ["method": "\(path)", "attempt": "\(attempt)"])
            }
        }
    }

    private func attemptCall(
        path: String, request: [UInt8], metadata: Metadata, deadline: ContinuousClock.Instant?
    ) async throws -> [UInt8] {
        if Task.isCancelled { throw RPCError(.cancelled, "cancelled") }
        let connection = try await connection(before: deadline)
        var timeoutMs: UInt32 = 0
        var timeout: TimeAmount?
        if let deadline {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw RPCError(.deadlineExceeded, "deadline exceeded") }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            timeoutMs = UInt32(clamping: max(milliseconds, 1))
            timeout = TimeAmount(remaining)
        }
        let id = connection.nextCallID()
        let frame = RPCFrame(
            callID: id,
            kind: .call(.init(method: path, timeoutMs: timeoutMs, metadata: metadata, payload: request)))
        let buffer = connection.channel.allocator.buffer(frame: frame)
        let size = buffer.readableBytes - FrameLengthPrefix.size
        guard size <= configuration.maximumFrameLength else {
            throw RPCError(.resourceExhausted, "request of \(size) bytes exceeds the frame limit")
        }
        let call = ClientCall(id: id, method: path)
        let handler = connection.handler
        let loop = connection.channel.eventLoop
        let callTimeout = timeout
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                loop.execute {
                    call.continuation = continuation
                    handler.value.start(call, frame: buffer, timeout: callTimeout)
                }
            }
        } onCancel: {
            loop.execute { handler.value.cancel(call) }
        }
    }

    private static func makeRequestID() -> String {
        RequestIDGenerator.shared.next()
    }

    // MARK: Connection management

    private enum Next {
        case use(Connection)
        case wait(EventLoopFuture<Connection>)
        case backoff(until: ContinuousClock.Instant)
        case connect(EventLoopPromise<Connection>)
        case closed
    }

    /// The current connection, or a new one (waiting out the reconnect backoff, within the deadline).
    private func connection(before deadline: ContinuousClock.Instant?) async throws -> Connection {
        while true {
            let now = ContinuousClock.now
            let next = state.withLockedValue { state -> Next in
                if state.closed { return .closed }
                if let current = state.current { return .use(current) }
                if let connecting = state.connecting { return .wait(connecting) }
                if now < state.nextConnectAllowed { return .backoff(until: state.nextConnectAllowed) }
                let promise = group.any().makePromise(of: Connection.self)
                state.connecting = promise.futureResult
                return .connect(promise)
            }
            switch next {
            case .use(let connection):
                return connection
            case .closed:
                throw RPCError.connectionFailure("client is closed", wasSent: false)
            case .wait(let future):
                do {
                    return try await future.get()
                } catch {
                    throw RPCError.connectionFailure("cannot connect to the server: \(error)", wasSent: false)
                }
            case .backoff(let until):
                if let deadline, until >= deadline {
                    throw RPCError.connectionFailure("server unavailable (reconnect backoff)", wasSent: false)
                }
                do {
                    try await Task.sleep(until: until)
                } catch {
                    throw RPCError(.cancelled, "cancelled")
                }
            case .connect(let promise):
                promise.completeWithTask { try await self.connect() }
                do {
                    let connection = try await promise.futureResult.get()
                    return connection
                } catch {
                    throw RPCError.connectionFailure("cannot connect to the server: \(error)", wasSent: false)
                }
            }
        }
    }

    private func connect() async throws -> Connection {
        let gauges = self.gauges
        let logger = self.logger
        let maximumFrameLength = configuration.maximumFrameLength
        let detach: @Sendable (ObjectIdentifier) -> Void = { [weak self] id in self?.detach(id) }
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let id = ObjectIdentifier(channel)
                        let handler = ClientConnectionHandler(gauges: gauges, logger: logger) { detach(id) }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(RPCFrameDecoder(maximumFrameLength: maximumFrameLength)))
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self),
                    eventLoop: channel.eventLoop)
            }.get()
            let connection = Connection(channel: channel, handler: handler)
            let id = ObjectIdentifier(channel)
            let closed = state.withLockedValue { state -> Bool in
                state.connecting = nil
                state.consecutiveFailures = 0
                if state.closed { return true }
                state.current = connection
                state.open[id] = connection
                return false
            }
            if closed {
                try? await channel.close()
                throw RPCError.connectionFailure("client is closed", wasSent: false)
            }
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { state in
                    state.open.removeValue(forKey: id)
                    if state.current.map({ ObjectIdentifier($0.channel) }) == id { state.current = nil }
                }
            }
            logger.debug("rpc client connected", metadata: ["remote": "\(channel.remoteAddress.map { "\($0)" } ?? "")"])
            return connection
        } catch {
            let failures = state.withLockedValue { state -> Int in
                state.connecting = nil
                state.consecutiveFailures += 1
                state.nextConnectAllowed =
                    .now + configuration.backoff.delay(attempt: state.consecutiveFailures)
                return state.consecutiveFailures
            }
            logger.debug(
                "rpc client connect failed",
                metadata: ["error": "\(error)", "failures": "\(failures)", "host": "\(configuration.host)"])
            throw error
        }
    }

    /// A connection that was lost or sent GoAway: new calls go to a new connection.
    private func detach(_ id: ObjectIdentifier) {
        state.withLockedValue { state in
            if let current = state.current, ObjectIdentifier(current.channel) == id {
                state.current = nil
            }
        }
    }
}
