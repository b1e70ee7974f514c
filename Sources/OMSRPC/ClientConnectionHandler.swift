import Logging
import NIOCore
import OMSRPCCore

/// Marks an `RPCError` 14 UNAVAILABLE raised by the transport itself; `wasSent` says whether the
/// call may have reached the server (only then does retrying need the call to be idempotent).
struct ConnectionFailure: Error, Sendable, CustomStringConvertible {
    var wasSent: Bool
    var reason: String
    var description: String { reason }
}

extension RPCError {
    static func connectionFailure(_ message: String, wasSent: Bool) -> RPCError {
        RPCError(.unavailable, message, cause: ConnectionFailure(wasSent: wasSent, reason: message))
    }

    /// Whether the transport knows the call never left this process.
    var wasNeverSent: Bool {
        (cause as? ConnectionFailure).map { !$0.wasSent } ?? false
    }
}

/// One call of the client waiting for its reply.
///
/// `@unchecked Sendable`: it is created by the calling task, which sets `continuation` before it
/// hands the call to the connection's event loop (through a lock); from then on every mutable
/// field is read and written on that event loop only.
final class ClientCall: @unchecked Sendable {
    let id: UInt64
    let method: String
    /// The length-prefixed `Call` frame, until it is written.
    var frame: ByteBuffer?
    /// When to give up locally (answering 4 and sending `Cancel`).
    let timeout: TimeAmount?
    var continuation: UnsafeContinuation<[UInt8], any Error>?
    var cancelled = false
    var startedAt = NIODeadline.distantPast

    init(id: UInt64, method: String, frame: ByteBuffer, timeout: TimeAmount?) {
        self.id = id
        self.method = method
        self.frame = frame
        self.timeout = timeout
    }

    /// Resumes the caller once; later results are dropped.
    func finish(_ result: Result<[UInt8], any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result)
    }
}

