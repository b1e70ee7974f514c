import Logging
import NIOConcurrencyHelpers
import NIOCore
import OMSRPCCore

/// What every connection of one server shares: routes, limits, credentials, logger.
final class ServerShared: Sendable {
    let router: RPCRouter
    let configuration: RPCServer.Configuration
    let logger: Logger
    let gauges: RPCGauges
    /// `Bearer <token>` as bytes, or nil when authentication is off.
    let expectedAuthorization: [UInt8]?
    /// Bytes of incomplete frames held by all connections (see `maximumIncompleteFrameBytes`).
    /// Touched only by reads that end inside a frame, so whole-frame traffic never takes the lock.
    let incompleteFrameBytes = NIOLockedValueBox(0)

    init(router: RPCRouter, configuration: RPCServer.Configuration, logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.gauges = RPCGauges(side: .server)
        self.expectedAuthorization = configuration.authToken.map { Array("Bearer \($0)".utf8) }
    }

    /// How a call is admitted.
    enum Admission {
        /// The call presented the token (or authentication is off).
        case authenticated
        /// The method needs no credentials, and the call presented none that are valid.
        case publicMethod
        case refused
    }

    func admission(method: String, metadata: Metadata) -> Admission {
        guard let expected = expectedAuthorization else { return .authenticated }
        // The token first: the common call presents it, and then the method needs no hashing.
        if let presented = metadata[Metadata.Keys.authorization], ConstantTime.equals(presented.utf8, expected) {
            return .authenticated
        }
        return configuration.publicMethods.contains(method) ? .publicMethod : .refused
    }

    /// Moves this connection's share of the incomplete-frame budget by `delta`.
    /// - Returns: Whether the server is within its budget afterwards.
    func holdIncomplete(_ delta: Int) -> Bool {
        incompleteFrameBytes.withLockedValue { total in
            total += delta
            return total <= configuration.maximumIncompleteFrameBytes
        }
    }
}

