import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Reads a service's Prometheus text endpoint the way a scraper does (HTTP/1.1 GET over a new
/// connection), for tests that check what a process counted.
public enum MetricsScrape {
    /// The body of `GET path` on `127.0.0.1:port`.
    /// - Throws: When the connection fails or the answer is not `200 OK`.
    public static func text(port: Int, path: String = "/metrics") async throws -> String {
        let answer = try await exchange(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
        guard answer.hasPrefix("HTTP/1.1 200"), let split = answer.range(of: "\r\n\r\n") else {
            throw TestKitError("GET \(path) on port \(port) did not answer 200: \(answer.prefix(200))")
        }
        return String(answer[split.upperBound...])
    }

    /// Sends `request` as it is over a new connection to `127.0.0.1:port` and returns everything the
    /// server sent until it closed the connection.
    /// - Throws: When the connection fails.
    public static func exchange(_ request: String, port: Int) async throws -> String {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        try await channel.closeFuture.get()
        return String(decoding: collector.received.withLockedValue { $0 }, as: UTF8.self)
    }

    /// The sum of every series of metric `name` in Prometheus text (0 when it has none).
    public static func sum(_ name: String, in text: String) -> Double {
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let head = line.prefix { $0 != " " && $0 != "{" }
            guard head == name, let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total += value
        }
        return total
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox<[UInt8]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLockedValue { $0 += buffer.readableBytesView }
        }
    }
}