/// The client side of one connection: matches replies to calls by id, enforces local deadlines,
/// sends `Cancel`, and reports when the connection must not take new calls (GoAway, closed).
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var inbound: InboundFrames
    private var pending: [UInt64: ClientCall] = [:]
    private var context: ChannelHandlerContext?
    private var goneAway = false
    private var closing = false
    private var flushScheduled = false
    /// Inside `startBatch`: frames written meanwhile are flushed once at its end.
    private var batching = false
    private var batchWrote = false
    private var metrics = RPCMethodMetricsCache(side: .client)
    /// One timer for the local deadlines of every pending call (see `CallDeadlineTimer`).
    private var deadlines = CallDeadlineTimer()
    private let gauges: RPCGauges
    private let logger: Logger
    /// Tells the client to stop handing out this connection.
    private let onUnusable: @Sendable () -> Void

    init(
        maximumFrameLength: Int, gauges: RPCGauges, logger: Logger, onUnusable: @escaping @Sendable () -> Void
    ) {
        self.inbound = InboundFrames(maximumFrameLength: maximumFrameLength)
        self.gauges = gauges
        self.logger = logger
        self.onUnusable = onUnusable
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        gauges.connections.increment()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        gauges.connections.decrement()
        closing = true
        deadlines.cancelAll()
        onUnusable()
        failAll(.connectionFailure("connection to the server was lost", wasSent: true))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        streamFailed(error, context: context)
    }

    /// The connection is unusable: an invalid stream from the server gets its connection error
    /// frame; every pending call fails with 14.
    private func streamFailed(_ error: any Error, context: ChannelHandlerContext) {
        if let streamError = error as? FrameStreamError {
            logger.warning("rpc server sent an invalid stream", metadata: ["error": "\(streamError)"])
            if !closing {
                context.writeAndFlush(
                    wrapOutboundOut(context.channel.allocator.buffer(frame: streamError.errorFrame)), promise: nil)
            }
            closeAndFail(.connectionFailure("server sent an invalid stream: \(streamError)", wasSent: true))
        } else {
            logger.debug("rpc client connection failed", metadata: ["error": "\(error)"])
            closeAndFail(.connectionFailure("connection failed: \(error)", wasSent: true))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        do {
            try inbound.process(unwrapInboundIn(data)) { frame in receive(frame) }
        } catch {
            streamFailed(error, context: context)
        }
    }

    private func receive(_ frame: RPCFrame) {
        switch frame.kind {
        case .reply(let reply):
            if frame.callID == 0 {
                // A connection-level error: the server closes right after it.
                let code = RPCStatusCode(rawValue: reply.code)
                logger.warning(
                    "rpc connection error from server", metadata: ["code": "\(code)", "message": "\(reply.message)"])
                closeAndFail(.connectionFailure("connection error from server: \(code): \(reply.message)", wasSent: true))
                return
            }
            guard let call = pending.removeValue(forKey: frame.callID) else { return }
            callFinished()
            gauges.callsInFlight.decrement()
            let code = RPCStatusCode(rawValue: reply.code)
            record(call, code)
            if reply.code == 0 {
                call.finish(.success(reply.payload))
            } else {
                call.finish(.failure(RPCError(code, reply.message, metadata: reply.metadata)))
            }
            if goneAway && pending.isEmpty { close() }
        case .goAway(let goAway):
            logger.debug("rpc server sent GoAway", metadata: ["reason": "\(goAway.reason)"])
            goneAway = true
            onUnusable()
            if pending.isEmpty { close() }
        case .call, .cancel, nil:
            break
        }
    }

    // MARK: Calls (invoked on the event loop by RPCClient)

    /// Starts calls handed over together, with one flush for all their frames.
    /// - Parameter calls: The calls, with their continuations and frames set.
    func startBatch(_ calls: [ClientCall]) {
        batching = true
        for call in calls { start(call) }
        batching = false
        if batchWrote {
            batchWrote = false
            context?.flush()
        }
    }

    /// Registers the call and writes its frame.
    /// - Parameter call: The call, with its continuation and frame set.
    func start(_ call: ClientCall) {
        guard let frame = call.frame else { return }
        call.frame = nil
        if call.cancelled {
            call.finish(.failure(RPCError(.cancelled, "cancelled")))
            return
        }
        guard let context, !goneAway, !closing, context.channel.isActive else {
            onUnusable()
            call.finish(.failure(RPCError.connectionFailure("connection is closing", wasSent: false)))
            return
        }
        let now = NIODeadline.now()
        call.startedAt = now
        pending[call.id] = call
        gauges.callsInFlight.increment()
        if let timeout = call.timeout {
            // Call ids are never reused on a connection, so the id alone identifies the call.
            deadlines.add(
                .init(deadline: now + timeout, callID: call.id, sequence: 0), on: context.eventLoop,
                fire: { [self] in deadlineTimerFired() })
        }
        write(frame)
    }

    private func deadlineTimerFired() {
        guard let context else { return }
        let due = deadlines.expire(
            now: .now(), on: context.eventLoop, isLive: { [self] in pending[$0.callID] != nil },
            fire: { [self] in deadlineTimerFired() })
        for entry in due {
            guard let call = pending[entry.callID] else { continue }
            abandon(call, RPCError(.deadlineExceeded, "deadline exceeded"))
        }
    }

    /// A call left `pending`: forget finished deadlines once they pile up.
    private func callFinished() {
        deadlines.compactIfNeeded(liveCount: pending.count, isLive: { [self] in pending[$0.callID] != nil })
    }

    /// The calling task was cancelled.
    /// - Parameter call: The call to cancel.
    func cancel(_ call: ClientCall) {
        call.cancelled = true
        abandon(call, RPCError(.cancelled, "cancelled"))
    }

    /// Fails a pending call locally and tells the server to stop working on it.
    private func abandon(_ call: ClientCall, _ error: RPCError) {
        guard pending[call.id] === call, let context else { return }
        pending.removeValue(forKey: call.id)
        callFinished()
        gauges.callsInFlight.decrement()
        record(call, error.code)
        call.finish(.failure(error))
        write(context.channel.allocator.buffer(frame: RPCFrame(callID: call.id, kind: .cancel)))
        if goneAway && pending.isEmpty { close() }
    }

    private func record(_ call: ClientCall, _ code: RPCStatusCode) {
        metrics.record(method: call.method, code: code, nanoseconds: (NIODeadline.now() - call.startedAt).nanoseconds)
    }

    // MARK: Connection

    private func failAll(_ error: RPCError) {
        let calls = pending
        pending.removeAll()
        deadlines.cancelAll()
        for (_, call) in calls {
            gauges.callsInFlight.decrement()
            record(call, error.code)
            call.finish(.failure(error))
        }
    }

    private func closeAndFail(_ error: RPCError) {
        goneAway = true
        onUnusable()
        failAll(error)
        close()
    }

    private func close() {
        guard !closing, let context else { return }
        closing = true
        context.closeAfterPendingWrites()
    }

    /// Writes now and flushes once per event-loop tick, so calls started together share a syscall.
    private func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        if batching {
            batchWrote = true
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            self.context?.flush()
        }
    }
}
