import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSTestKit
import OMSServiceKit
import Prometheus
import ServiceLifecycle
import Testing

@Suite("MetricsEndpoint")
struct MetricsEndpointTests {
    static let logger = Logger(label: "oms.test.metrics-endpoint")

    /// A port that was free a moment ago (bound on port 0, then released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    /// Sends `request` as is over a new TCP connection and returns the whole answer.
    static func exchange(_ request: String, port: Int) async throws -> String {
        try await MetricsScrape.exchange(request, port: port)
    }

    static func get(_ path: String, port: Int) async throws -> String {
        try await exchange("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", port: port)
    }

    @Test("GET /metrics answers the registry's Prometheus text; other paths and methods are 404")
    func servesMetrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let counter = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "oms", subsystem: "test", metricName: "requests", unitName: "total", helpText: "Test calls."))
        counter.increment(by: Int64(3))
        let port = try await Self.freePort()
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: port, registry: registry, logger: Self.logger)
        try await endpoint.start()
        let group = ServiceGroup(services: [endpoint], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }

            let metrics = try await Self.get("/metrics", port: port)
            #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(metrics.lowercased().contains("content-type: text/plain; version=0.0.4"))
            #expect(metrics.contains("# TYPE oms_test_requests_total counter"))
            #expect(metrics.contains("oms_test_requests_total 3"))

            counter.increment()
            #expect(try await Self.get("/metrics?x=1", port: port).contains("oms_test_requests_total 4"))

            for path in ["/", "/metricsx", "/other"] {
                let answer = try await Self.get(path, port: port)
                #expect(answer.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(path)")
                #expect(!answer.contains("oms_test_requests_total"))
            }
            let post = try await Self.exchange(
                "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", port: port)
            #expect(post.hasPrefix("HTTP/1.1 404 Not Found\r\n"))

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a port in use fails start with an error naming the address")
    func portInUse() async throws {
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        defer { taken.close(promise: nil) }
        let endpoint = MetricsEndpoint(
            host: "127.0.0.1", port: port, registry: PrometheusCollectorRegistry(), logger: Self.logger)
        do {
            try await endpoint.start()
            Issue.record("bound a port that is in use")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(port)"))
        }
    }
}
