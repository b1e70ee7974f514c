import Logging
import NIOCore
import OMSRPCCore

/// Runs a connection's handlers and brings each encoded reply back to the connection. One per
/// connection, so a call's task captures this one reference instead of the connection's parts.
final class ServerCallRunner: Sendable {
    private let connection: NIOLoopBound<ServerConnectionHandler>
    private let eventLoop: any EventLoop
    private let allocator: ByteBufferAllocator
    private let maximumFrameLength: Int
    private let logger: Logger
    /// Creates a call's task where `RPCServer.Configuration.handlerExecution` says (decided once).
    private let makeTask: @Sendable (_ body: sending @escaping @isolated(any) () async -> Void) -> Task<Void, Never>

    init(
        connection: NIOLoopBound<ServerConnectionHandler>, eventLoop: any EventLoop, allocator: ByteBufferAllocator,
        maximumFrameLength: Int, logger: Logger, execution: RPCServer.Configuration.HandlerExecution
    ) {
        self.connection = connection
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.maximumFrameLength = maximumFrameLength
        self.logger = logger
        if execution == .eventLoop, #available(macOS 26.0, *) {
            // Runs the handler right here, on the event loop, until it first suspends: no job
            // enqueued and no wait for the next loop tick to start it.
            let executor = EventLoopTaskExecutor(eventLoop: eventLoop)
            makeTask = { body in Task.immediate(executorPreference: executor, operation: body) }
        } else if execution == .eventLoop, #available(macOS 15.0, *) {
            let executor = EventLoopTaskExecutor(eventLoop: eventLoop)
            makeTask = { body in Task(executorPreference: executor, operation: body) }
        } else if execution == .immediate, #available(macOS 26.0, *) {
            // Starts right here like `.eventLoop`, without the executor preference (no status
            // record to push, check at each hop and drop): after a suspension the task goes on
            // on the global executor.
            makeTask = { body in Task.immediate(operation: body) }
        } else {
            makeTask = { body in Task(operation: body) }
        }
    }

    /// Starts the handler of one admitted call; its reply goes to the connection's `complete`.
    func start(
        callID: UInt64, sequence: UInt64, payload: [UInt8], context: ServerContext, handler: @escaping RPCRawHandler
    ) -> Task<Void, Never> {
        makeTask { [self] in
            await serve(callID: callID, sequence: sequence, payload: payload, context: context, handler: handler)
        }
    }

    /// Runs on the executor of the call's task (no hop on entry).
    nonisolated(nonsending) private func serve(
        callID: UInt64, sequence: UInt64, payload: [UInt8], context: ServerContext, handler: RPCRawHandler
    ) async {
        var reply: RPCFrame.Reply
        do {
            let response = try await ServerContext.$current.withValue(context) {
                try await handler(payload, context)
            }
            reply = RPCFrame.Reply(code: 0, message: "", payload: response, metadata: [:])
        } catch {
            let answer = RPCError(answering: error)
            reply = RPCFrame.Reply(error: answer)
            log(answer, method: context.method.path, requestID: context.requestID)
        }
        var buffer = allocator.buffer(frame: RPCFrame(callID: callID, kind: .reply(reply)))
        if buffer.readableBytes - FrameLengthPrefix.size > maximumFrameLength {
            logger.error(
                "rpc reply exceeds the maximum frame size",
                metadata: ["method": "\(context.method.path)", "size": "\(buffer.readableBytes - FrameLengthPrefix.size)"])
            reply = RPCFrame.Reply(code: RPCStatusCode.resourceExhausted.rawValue, message: "reply too large")
            buffer = allocator.buffer(frame: RPCFrame(callID: callID, kind: .reply(reply)))
        }
        let code = RPCStatusCode(rawValue: reply.code)
        let encoded = buffer
        if eventLoop.inEventLoop {
            // A task job, or `receive` when the handler finished without suspending (it
            // registered the call first, and touches no state after starting the task).
            connection.value.complete(callID: callID, sequence: sequence, reply: encoded, code: code)
        } else {
            let connection = self.connection
            eventLoop.execute {
                connection.value.complete(callID: callID, sequence: sequence, reply: encoded, code: code)
            }
        }
    }

    /// Details of a failure stay in the log; the peer learns only the status and its safe message.
    /// Failures the caller caused (bad input, a state conflict) are debug lines; a store or peer
    /// that is unavailable is a warning; anything unclassified (13) is an error.
    private func log(_ answer: RPCError, method: String, requestID: String?) {
        guard let cause = answer.cause else { return }
        let metadata: Logger.Metadata = [
            "method": "\(method)", "code": "\(answer.code.rawValue)", "cause": "\(String(reflecting: cause))",
            "request_id": "\(requestID ?? "")",
        ]
        switch answer.code {
        case .internalError, .unknown, .dataLoss: logger.error("rpc handler failed", metadata: metadata)
        case .unavailable, .deadlineExceeded: logger.warning("rpc handler could not complete", metadata: metadata)
        default: logger.debug("rpc handler error", metadata: metadata)
        }
    }
}
