import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSRPCCore
import ServiceLifecycle

/// The RPC server of one service process: accepts connections, routes calls to the registered
/// services, and shuts down gracefully (GoAway, drain, close).
///
/// Put it into a `ServiceGroup`; `run()` serves until graceful shutdown is requested:
/// ```swift
/// let server = RPCServer(
///     configuration: .init(host: "0.0.0.0", port: 7101, authToken: token),
///     services: [InventoryService(...)],
///     logger: logger)
/// let group = ServiceGroup(services: [server, pool], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public final class RPCServer: Service, Sendable {
    /// Listening address, limits and credentials of a server.
    public struct Configuration: Sendable {
        /// Interface to bind (`127.0.0.1`, `0.0.0.0`, `::`).
        public var host: String
        /// TCP port; 0 picks a free one (see `localAddress`).
        public var port: Int
        /// Largest accepted frame length N; a larger prefix is a connection error (call 0, code 8).
        public var maximumFrameLength: Int
        /// Largest frame length N accepted before the connection has shown a valid token (a call
        /// that passed authentication with it): an unauthenticated peer can make the server hold
        /// at most this much per connection. Only in force when `authToken` is set.
        public var maximumUnauthenticatedFrameLength: Int
        /// How long a frame that has begun may take to arrive whole; after that the connection
        /// gets a connection error (call 0, code 4) and is closed. Zero disables the limit.
        public var frameTimeout: Duration
        /// Bytes of incomplete frames the server holds for all its connections together; a read
        /// that would take it past this is a connection error (call 0, code 8) for that connection.
        public var maximumIncompleteFrameBytes: Int
        /// Connections open at once; beyond it a new connection gets a connection error
        /// (call 0, code 8) and is closed.
        public var maximumConnections: Int
        /// Calls in flight on one connection; beyond it a call is answered 8 RESOURCE_EXHAUSTED.
        public var maximumCallsInFlightPerConnection: Int
        /// A connection with no call in flight that receives no complete frame for this long is
        /// sent GoAway and closed. Zero disables the timer.
        public var idleTimeout: Duration
        /// The suite token every call but those in `publicMethods` must present as
        /// `authorization: Bearer <token>`. `nil` turns authentication off (tests only).
        public var authToken: String?
        /// Method paths served without credentials: the service kit puts its health check here
        /// (load balancers and probes hold no token). Empty by default.
        public var publicMethods: Set<String>
        /// How long graceful shutdown waits for calls in flight before it cancels them.
        public var drainTimeout: Duration
        /// Where handler tasks run.
        public var handlerExecution: HandlerExecution

        /// Where handler tasks run.
        public enum HandlerExecution: Sendable, Hashable {
            /// On the connection's event loop (a Swift task executor preference): no thread hop
            /// per call. Handlers must never block; they may await freely (awaits of work on
            /// other executors hop there and back as usual).
            case eventLoop
            /// Started on the connection's event loop, inside the read that delivered the call,
            /// and run there until the handler first suspends; after that on Swift's global
            /// concurrent executor, and the reply comes back to the loop with one hop. A handler
            /// that never suspends costs no hop and no executor bookkeeping; one that awaits
            /// storage spreads the rest of its work over every core. Handlers must not block
            /// before their first suspension.
            case immediate
            /// On Swift's global concurrent executor: tolerates CPU-heavy handlers, costs two
            /// thread hops per call.
            case globalExecutor
        }

        /// - Parameters:
        ///   - host: Interface to bind.
        ///   - port: TCP port (0 = any free port).
        ///   - authToken: The suite token (`nil` disables authentication).
        ///   - publicMethods: Method paths that need no credentials (default none).
        ///   - maximumFrameLength: Largest accepted N (default 4 MiB).
        ///   - maximumUnauthenticatedFrameLength: Largest N before a valid token (default 256 KiB).
        ///   - frameTimeout: Time for a begun frame to arrive whole (default 10 s).
        ///   - maximumIncompleteFrameBytes: Budget for bytes of incomplete frames (default 64 MiB).
        ///   - maximumConnections: Open connections allowed (default 1024).
        ///   - maximumCallsInFlightPerConnection: Concurrent calls per connection (default 1024).
        ///   - idleTimeout: Idle connection lifetime (default 5 minutes).
        ///   - drainTimeout: Grace period of a graceful shutdown (default 30 s).
        ///   - handlerExecution: Where handler tasks run (default: the connection's event loop).
        public init(
            host: String = "127.0.0.1",
            port: Int = 0,
            authToken: String?,
            publicMethods: Set<String> = [],
            maximumFrameLength: Int = FrameLengthPrefix.defaultMaximumFrameLength,
            maximumUnauthenticatedFrameLength: Int = 256 << 10,
            frameTimeout: Duration = .seconds(10),
            maximumIncompleteFrameBytes: Int = 64 << 20,
            maximumConnections: Int = 1024,
            maximumCallsInFlightPerConnection: Int = 1024,
            idleTimeout: Duration = .seconds(300),
            drainTimeout: Duration = .seconds(30),
            handlerExecution: HandlerExecution = .eventLoop
        ) {
            self.host = host
            self.port = port
            self.authToken = authToken
            self.publicMethods = publicMethods
            self.maximumFrameLength = maximumFrameLength
            self.maximumUnauthenticatedFrameLength = maximumUnauthenticatedFrameLength
            self.frameTimeout = frameTimeout
            self.maximumIncompleteFrameBytes = maximumIncompleteFrameBytes
            self.maximumConnections = maximumConnections
            self.maximumCallsInFlightPerConnection = maximumCallsInFlightPerConnection
            self.idleTimeout = idleTimeout
            self.drainTimeout = drainTimeout
            self.handlerExecution = handlerExecution
        }
    }

    private struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ServerConnectionHandler>
    }

    private enum Phase {
        case idle
        case starting
        case running(any Channel)
        case draining
        case stopped
    }

    private struct State {
        var phase: Phase = .idle
        var connections: [ObjectIdentifier: Connection] = [:]
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var localAddress: SocketAddress?
    }

    /// The server's configuration.
    public let configuration: Configuration
    private let shared: ServerShared
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    /// Creates a server; nothing listens until `start()` or `run()`.
    /// - Parameters:
    ///   - configuration: Address, limits and credentials.
    ///   - services: The services to serve (generated service protocols conform to `RPCService`).
    ///   - eventLoopGroup: Where the sockets live (default: NIO's shared singleton group).
    ///   - logger: Structured log of connections and calls.
    public init(
        configuration: Configuration,
        services: [any RPCService],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "oms.rpc.server")
    ) {
        var router = RPCRouter()
        for service in services {
            service.registerMethods(with: &router)
        }
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.shared = ServerShared(router: router, configuration: configuration, logger: logger)
    }

    /// Bytes of incomplete frames held for all connections now (bounded by
    /// `maximumIncompleteFrameBytes`).
    public var incompleteFrameBytes: Int { shared.incompleteFrameBytes.withLockedValue { $0 } }

    /// The bound address once `start()` has returned (useful with port 0).
    public var localAddress: SocketAddress? {
        state.withLockedValue { $0.localAddress }
    }

    /// Binds the listening socket and starts accepting connections.
    /// - Returns: The bound address.
    /// - Throws: When the server was already started, or binding fails.
    @discardableResult
    public func start() async throws -> SocketAddress {
        try state.withLockedValue { state in
            guard case .idle = state.phase else { throw RPCServerError.alreadyStarted }
            state.phase = .starting
        }
        let channel: any Channel
        do {
            channel = try await makeBootstrap().bind(host: configuration.host, port: configuration.port).get()
        } catch {
            state.withLockedValue { $0.phase = .idle }
            throw error
        }
        let address = channel.localAddress
        let stillWanted = state.withLockedValue { state -> Bool in
            guard case .starting = state.phase else { return false }
            state.phase = .running(channel)
            state.localAddress = address
            return true
        }
        guard stillWanted, let address else {
            try? await channel.close()
            throw RPCServerError.alreadyStarted
        }
        logger.info("rpc server listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Serves until graceful shutdown (GoAway, drain, close) or until the task is cancelled
    /// (calls in flight are cancelled, connections closed at once).
    /// - Throws: When the socket cannot be bound.
    public func run() async throws {
        let needsStart = state.withLockedValue { state -> Bool in
            if case .idle = state.phase { return true }
            return false
        }
        if needsStart { try await start() }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await waitUntilStopped()
            } onGracefulShutdown: {
                Task { await self.shutdownGracefully() }
            }
        } onCancel: {
            Task { await self.shutdown(drainTimeout: .zero) }
        }
    }

    /// Stops accepting, sends GoAway to every connection, lets calls in flight finish (up to
    /// `configuration.drainTimeout`), then closes. Returns when every connection is closed.
    public func shutdownGracefully() async {
        await shutdown(drainTimeout: configuration.drainTimeout)
    }

    private func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { state -> Bool in
                if case .stopped = state.phase { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func shutdown(drainTimeout: Duration) async {
        enum Action {
            case drain(listener: (any Channel)?, connections: [Connection])
            case wait
        }
        let action = state.withLockedValue { state -> Action in
            switch state.phase {
            case .idle, .starting:
                state.phase = .draining
                return .drain(listener: nil, connections: [])
            case .running(let listener):
                state.phase = .draining
                return .drain(listener: listener, connections: Array(state.connections.values))
            case .draining, .stopped:
                return .wait
            }
        }
        guard case .drain(let listener, let connections) = action else {
            if drainTimeout == .zero {
                // A cancelled run() must not wait for a slower graceful drain.
                forceCloseAll()
            }
            await waitUntilStopped()
            return
        }
        logger.info("rpc server draining", metadata: ["connections": "\(connections.count)"])
        try? await listener?.close()
        for connection in connections {
            connection.channel.eventLoop.execute {
                connection.handler.value.goAwayAndDrain(reason: "server shutting down")
            }
        }
        let allClosed = EventLoopFuture.andAllComplete(
            connections.map { $0.channel.closeFuture }, on: group.any())
        // The timer lives on an event loop: waiting on `allClosed` is not cancellable, so a
        // task-group race would wait for it anyway.
        let drainTimer = group.any().scheduleTask(in: TimeAmount(drainTimeout)) { [weak self] in
            self?.logger.warning("rpc server drain timeout, cancelling calls in flight")
            self?.forceCloseAll()
        }
        try? await allClosed.get()
        drainTimer.cancel()
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.phase = .stopped
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        logger.info("rpc server stopped")
        for waiter in waiters { waiter.resume() }
    }

    private func forceCloseAll() {
        let connections = state.withLockedValue { Array($0.connections.values) }
        for connection in connections {
            connection.channel.eventLoop.execute {
                connection.handler.value.forceClose()
            }
        }
    }

    // MARK: Bootstrap

    private func makeBootstrap() -> ServerBootstrap {
        let shared = self.shared
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self else { throw RPCServerError.alreadyStarted }
                    let pipeline = channel.pipeline.syncOperations
                    let handler = ServerConnectionHandler(shared: shared)
                    let connection = Connection(
                        channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    switch self.admit(connection) {
                    case .refuse(let frame):
                        try pipeline.addHandler(RefuseConnectionHandler(frame: frame))
                    case .accept:
                        // The handler splits its own frames (see `InboundFrames`).
                        try pipeline.addHandler(handler)
                        let id = ObjectIdentifier(channel)
                        channel.closeFuture.whenComplete { [weak self] _ in
                            self?.state.withLockedValue { _ = $0.connections.removeValue(forKey: id) }
                        }
                    }
                }
            }
    }

    private enum Admission {
        case accept
        case refuse(RPCFrame)
    }

    /// Decides, under the lock, whether a new connection is served; registers it when it is.
    private func admit(_ connection: Connection) -> Admission {
        let channel = connection.channel
        return state.withLockedValue { state in
            switch state.phase {
            case .running:
                if state.connections.count >= configuration.maximumConnections {
                    logger.warning("rpc connection refused: limit reached", metadata: [
                        "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")",
                        "limit": "\(configuration.maximumConnections)",
                    ])
                    return .refuse(.connectionError(.resourceExhausted, "too many connections"))
                }
                state.connections[ObjectIdentifier(channel)] = connection
                return .accept
            default:
                return .refuse(RPCFrame(callID: 0, kind: .goAway(.init(reason: "server shutting down"))))
            }
        }
    }
}

/// Why a server could not start.
public enum RPCServerError: Error, Sendable, Hashable {
    /// `start()` was called on a server that is already started or stopped.
    case alreadyStarted
}

/// Sends one connection-level frame to a connection the server will not serve, then closes it.
private final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let frame: RPCFrame

    init(frame: RPCFrame) { self.frame = frame }

    func channelActive(context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(frame: frame)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Ignore whatever the refused peer sends.
    }
}
