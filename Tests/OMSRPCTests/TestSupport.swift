import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OMSCore
import OMSProto
import OMSRPC
import OMSRPCCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A message that is its own bytes; bytes starting with 0xEE "do not decode".
struct Bytes: ProtoMessage, Equatable {
    var bytes: [UInt8]
    init() { bytes = [] }
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ text: String) { bytes = Array(text.utf8) }
    init(serializedBytes: some Collection<UInt8>) throws {
        bytes = Array(serializedBytes)
        if bytes.first == 0xEE { throw ProtoDecodingError("0xEE marks an undecodable test payload") }
    }
    func serializedBytes() -> [UInt8] { bytes }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

struct SecretError: Error {
    var detail = "database password is hunter2"
}

/// A store's error that says its own status (as MySQLError and RedisError do in OMSServiceKit).
struct StoreDown: RPCErrorConvertible {
    var detail = "connect to db.internal:3306 as oms_orders failed"
    var rpcError: RPCError { RPCError(.unavailable, "store unavailable; retry", cause: self) }
}

/// Records what handlers saw, for assertions.
final class Probe: Sendable {
    let cancelled = NIOLockedValueBox(0)
    let started = NIOLockedValueBox(0)
    let peers = NIOLockedValueBox(Set<String>())
}

/// Stands in for a storage client's dedicated thread (OMSMySQL and OMSRedis run one each).
let storageThread = DispatchQueue(label: "oms.test.storage")

enum TestMethods {
    static let echo = MethodDescriptor(service: "oms.test.v1.Test", method: "Echo", idempotent: true)
    /// Echo with no handler work at all (the benchmark's method: the bare echo does none either).
    static let plainEcho = MethodDescriptor(service: "oms.test.v1.Test", method: "PlainEcho", idempotent: true)
    /// Echo that first waits for a "storage" thread, as a handler awaiting MySQL or Redis does.
    static let storageEcho = MethodDescriptor(service: "oms.test.v1.Test", method: "StorageEcho", idempotent: true)
    static let sleep = MethodDescriptor(service: "oms.test.v1.Test", method: "Sleep")
    static let fail = MethodDescriptor(service: "oms.test.v1.Test", method: "Fail")
    static let context = MethodDescriptor(service: "oms.test.v1.Test", method: "Context")
    static let relay = MethodDescriptor(service: "oms.test.v1.Test", method: "Relay")
}

/// A test service over raw-byte messages.
struct TestService: RPCService {
    let probe: Probe
    var relay: RPCClient?

    func registerMethods(with router: inout RPCRouter) {
        let probe = self.probe
        let relay = self.relay
        router.register(TestMethods.echo) { (request: Bytes, context: ServerContext) in
            probe.peers.withLockedValue { _ = $0.insert(context.peer) }
            return request
        }
        router.register(TestMethods.plainEcho) { (request: Bytes, _: ServerContext) in request }
        router.register(TestMethods.storageEcho) { (request: Bytes, _: ServerContext) in
            await withUnsafeContinuation { continuation in
                storageThread.async { continuation.resume() }
            }
            return request
        }
        router.register(TestMethods.sleep) { (request: Bytes, _: ServerContext) in
            probe.started.withLockedValue { $0 += 1 }
            let milliseconds = Int(request.text.split(separator: ":").first ?? "") ?? 0
            do {
                try await Task.sleep(for: .milliseconds(milliseconds))
            } catch {
                probe.cancelled.withLockedValue { $0 += 1 }
                throw error
            }
            return request
        }
        router.register(TestMethods.fail) { (request: Bytes, _: ServerContext) -> Bytes in
            if request.text == "rpc" { throw RPCError(.notFound, "no such order", metadata: ["x-detail": "d"]) }
            if request.text == "store" { throw StoreDown() }
            if request.text == "cancelled" { throw CancellationError() }
            throw SecretError()
        }
        router.register(TestMethods.context) { (_: Bytes, context: ServerContext) in
            let remaining = context.remaining.map { "\($0.wholeMilliseconds)" } ?? "none"
            return Bytes("\(context.requestID ?? "-")|\(context.traceparent ?? "-")|\(remaining)")
        }
        router.register(TestMethods.relay) { (request: Bytes, _: ServerContext) in
            guard let relay else { throw RPCError(.failedPrecondition, "no relay") }
            return try await relay.unary(TestMethods.context, request, as: Bytes.self, options: CallOptions())
        }
    }
}

let testToken = "suite-token"