/// The server side of one connection: admits calls, runs each in its own task, writes replies
/// in completion order, enforces deadlines, cancellation, limits, idle time and draining.
///
/// All state lives on the channel's event loop; handler tasks come back to it with
/// `eventLoop.execute` to deliver their reply.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlight {
        let sequence: UInt64
        /// Set once the task is created (a handler started immediately may finish before that).
        var task: Task<Void, Never>?
        /// The method's path; it is registered, so it is also its metrics label.
        let method: String
        let startedAt: NIODeadline
        let requestID: String?
    }

    private let shared: ServerShared
    private var inbound: InboundFrames
    private var calls: [UInt64: InFlight] = [:]
    private var sequence: UInt64 = 0
    private var context: ChannelHandlerContext?
    private var peer = "unknown"
    private var draining = false
    private var inputClosed = false
    private var closing = false
    private var flushScheduled = false
    /// Inside a read burst (`channelRead` … `channelReadComplete`): replies written meanwhile are
    /// flushed once at its end, without scheduling a task.
    private var reading = false
    private var flushAtReadComplete = false
    /// One timer for the deadlines of every call in flight (see `CallDeadlineTimer`).
    private var deadlines = CallDeadlineTimer()
    /// The idle timer is armed once and re-armed lazily: a frame or a drained connection only
    /// moves `lastActivity`, so a call costs no timer operation (see `idleTimerFired`).
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var metrics = RPCMethodMetricsCache(side: .server)
    /// See `route(for:)`.
    private var lastRoute: Route?
    private var logger: Logger
    /// Whether the per-call debug line is logged (the logger's level, read once).
    private let callLogEnabled: Bool
    /// Starts handler tasks and delivers their replies (set in `handlerAdded`).
    private var runner: ServerCallRunner?
    /// Whether a call on this connection has presented the token.
    private var authenticated = false
    /// The inbound frame limit: small until the peer has authenticated (shared with `inbound`'s decoder).
    private let frameLimit: FrameLimit
    /// Bytes of an incomplete frame this connection holds against the server's budget.
    private var heldIncomplete = 0
    /// Fires when the frame that began with it has not arrived whole within `frameTimeout`.
    private var frameTimer: Scheduled<Void>?
    /// Frames received so far: tells the frame timer whether its frame has completed.
    private var framesReceived: UInt64 = 0
    /// `framesReceived` when the frame timer was armed.
    private var framesAtFrameTimer: UInt64 = 0

    init(shared: ServerShared) {
        self.shared = shared
        self.logger = shared.logger
        self.callLogEnabled = shared.logger.logLevel <= .debug
        let configuration = shared.configuration
        self.frameLimit = FrameLimit(
            configuration.authToken == nil
                ? configuration.maximumFrameLength
                : min(configuration.maximumFrameLength, configuration.maximumUnauthenticatedFrameLength))
        self.inbound = InboundFrames(limit: frameLimit)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            peer = "\(remote)"
        }
        logger[metadataKey: "peer"] = "\(peer)"
        runner = ServerCallRunner(
            connection: NIOLoopBound(self, eventLoop: context.eventLoop), eventLoop: context.eventLoop,
            allocator: context.channel.allocator, maximumFrameLength: shared.configuration.maximumFrameLength,
            logger: logger, execution: shared.configuration.handlerExecution)
        if context.channel.isActive { armIdleTimer() }
    }

    func channelActive(context: ChannelHandlerContext) {
        shared.gauges.connections.increment()
        armIdleTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.gauges.connections.decrement()
        idleTimer?.cancel()
        idleTimer = nil
        releaseIncomplete()
        closing = true
        deadlines.cancelAll()
        // The peer is gone: nobody can receive the replies, so stop the work.
        for (_, call) in calls {
            call.task?.cancel()
            shared.gauges.callsInFlight.decrement()
            record(method: call.method, code: .cancelled, startedAt: call.startedAt, requestID: call.requestID)
        }
        calls.removeAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // The runner refers back to this handler; tasks still running keep their own reference.
        runner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        guard !closing else { return }
        do {
            try inbound.process(unwrapInboundIn(data)) { frame in receive(frame, context: context) }
            try holdIncompleteFrame(context: context)
        } catch {
            streamFailed(error, context: context)
        }
    }

    // MARK: Incomplete frames

    /// After a read: the bytes of a frame that has begun count against the server's budget, and
    /// the frame must arrive whole within `frameTimeout`.
    /// - Throws: `FrameStreamError.incompleteFramesOverBudget` when the budget would be exceeded.
    private func holdIncompleteFrame(context: ChannelHandlerContext) throws {
        let pending = closing ? 0 : inbound.incompleteBytes
        if pending != heldIncomplete {
            let delta = pending - heldIncomplete
            heldIncomplete = pending
            if !shared.holdIncomplete(delta), delta > 0 {
                releaseIncomplete()
                throw FrameStreamError.incompleteFramesOverBudget(budget: shared.configuration.maximumIncompleteFrameBytes)
            }
        }
        let timeout = shared.configuration.frameTimeout
        if pending == 0 || timeout == .zero {
            frameTimer?.cancel()
            frameTimer = nil
        } else if frameTimer == nil || framesAtFrameTimer != framesReceived {
            // A new frame has begun: its own time starts now.
            frameTimer?.cancel()
            framesAtFrameTimer = framesReceived
            let connection = NIOLoopBound(self, eventLoop: context.eventLoop)
            frameTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
                connection.value.frameTimerFired(timeout)
            }
        }
    }

    private func frameTimerFired(_ timeout: Duration) {
        frameTimer = nil
        guard framesAtFrameTimer == framesReceived, heldIncomplete > 0, let context else { return }
        logger.debug("rpc frame not completed in time", metadata: ["held": "\(heldIncomplete)"])
        releaseIncomplete()
        streamFailed(FrameStreamError.frameTimedOut(after: timeout), context: context)
    }

    private func releaseIncomplete() {
        frameTimer?.cancel()
        frameTimer = nil
        guard heldIncomplete != 0 else { return }
        _ = shared.holdIncomplete(-heldIncomplete)
        heldIncomplete = 0
    }

    private static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private func receive(_ frame: RPCFrame, context: ChannelHandlerContext) {
        // Frames after a connection error in the same read are not served.
        guard !closing else { return }
        // Any complete frame counts as activity.
        lastActivity = .now()
        framesReceived &+= 1
        switch frame.kind {
        case .call(let call):
            admit(callID: frame.callID, call: call, context: context)
        case .cancel:
            cancel(callID: frame.callID, code: .cancelled, message: "cancelled by the client")
        case .reply, .goAway, nil:
            // Replies and GoAway mean nothing to a server; empty frames are keep-alives.
            break
        }
        if calls.isEmpty { callsDrained() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if flushAtReadComplete {
            flushAtReadComplete = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // Whole frames were served as they arrived; bytes left over are a frame cut short.
            do {
                try inbound.finish { frame in receive(frame, context: context) }
            } catch {
                streamFailed(error, context: context)
                return
            }
            // The peer sent everything it will send: answer what is in flight, then close.
            inputClosed = true
            if calls.isEmpty { closeAfterFlush() }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        streamFailed(error, context: context)
    }

    /// The stream is unusable: an invalid frame gets its connection error frame, then the
    /// connection closes.
    private func streamFailed(_ error: any Error, context: ChannelHandlerContext) {
        if let streamError = error as? FrameStreamError {
            logger.debug(
                "rpc connection error", metadata: ["error": "\(streamError)", "code": "\(streamError.code.rawValue)"])
            connectionError(streamError.errorFrame)
        } else {
            logger.debug("rpc connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: Calls

    private func admit(callID: UInt64, call: RPCFrame.Call, context: ChannelHandlerContext) {
        guard callID != 0 else {
            connectionError(.connectionError(.invalidArgument, "call_id 0 is reserved for the connection"))
            return
        }
        guard calls[callID] == nil else {
            connectionError(.connectionError(.invalidArgument, "call_id \(callID) is already in flight"))
            return
        }
        let startedAt = lastActivity
        let requestID = call.metadata[Metadata.Keys.requestID]
        if draining {
            refuse(callID, RPCError(.unavailable, "server is shutting down"), call.method, startedAt, requestID)
            return
        }
        if calls.count >= shared.configuration.maximumCallsInFlightPerConnection {
            refuse(callID, RPCError(.resourceExhausted, "too many calls in flight on this connection"),
                   call.method, startedAt, requestID)
            return
        }
        switch shared.admission(method: call.method, metadata: call.metadata) {
        case .authenticated:
            if !authenticated {
                // The peer has shown the token: frames of the full size from now on.
                authenticated = true
                frameLimit.value = shared.configuration.maximumFrameLength
            }
        case .publicMethod:
            break
        case .refused:
            refuse(callID, RPCError(.unauthenticated, "missing or invalid authorization"),
                   call.method, startedAt, requestID)
            return
        }
        guard let route = route(for: call.method) else {
            refuse(callID, RPCError(.unimplemented, "unknown method \(call.method)"),
                   call.method, startedAt, requestID)
            return
        }

        let deadline: ContinuousClock.Instant? =
            call.timeoutMs == 0 ? nil : .now + .milliseconds(Int64(call.timeoutMs))
        let serverContext = ServerContext(
            method: route.descriptor, metadata: call.metadata, deadline: deadline, peer: peer)
        sequence &+= 1
        let sequence = self.sequence
        // Registered before the task starts: with `.eventLoop` execution the handler runs
        // immediately, inside this call, and may complete (and be removed) before it returns.
        calls[callID] = InFlight(
            sequence: sequence, task: nil, method: route.path, startedAt: startedAt, requestID: requestID)
        shared.gauges.callsInFlight.increment()
        let task = runner!.start(
            callID: callID, sequence: sequence, payload: call.payload, context: serverContext, handler: route.handler)
        guard calls[callID]?.sequence == sequence else {
            // Already answered.
            return
        }
        calls[callID]?.task = task
        if call.timeoutMs != 0 {
            deadlines.add(
                .init(
                    deadline: startedAt + .milliseconds(Int64(call.timeoutMs)), callID: callID, sequence: sequence),
                on: context.eventLoop, fire: { [self] in deadlineTimerFired() })
        }
    }

    /// A registered method, as a reference: taking it costs one retain.
    private final class Route {
        let descriptor: MethodDescriptor
        let handler: RPCRawHandler
        var path: String { descriptor.path }

        init(descriptor: MethodDescriptor, handler: @escaping RPCRawHandler) {
            self.descriptor = descriptor
            self.handler = handler
        }
    }

    /// The router's entry for `method`; the last one found is kept, since a connection tends to
    /// call the same method again (a string comparison instead of hashing the path).
    private func route(for method: String) -> Route? {
        if let lastRoute, lastRoute.path == method { return lastRoute }
        guard let entry = shared.router.handler(for: method) else { return nil }
        let route = Route(descriptor: entry.descriptor, handler: entry.handler)
        lastRoute = route
        return route
    }

    private func isLive(_ entry: CallDeadlineTimer.Entry) -> Bool {
        calls[entry.callID]?.sequence == entry.sequence
    }

    private func deadlineTimerFired() {
        guard let context else { return }
        let due = deadlines.expire(
            now: .now(), on: context.eventLoop, isLive: { [self] in isLive($0) },
            fire: { [self] in deadlineTimerFired() })
        for entry in due {
            deadlinePassed(callID: entry.callID, sequence: entry.sequence)
        }
    }

    /// A call left `calls`: forget finished deadlines once they pile up.
    private func callFinished() {
        deadlines.compactIfNeeded(liveCount: calls.count, isLive: { [self] in isLive($0) })
    }

    /// A handler's reply (see `ServerCallRunner`); on the event loop.
    func complete(callID: UInt64, sequence: UInt64, reply: ByteBuffer, code: RPCStatusCode) {
        // A call already answered (deadline, cancel, connection gone) drops its late result.
        guard let call = calls[callID], call.sequence == sequence else { return }
        calls.removeValue(forKey: callID)
        callFinished()
        shared.gauges.callsInFlight.decrement()
        write(reply)
        record(method: call.method, code: code, startedAt: call.startedAt, requestID: call.requestID)
        if calls.isEmpty { callsDrained() }
    }

    private func deadlinePassed(callID: UInt64, sequence: UInt64) {
        guard let call = calls[callID], call.sequence == sequence else { return }
        calls.removeValue(forKey: callID)
        callFinished()
        call.task?.cancel()
        shared.gauges.callsInFlight.decrement()
        writeReply(callID, RPCError(.deadlineExceeded, "deadline exceeded"))
        record(method: call.method, code: .deadlineExceeded, startedAt: call.startedAt, requestID: call.requestID)
        if calls.isEmpty { callsDrained() }
    }

    /// A `Cancel` frame: stop the task and answer 1 CANCELLED, so every call gets exactly one reply.
    private func cancel(callID: UInt64, code: RPCStatusCode, message: String) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        callFinished()
        call.task?.cancel()
        shared.gauges.callsInFlight.decrement()
        writeReply(callID, RPCError(code, message))
        record(method: call.method, code: code, startedAt: call.startedAt, requestID: call.requestID)
    }

    private func refuse(
        _ callID: UInt64, _ error: RPCError, _ method: String, _ startedAt: NIODeadline, _ requestID: String?
    ) {
        writeReply(callID, error)
        record(method: method, code: error.code, startedAt: startedAt, requestID: requestID, routed: false)
    }

    /// - Parameter routed: The method is known to be registered (every call that was admitted).
    private func record(
        method: String, code: RPCStatusCode, startedAt: NIODeadline, requestID: String?, routed: Bool = true
    ) {
        let nanoseconds = (NIODeadline.now() - startedAt).nanoseconds
        // Unknown methods are peer-controlled strings: keep them out of metric dimensions.
        let label = routed || shared.router.handler(for: method) != nil ? method : "unknown"
        metrics.record(method: label, code: code, nanoseconds: nanoseconds)
        // The level is fixed for the connection's logger: checked once, not through the log
        // handler on every call.
        guard callLogEnabled else { return }
        logger.debug(
            "rpc call",
            metadata: [
                "method": "\(method)", "code": "\(code.rawValue)", "duration_ms": "\(Double(nanoseconds) / 1e6)",
                "request_id": "\(requestID ?? "")",
            ])
    }

    // MARK: Connection state

    /// Called whenever the last call in flight finished.
    private func callsDrained() {
        if draining || inputClosed {
            closeAfterFlush()
        } else {
            lastActivity = .now()
            armIdleTimer()
        }
    }

    /// Arms the idle timer for `lastActivity + idleTimeout` unless it is armed already.
    private func armIdleTimer() {
        guard let context, !closing, !draining, idleTimer == nil, calls.isEmpty else { return }
        let timeout = shared.configuration.idleTimeout
        guard timeout > .zero else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + TimeAmount(timeout)) {
            [self] in
            idleTimerFired()
        }
    }

    /// The connection is idle when no call is in flight and no frame arrived for the idle
    /// timeout; activity since the timer was armed only moves the next check.
    private func idleTimerFired() {
        idleTimer = nil
        // Calls in flight: `callsDrained` re-arms when the last one finishes.
        guard calls.isEmpty, !closing, !draining else { return }
        if NIODeadline.now() < lastActivity + TimeAmount(shared.configuration.idleTimeout) {
            armIdleTimer()
            return
        }
        logger.debug("rpc connection idle, closing")
        goAwayAndDrain(reason: "idle timeout")
    }

    /// Graceful shutdown of this connection: GoAway, refuse new calls with 14, finish the calls
    /// in flight, close.
    /// - Parameter reason: Sent in the GoAway frame.
    func goAwayAndDrain(reason: String) {
        guard !draining, !closing else { return }
        draining = true
        idleTimer?.cancel()
        idleTimer = nil
        write(context?.channel.allocator.buffer(frame: RPCFrame(callID: 0, kind: .goAway(.init(reason: reason)))))
        if calls.isEmpty { closeAfterFlush() }
    }

    /// Stops every call at once and closes (drain timeout passed).
    func forceClose() {
        deadlines.cancelAll()
        for (callID, call) in calls {
            call.task?.cancel()
            shared.gauges.callsInFlight.decrement()
            writeReply(callID, RPCError(.unavailable, "server shut down before the call finished"))
            record(method: call.method, code: .unavailable, startedAt: call.startedAt, requestID: call.requestID)
        }
        calls.removeAll()
        closeAfterFlush()
    }

    private func connectionError(_ frame: RPCFrame) {
        guard !closing, let context else { return }
        write(context.channel.allocator.buffer(frame: frame))
        closeAfterFlush()
    }

    private func closeAfterFlush() {
        guard !closing, let context else { return }
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        // Close once everything written before has reached the socket.
        context.closeAfterPendingWrites()
    }

    // MARK: Writing

    private func writeReply(_ callID: UInt64, _ error: RPCError) {
        guard let context else { return }
        write(context.channel.allocator.buffer(frame: RPCFrame(callID: callID, kind: .reply(.init(error: error)))))
    }

    /// Writes now and flushes once per read burst or event-loop tick, so replies finishing
    /// together share a syscall.
    private func write(_ buffer: ByteBuffer?) {
        guard let context, let buffer, context.channel.isActive else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        if reading {
            // A handler that finished without suspending: `channelReadComplete` flushes.
            flushAtReadComplete = true
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
