import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The Prometheus text endpoint of a service: `GET /metrics` on its own HTTP port, loopback by
/// default. Anything else gets 404; request bodies are not read (no upload surface).
public final class MetricsEndpoint: Service, Sendable {
    public let host: String
    public let port: Int
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.logger = logger
    }

    /// Binds the port now so a port in use fails the start with a clear error.
    /// - Throws: `ConfigurationError` naming the address.
    public func start() async throws {
        let bound = try await bind()
        channel.withLockedValue { $0 = bound }
        logger.info("metrics endpoint listening", metadata: ["address": "\(host):\(port)"])
    }

    private func bind() async throws -> any Channel {
        let registry = self.registry
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
        do {
            return try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw ConfigurationError("metrics port \(host):\(port) is not available: \(error)")
        }
    }

    public func run() async throws {
        if channel.withLockedValue({ $0 }) == nil { try await start() }
        guard let channel = channel.withLockedValue({ $0 }) else { return }
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let found = head.method == .GET && (head.uri == "/metrics" || head.uri.hasPrefix("/metrics?"))
        let body: [UInt8] = found ? registry.emitToBuffer() : Array("not found\n".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: found ? "text/plain; version=0.0.4" : "text/plain")
        headers.add(name: "content-length", value: "\(body.count)")
        headers.add(name: "connection", value: "close")
        let responseHead = HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
