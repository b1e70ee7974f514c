import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSCore
import OMSRPC
import OMSRPCCore
import Testing

// Unary-call benchmark, run by tools/bench-rpc.sh (OMS_BENCH=1, release build). Compares the RPC
// framework with a bare SwiftNIO length-prefixed echo server/client (no protobuf, no routing, no
// tasks per call) in the same process and run. Method and figures: docs/benchmarks.md.

private let benchEnabled = ProcessInfo.processInfo.environment["OMS_BENCH"] == "1"

@Suite("RPC benchmark", .enabled(if: benchEnabled), .serialized)
struct RPCBenchmark {
    struct Figures: CustomStringConvertible {
        var name: String
        var callers: Int
        var calls: Int
        var seconds: Double
        var p50: Double
        var p99: Double
        /// CPU time of the whole process (user + system) during the measurement: both ends and
        /// the kernel's loopback work, less sensitive to other load on the machine than `seconds`.
        var cpuSeconds: Double
        var callsPerSecond: Double { Double(calls) / seconds }
        var microsecondsPerCall: Double { seconds * 1e6 / Double(calls) }
        var cpuMicrosecondsPerCall: Double { cpuSeconds * 1e6 / Double(calls) }
        var description: String {
            let rate = String(format: "%9.0f", callsPerSecond)
            let cost = String(format: "%6.2f", microsecondsPerCall)
            let p50s = String(format: "%7.1f", p50)
            let p99s = String(format: "%7.1f", p99)
            let cpu = String(format: "%6.2f", cpuMicrosecondsPerCall)
            return "\(name.padding(toLength: max(10, name.count), withPad: " ", startingAt: 0)) callers=\(callers) calls/s=\(rate) "
                + "µs/call=\(cost) p50=\(p50s)µs p99=\(p99s)µs cpu-µs/call=\(cpu)"
        }
    }

    /// Runs `callers` concurrent loops of `perCaller` calls each; latencies in microseconds.
    static func measure(
        name: String, callers: Int, perCaller: Int, _ call: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> Figures {
        let clock = ContinuousClock()
        let cpuStart = processCPUSeconds()
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var latencies: [Double] = []
                    latencies.reserveCapacity(perCaller)
                    for index in 0..<perCaller {
                        let begin = clock.now
                        try await call(caller &* perCaller &+ index)
                        let elapsed = clock.now - begin
                        latencies.append(
                            elapsed.inSeconds * 1e6)
                    }
                    return latencies
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let total = clock.now - start
        let cpuSeconds = processCPUSeconds() - cpuStart
        let seconds = total.inSeconds
        return Figures(
            name: name, callers: callers, calls: latencies.count, seconds: seconds,
            p50: latencies[latencies.count / 2], p99: latencies[latencies.count * 99 / 100], cpuSeconds: cpuSeconds)
    }

    /// User + system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    @Test("unary throughput and latency: RPC vs bare NIO echo")
    func unary() async throws {
        let environment = ProcessInfo.processInfo.environment
        let totalCalls = Int(environment["OMS_BENCH_CALLS"] ?? "") ?? 200_000
        let rounds = Int(environment["OMS_BENCH_ROUNDS"] ?? "") ?? 3
        let payload = [UInt8](repeating: 0x61, count: 64)

        let server = RPCServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, authToken: testToken, maximumCallsInFlightPerConnection: 4096),
            services: [TestService(probe: Probe())])
        let rpcPort = try #require(try await server.start().port)
        let client = makeClient(port: rpcPort)
        let echo = try await BareEcho.start()
        let echoClient = try await BareEchoClient.connect(port: echo.port)

        let request = Bytes(payload)
        let rpcCall: @Sendable (Int) async throws -> Void = { _ in
            _ = try await client.unary(TestMethods.plainEcho, request, as: Bytes.self, options: CallOptions())
        }
        let echoCall: @Sendable (Int) async throws -> Void = { _ in
            _ = try await echoClient.call(payload)
        }
        // Warm-up.
        _ = try await Self.measure(name: "warm", callers: 64, perCaller: 500, rpcCall)
        _ = try await Self.measure(name: "warm", callers: 64, perCaller: 500, echoCall)

        // For profiling one side at one concurrency: OMS_BENCH_ONLY=oms-rpc OMS_BENCH_CALLERS=64.
        let only = environment["OMS_BENCH_ONLY"]
        let callerCounts = environment["OMS_BENCH_CALLERS"].flatMap { Int($0) }.map { [$0] } ?? [1, 64]
        var lines: [String] = []
        for callers in callerCounts {
            let perCaller = (callers == 1 ? totalCalls / 8 : totalCalls) / callers
            var best: [String: Figures] = [:]
            for _ in 0..<rounds {
                let sides = [("bare-echo", echoCall), ("oms-rpc", rpcCall)].filter { only == nil || $0.0 == only }
                for (name, body) in sides {
                    let figures = try await Self.measure(name: name, callers: callers, perCaller: perCaller, body)
                    print(figures)
                    if best[name].map({ $0.seconds > figures.seconds }) ?? true { best[name] = figures }
                }
            }
            for name in ["bare-echo", "oms-rpc"] {
                if let figures = best[name] { lines.append("best of \(rounds): \(figures)") }
            }
            guard let rpc = best["oms-rpc"], let bare = best["bare-echo"] else { continue }
            lines.append(
                "callers=\(callers): rpc/bare cost per call = "
                    + String(format: "%.2f", rpc.microsecondsPerCall / bare.microsecondsPerCall) + "x"
                    + " (CPU time per call: "
                    + String(format: "%.2f", rpc.cpuMicrosecondsPerCall / bare.cpuMicrosecondsPerCall) + "x)")
        }
        print(lines.joined(separator: "\n"))
        if let path = environment["OMS_BENCH_OUT"] {
            try lines.joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        await client.close()
        await echoClient.close()
        await server.shutdownGracefully()
        try await echo.channel.close()
    }
}

