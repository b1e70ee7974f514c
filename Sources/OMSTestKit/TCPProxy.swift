import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on a loopback port in front of a server (MariaDB, Redis), for outage tests: point a
/// service at `port`, then `cut()` makes the server look stopped to it (open connections drop, new
/// ones are refused) and `restore()` brings it back on the same port.
public final class TCPProxy: Sendable {
    /// The port the proxy listens on (127.0.0.1).
    public var port: Int { state.withLockedValue { $0.port } }
    private let upstreamHost: String
    private let upstreamPort: Int
    private let group: any EventLoopGroup
    private let state = NIOLockedValueBox(State())

    private struct State {
        var port = 0
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    private init(upstreamHost: String, upstreamPort: Int, group: any EventLoopGroup) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.group = group
    }

    /// Starts a proxy on a free loopback port.
    /// - Parameters:
    ///   - upstreamHost: The server's host.
    ///   - upstreamPort: The server's port.
    /// - Throws: When no port can be bound.
    public static func start(upstreamHost: String, upstreamPort: Int) async throws -> TCPProxy {
        let proxy = TCPProxy(
            upstreamHost: upstreamHost, upstreamPort: upstreamPort, group: MultiThreadedEventLoopGroup.singleton)
        try await proxy.listen()
        return proxy
    }

    /// Drops every relayed connection and stops accepting: to its clients the server is down
    /// (a new connection is refused).
    public func cut() async {
        let (listener, connections) = state.withLockedValue { state in
            defer {
                state.listener = nil
                state.connections = [:]
            }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections { try? await connection.close() }
    }

    /// Listens again on the same port after `cut()`.
    /// - Throws: When the port cannot be bound again.
    public func restore() async throws {
        try await listen()
    }

    /// Closes everything; the proxy cannot be restored afterwards.
    public func stop() async { await cut() }

    /// Binds `port` (0 the first time: any free port).
    private func listen() async throws {
        let port = self.port
        let upstreamHost = upstreamHost
        let upstreamPort = upstreamPort
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] inbound in
                inbound.setOption(.autoRead, value: false).flatMap {
                    ClientBootstrap(group: inbound.eventLoop).connect(host: upstreamHost, port: upstreamPort)
                }.flatMapThrowing { outbound in
                    try inbound.pipeline.syncOperations.addHandler(Relay(partner: outbound))
                    try outbound.pipeline.syncOperations.addHandler(Relay(partner: inbound))
                    self.track(inbound)
                    self.track(outbound)
                }.flatMap {
                    inbound.setOption(.autoRead, value: true)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let bound = listener.localAddress?.port ?? 0
        state.withLockedValue { state in
            state.listener = listener
            state.port = bound
        }
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLockedValue { $0.connections[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLockedValue { $0.connections.removeValue(forKey: id) }
        }
    }
}

/// Copies what one side of a relayed connection reads to the other side; either side closing
/// closes both.
private final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let partner: any Channel

    init(partner: any Channel) { self.partner = partner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
