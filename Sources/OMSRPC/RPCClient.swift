import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSCore
import OMSProto
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

    /// `@unchecked Sendable`: `lastCallID` is read and written only under the client's `state`
    /// lock, `spare` only on the event loop, everything else is immutable or locked.
    private final class Connection: @unchecked Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ClientConnectionHandler>
        /// The channel's allocator, read once (the channel's getter takes a lock).
        let allocator: ByteBufferAllocator
        /// Call ids are never reused on a connection, so a late reply cannot match a newer call.
        /// Guarded by `RPCClient.state`: one lock per call hands out the connection and the id.
        var lastCallID: UInt64 = 0
        /// Calls handed over by calling tasks, started on the event loop in batches: one
        /// `execute` (closure and wake-up) per batch instead of one per call.
        private let submissions = NIOLockedValueBox(Submissions())
        /// The drained batch's array, kept for its capacity (event loop only).
        private var spare: [ClientCall] = []

        private struct Submissions {
            var calls: [ClientCall] = []
            var drainScheduled = false
        }

        init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>) {
            self.channel = channel
            self.handler = handler
            self.allocator = channel.allocator
        }

        /// Hands a call (continuation set) to the event loop, which writes its frame.
        func submit(_ call: ClientCall) {
            let schedule = submissions.withLockedValue { submissions in
                submissions.calls.append(call)
                if submissions.drainScheduled { return false }
                submissions.drainScheduled = true
                return true
            }
            if schedule {
                channel.eventLoop.execute { self.startSubmitted() }
            }
        }

        private func startSubmitted() {
            var batch = spare
            spare = []
            submissions.withLockedValue { submissions in
                swap(&batch, &submissions.calls)
                submissions.drainScheduled = false
            }
            handler.value.startBatch(batch)
            batch.removeAll(keepingCapacity: true)
            spare = batch
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
    nonisolated(nonsending) public func unary(
        method: MethodDescriptor, request: [UInt8], options: CallOptions
    ) async throws -> [UInt8] {
        let serving = ServerContext.current
        // The caller's entries plus the transport's, without building a merged dictionary.
        var metadata = OutgoingMetadata(extra: options.metadata, authorization: authorization)
        if metadata.extra.isEmpty || metadata.extra[Metadata.Keys.requestID] == nil {
            metadata.requestID = serving?.requestID ?? Self.makeRequestID()
        }
        if metadata.extra.isEmpty || metadata.extra[Metadata.Keys.traceparent] == nil {
            metadata.traceparent = serving?.traceparent
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
        // The first attempt starts now: its time left is the whole timeout (no second clock read).
        var remaining = timeout
        while true {
            do {
                return try await attemptCall(
                    path: path, request: request, metadata: metadata, deadline: deadline, remaining: remaining)
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
                remaining = deadline.map { $0 - ContinuousClock.now }
                logger.debug("rpc retry", metadata: ["method": "\(path)", "attempt": "\(attempt)"])
            }
        }
    }

    /// - Parameters:
    ///   - deadline: When the call must have finished (nil: no deadline).
    ///   - remaining: Time left before `deadline` when this attempt starts.
    nonisolated(nonsending) private func attemptCall(
        path: String, request: [UInt8], metadata: OutgoingMetadata, deadline: ContinuousClock.Instant?,
        remaining: Duration?
    ) async throws -> [UInt8] {
        if Task.isCancelled { throw RPCError(.cancelled, "cancelled") }
        var remaining = remaining
        let connection: Connection
        let id: UInt64
        if let ready = readyConnection() {
            (connection, id) = ready
        } else {
            (connection, id) = try await self.connection(before: deadline)
            // Connecting (or waiting for it) took time.
            remaining = deadline.map { $0 - ContinuousClock.now }
        }
        var timeoutMs: UInt32 = 0
        var timeout: TimeAmount?
        if let remaining {
            guard remaining > .zero else { throw RPCError(.deadlineExceeded, "deadline exceeded") }
            timeoutMs = UInt32(clamping: max(remaining.millisecondsRoundedUp, 1))
            timeout = TimeAmount(remaining)
        }
        let buffer = metadata.withSortedEntries { entries in
            connection.allocator.callFrame(
                callID: id, method: path, timeoutMs: timeoutMs, metadata: entries, payload: request)
        }
        let size = buffer.readableBytes - FrameLengthPrefix.size
        guard size <= configuration.maximumFrameLength else {
            throw RPCError(.resourceExhausted, "request of \(size) bytes exceeds the frame limit")
        }
        let call = ClientCall(id: id, method: path, frame: buffer, timeout: timeout)
        let handler = connection.handler
        let loop = connection.channel.eventLoop
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                // Set before the call is handed over; the submission lock publishes it.
                call.continuation = continuation
                connection.submit(call)
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
        case use(Connection, callID: UInt64)
        case wait(EventLoopFuture<Connection>)
        case backoff(until: ContinuousClock.Instant)
        case connect(EventLoopPromise<Connection>)
        case closed
    }

    /// The common case, without suspending: the current connection and the id of the next call
    /// on it, under one lock (nil when there is no open connection or the client is closed).
    private func readyConnection() -> (Connection, UInt64)? {
        state.withLockedValue { state in
            guard !state.closed, let current = state.current else { return nil }
            return (current, Self.nextCallID(on: current))
        }
    }

    /// The current connection, or a new one (waiting out the reconnect backoff, within the
    /// deadline), and the id of the next call on it.
    nonisolated(nonsending) private func connection(
        before deadline: ContinuousClock.Instant?
    ) async throws -> (Connection, UInt64) {
        while true {
            let now = ContinuousClock.now
            let next = state.withLockedValue { state -> Next in
                if state.closed { return .closed }
                // The common case: one lock hands out the connection and the call id.
                if let current = state.current { return .use(current, callID: Self.nextCallID(on: current)) }
                if let connecting = state.connecting { return .wait(connecting) }
                if now < state.nextConnectAllowed { return .backoff(until: state.nextConnectAllowed) }
                let promise = group.any().makePromise(of: Connection.self)
                state.connecting = promise.futureResult
                return .connect(promise)
            }
            let connection: Connection
            switch next {
            case .use(let current, let id):
                return (current, id)
            case .closed:
                throw RPCError.connectionFailure("client is closed", wasSent: false)
            case .wait(let future):
                do {
                    connection = try await future.get()
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
                continue
            case .connect(let promise):
                promise.completeWithTask { try await self.connect() }
                do {
                    connection = try await promise.futureResult.get()
                } catch {
                    throw RPCError.connectionFailure("cannot connect to the server: \(error)", wasSent: false)
                }
            }
            let id = state.withLockedValue { _ in Self.nextCallID(on: connection) }
            return (connection, id)
        }
    }

    /// Call under the `state` lock.
    private static func nextCallID(on connection: Connection) -> UInt64 {
        connection.lastCallID &+= 1
        return connection.lastCallID
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
                        let handler = ClientConnectionHandler(
                            maximumFrameLength: maximumFrameLength, gauges: gauges, logger: logger
                        ) { detach(id) }
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

/// The metadata of one call as it goes on the wire: the caller's entries and the ones the
/// transport adds, kept apart so the common call (no caller metadata) builds no dictionary.
struct OutgoingMetadata: Sendable {
    /// The caller's entries, without `authorization` when the transport sets it.
    var extra: Metadata
    /// `authorization` (the transport's, which replaces the caller's).
    var authorization: String?
    /// `x-request-id`, when the caller's entries have none.
    var requestID: String?
    /// `traceparent`, when the caller's entries have none.
    var traceparent: String?

    init(extra: Metadata, authorization: String?) {
        var extra = extra
        if authorization != nil, !extra.isEmpty { extra[Metadata.Keys.authorization] = nil }
        self.extra = extra
        self.authorization = authorization
    }

    /// Hands `body` every entry, sorted by key (as the protobuf encoder writes map entries).
    /// - Parameter body: Reads the entries; must not keep the buffer.
    /// - Returns: What `body` returns.
    func withSortedEntries<R>(_ body: (UnsafeBufferPointer<RpcV1.MetadataEntry>) throws -> R) rethrows -> R {
        let count = extra.count + (authorization == nil ? 0 : 1) + (requestID == nil ? 0 : 1)
            + (traceparent == nil ? 0 : 1)
        if count == 0 { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try withUnsafeTemporaryAllocation(of: RpcV1.MetadataEntry.self, capacity: count) { buffer in
            var filled = 0
            func append(_ key: String, _ value: String) {
                (buffer.baseAddress! + filled).initialize(to: RpcV1.MetadataEntry(key: key, value: value))
                filled += 1
            }
            // Already in key order: authorization < traceparent < x-request-id.
            if let authorization { append(Metadata.Keys.authorization, authorization) }
            if let traceparent { append(Metadata.Keys.traceparent, traceparent) }
            if let requestID { append(Metadata.Keys.requestID, requestID) }
            for (key, value) in extra { append(key, value) }
            defer { buffer.baseAddress!.deinitialize(count: filled) }
            var entries = UnsafeMutableBufferPointer(rebasing: buffer[..<filled])
            if !extra.isEmpty { entries.sort { $0.key < $1.key } }
            return try body(UnsafeBufferPointer(entries))
        }
    }
}