func serverConfiguration(
    maximumFrameLength: Int = FrameLengthPrefix.defaultMaximumFrameLength,
    maximumConnections: Int = 64,
    maximumCalls: Int = 1024,
    idleTimeout: Duration = .seconds(60),
    drainTimeout: Duration = .seconds(5),
    handlerExecution: RPCServer.Configuration.HandlerExecution = .eventLoop,
    publicMethods: Set<String> = [],
    maximumUnauthenticatedFrameLength: Int = 256 << 10,
    frameTimeout: Duration = .seconds(10),
    maximumIncompleteFrameBytes: Int = 64 << 20
) -> RPCServer.Configuration {
    RPCServer.Configuration(
        host: "127.0.0.1", port: 0, authToken: testToken, publicMethods: publicMethods,
        maximumFrameLength: maximumFrameLength, maximumUnauthenticatedFrameLength: maximumUnauthenticatedFrameLength,
        frameTimeout: frameTimeout, maximumIncompleteFrameBytes: maximumIncompleteFrameBytes,
        maximumConnections: maximumConnections, maximumCallsInFlightPerConnection: maximumCalls,
        idleTimeout: idleTimeout, drainTimeout: drainTimeout, handlerExecution: handlerExecution)
}

/// Starts a server on a free port, runs `body`, shuts the server down.
func withServer<T>(
    _ configuration: RPCServer.Configuration = serverConfiguration(),
    probe: Probe = Probe(),
    _ body: (RPCServer, Int) async throws -> T
) async throws -> T {
    let server = RPCServer(configuration: configuration, services: [TestService(probe: probe)])
    let address = try await server.start()
    let port = try #require(address.port)
    do {
        let result = try await body(server, port)
        await server.shutdownGracefully()
        return result
    } catch {
        await server.shutdownGracefully()
        throw error
    }
}

func makeClient(port: Int, token: String? = testToken, timeout: Duration? = .seconds(20), attempts: Int = 3)
    -> RPCClient
{
    RPCClient(
        configuration: .init(
            host: "127.0.0.1", port: port, authToken: token, defaultTimeout: timeout,
            backoff: .init(initial: .milliseconds(20), maximum: .milliseconds(200)), maximumAttempts: attempts))
}

/// A hand-driven TCP peer speaking raw bytes, to send what a well-behaved client never would.
struct RawPeer {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var splitter = FrameSplitter(maximumFrameLength: Int(UInt32.max))
    private var pending: [RPCFrame] = []
    private(set) var receivedBytes = 0

    fileprivate init(
        iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.iterator = iterator
        self.outbound = outbound
    }

    func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    func send(_ frames: [RPCFrame]) async throws {
        var buffer = ByteBuffer()
        for frame in frames { buffer.writeBytes(frame.lengthPrefixedBytes()) }
        try await outbound.write(buffer)
    }

    func send(_ frame: RPCFrame) async throws { try await send([frame]) }

    /// Half-closes: the server sees end of input but can still write.
    func finishSending() { outbound.finish() }

    /// The next frame from the server, or nil once it closed the connection.
    mutating func next() async throws -> RPCFrame? {
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            if let frame = try splitter.nextFrame() { return frame }
            guard let buffer = try await iterator.next() else { return nil }
            receivedBytes += buffer.readableBytes
            try splitter.append(buffer.readableBytesView)
        }
    }

    /// Reads until the server closes; returns the frames received.
    mutating func readUntilClosed() async throws -> [RPCFrame] {
        var frames: [RPCFrame] = []
        while let frame = try await next() { frames.append(frame) }
        return frames
    }
}

func call(_ id: UInt64, _ method: MethodDescriptor, _ payload: String, timeoutMs: UInt32 = 0, auth: Bool = true)
    -> RPCFrame
{
    var metadata: Metadata = [:]
    if auth { metadata[Metadata.Keys.authorization] = "Bearer \(testToken)" }
    return RPCFrame(
        callID: id,
        kind: .call(.init(method: method.path, timeoutMs: timeoutMs, metadata: metadata, payload: Array(payload.utf8))))
}

extension RPCFrame {
    var reply: RPCFrame.Reply? {
        if case .reply(let reply) = kind { return reply }
        return nil
    }
    var isGoAway: Bool {
        if case .goAway = kind { return true }
        return false
    }
}

/// Connects a raw peer to `port` and runs `body` with it.
func withRawPeer<T: Sendable>(port: Int, _ body: (inout RawPeer) async throws -> T) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var peer = RawPeer(iterator: inbound.makeAsyncIterator(), outbound: outbound)
        return try await body(&peer)
    }
}

/// Expects `body` to throw an `RPCError` with `code`; returns it.
@discardableResult
func expectRPCError(
    _ code: RPCStatusCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> some Any
) async -> RPCError? {
    do {
        _ = try await body()
        Issue.record("expected RPCError \(code), got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Resident memory of this process in bytes (Linux), or nil elsewhere.
func residentMemory() -> Int? {
    #if os(Linux)
    guard let file = fopen("/proc/self/statm", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .split(separator: " ")
    guard fields.count > 1, let resident = Int(fields[1]) else { return nil }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    #else
    return nil
    #endif
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. The bound is
/// generous on purpose: with every suite running at once on a 2-core box a handler may wait seconds
/// for a thread; nothing here measures speed.
func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