extension RPCBenchmark {
    /// Where handlers run (`RPCServer.Configuration.HandlerExecution`), side by side in one run:
    /// `.eventLoop` and `.immediate`, each with the plain echo and with an echo that first waits
    /// for a storage thread. 64 callers (`OMS_BENCH_CALLERS`), one connection per server.
    @Test("handler execution: event loop vs immediate, plain and storage-waiting handlers")
    func handlerExecution() async throws {
        let environment = ProcessInfo.processInfo.environment
        let totalCalls = Int(environment["OMS_BENCH_CALLS"] ?? "") ?? 200_000
        let rounds = Int(environment["OMS_BENCH_ROUNDS"] ?? "") ?? 3
        let callers = environment["OMS_BENCH_CALLERS"].flatMap { Int($0) } ?? 64
        let request = Bytes([UInt8](repeating: 0x61, count: 64))
        var servers: [RPCServer] = []
        var sides: [(name: String, call: @Sendable (Int) async throws -> Void)] = []
        var clients: [RPCClient] = []
        for (label, execution) in [("event-loop", RPCServer.Configuration.HandlerExecution.eventLoop), ("immediate", .immediate)] {
            let server = RPCServer(
                configuration: .init(
                    host: "127.0.0.1", port: 0, authToken: testToken, maximumCallsInFlightPerConnection: 4096,
                    handlerExecution: execution),
                services: [TestService(probe: Probe())])
            let client = makeClient(port: try #require(try await server.start().port))
            servers.append(server)
            clients.append(client)
            for (method, suffix) in [(TestMethods.plainEcho, "plain"), (TestMethods.storageEcho, "storage")] {
                sides.append(("\(label)/\(suffix)", { _ in
                    _ = try await client.unary(method, request, as: Bytes.self, options: CallOptions())
                }))
            }
        }
        for side in sides { _ = try await Self.measure(name: "warm", callers: callers, perCaller: 200, side.call) }
        var best: [String: Figures] = [:]
        for _ in 0..<rounds {
            for side in sides {
                let figures = try await Self.measure(
                    name: side.name, callers: callers, perCaller: totalCalls / 2 / callers, side.call)
                print(figures)
                if best[side.name].map({ $0.seconds > figures.seconds }) ?? true { best[side.name] = figures }
            }
        }
        var lines = sides.compactMap { best[$0.name].map { "best of \(rounds): \($0)" } }
        for suffix in ["plain", "storage"] {
            if let loop = best["event-loop/\(suffix)"], let immediate = best["immediate/\(suffix)"] {
                lines.append(
                    "\(suffix): immediate/event-loop cost per call = "
                        + String(format: "%.2f", immediate.microsecondsPerCall / loop.microsecondsPerCall) + "x (CPU "
                        + String(format: "%.2f", immediate.cpuMicrosecondsPerCall / loop.cpuMicrosecondsPerCall) + "x)")
            }
        }
        print(lines.joined(separator: "\n"))
        if let path = environment["OMS_BENCH_MODES_OUT"] {
            try lines.joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        for client in clients { await client.close() }
        for server in servers { await server.shutdownGracefully() }
    }
}

// MARK: - Bare NIO echo (the baseline)

/// Splits `[UInt32 length][body]` frames; no protobuf.
private struct BareFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

/// Writes every frame straight back; flushes once per read burst.
private final class BareEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 4 + body.readableBytes)
        out.writeInteger(UInt32(body.readableBytes))
        out.writeImmutableBuffer(body)
        context.write(wrapOutboundOut(out), promise: nil)
    }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

private struct BareEcho {
    let channel: any Channel
    let port: Int

    static func start() async throws -> BareEcho {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BareFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(BareEchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return BareEcho(channel: channel, port: channel.localAddress!.port!)
    }
}

/// Matches echoed frames to waiting callers by an 8-byte id at the front of the body — the
/// minimum any multiplexing client needs. Same flush coalescing as the RPC client.
private final class BareClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var pending: [UInt64: CheckedContinuation<ByteBuffer, any Error>] = [:]
    var context: ChannelHandlerContext?
    var flushScheduled = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var body = unwrapInboundIn(data)
        guard let id = body.readInteger(as: UInt64.self) else { return }
        pending.removeValue(forKey: id)?.resume(returning: body)
    }

    func send(_ id: UInt64, _ frame: ByteBuffer, _ continuation: CheckedContinuation<ByteBuffer, any Error>) {
        guard let context else { return }
        pending[id] = continuation
        context.write(wrapOutboundOut(frame), promise: nil)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
    }
}

private final class BareEchoClient: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<BareClientHandler>
    let ids = NIOLockedValueBox<UInt64>(0)

    init(channel: any Channel, handler: NIOLoopBound<BareClientHandler>) {
        self.channel = channel
        self.handler = handler
    }

    static func connect(port: Int) async throws -> BareEchoClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BareFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(BareClientHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: BareClientHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return BareEchoClient(channel: channel, handler: handler)
    }

    func call(_ payload: [UInt8]) async throws -> ByteBuffer {
        let id = ids.withLockedValue { id in
            id &+= 1
            return id
        }
        var frame = channel.allocator.buffer(capacity: 12 + payload.count)
        frame.writeInteger(UInt32(8 + payload.count))
        frame.writeInteger(id)
        frame.writeBytes(payload)
        let handler = self.handler
        let loop = channel.eventLoop
        let request = frame
        return try await withCheckedThrowingContinuation { continuation in
            loop.execute { handler.value.send(id, request, continuation) }
        }
    }

    func close() async { try? await channel.close() }
}
