import OMSProto

/// What a client says about one call.
public struct CallOptions: Sendable {
    /// Relative deadline for the call; `nil` means the transport default (or the caller's
    /// remaining deadline when called from inside a handler, see `ServerContext.current`).
    public var timeout: Duration?
    /// Extra metadata sent with the call (the transport adds `authorization`).
    public var metadata: Metadata
    /// Overrides `MethodDescriptor.idempotent` for retries on 14 UNAVAILABLE.
    public var idempotent: Bool?

    public init(timeout: Duration? = nil, metadata: Metadata = [:], idempotent: Bool? = nil) {
        self.timeout = timeout
        self.metadata = metadata
        self.idempotent = idempotent
    }
}

/// What a handler knows about the call it serves.
public struct ServerContext: Sendable {
    public var method: MethodDescriptor
    public var metadata: Metadata
    /// Absolute deadline derived from `timeout_ms` (nil when the caller set none).
    public var deadline: ContinuousClock.Instant?
    /// The peer's address, for logs.
    public var peer: String

    public init(method: MethodDescriptor, metadata: Metadata, deadline: ContinuousClock.Instant?, peer: String) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
    }

    public var requestID: String? { metadata[Metadata.Keys.requestID] }
    public var traceparent: String? { metadata[Metadata.Keys.traceparent] }
    public var idempotencyKey: String? { metadata[Metadata.Keys.idempotencyKey] }

    /// Time left before the deadline, or nil when there is none.
    public var remaining: Duration? {
        deadline.map { $0 - ContinuousClock.now }
    }

    /// The context of the call the current task is serving, if any. Client transports use it
    /// to propagate `x-request-id`, `traceparent` and the remaining deadline.
    @TaskLocal public static var current: ServerContext?
}

/// A way to send unary calls: implemented by the NIO client in OMSRPC (and by in-process
/// transports in tests).
public protocol RPCClientTransport: Sendable {
    /// Sends one call and returns the reply payload. Runs on the caller's executor
    /// (`nonisolated(nonsending)`): a call costs no executor hop before it reaches the transport.
    /// - Throws: `RPCError` with the peer's code, or a transport code (14, 4, 1).
    nonisolated(nonsending) func unary(
        method: MethodDescriptor, request: [UInt8], options: CallOptions
    ) async throws -> [UInt8]
}

extension RPCClientTransport {
    /// Typed unary call: encodes the request, decodes the reply.
    /// - Throws: `RPCError`; a reply that does not decode is 13 INTERNAL.
    nonisolated(nonsending) public func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, as: Response.Type = Response.self, options: CallOptions
    ) async throws -> Response {
        let bytes = try await unary(method: method, request: request.serializedBytes(), options: options)
        do {
            return try Response(serializedBytes: bytes)
        } catch {
            throw RPCError(.internalError, "reply to \(method.path) did not decode", cause: error)
        }
    }
}

/// A request type that checks its own content after decoding; the router answers 3
/// INVALID_ARGUMENT when `validate()` throws. Service modules add conformances.
public protocol RPCValidatable {
    /// - Throws: `RPCError` (normally `.invalidArgument`) naming the offending field.
    func validate() throws
}

/// A server-side handler over raw payloads. It runs on the executor of the task serving the call
/// (`nonisolated(nonsending)`), so entering it costs no executor hop.
public typealias RPCRawHandler =
    nonisolated(nonsending) @Sendable (_ request: [UInt8], _ context: ServerContext) async throws -> [UInt8]

/// The method table of a server: path → handler. Generated service protocols register
/// their typed methods here (`registerMethods(with:)`).
public struct RPCRouter: Sendable {
    public private(set) var handlers: [String: (descriptor: MethodDescriptor, handler: RPCRawHandler)] = [:]

    public init() {}

    /// Registers a typed handler: the payload is decoded (3 when it does not decode or does
    /// not validate), the handler runs, the response is encoded.
    public mutating func register<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor,
        _ body: nonisolated(nonsending) @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        // Decided once: a dynamic cast per call costs a conformance lookup.
        let validates = Request.self is any RPCValidatable.Type
        handlers[method.path] = (method, { bytes, context in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                throw RPCError(.invalidArgument, "request payload for \(method.path) does not decode: \(error)")
            }
            if validates, let validatable = request as? any RPCValidatable {
                do {
                    try validatable.validate()
                } catch let error as RPCError {
                    throw error
                } catch {
                    throw RPCError(.invalidArgument, "invalid request: \(error)")
                }
            }
            return try await body(request, context).serializedBytes()
        })
    }

    public func handler(for path: String) -> (descriptor: MethodDescriptor, handler: RPCRawHandler)? {
        handlers[path]
    }

    /// Serves one call in process the way the server does (decode, validate, handle, encode),
    /// without a socket: for tests of a service's edge.
    /// - Parameters:
    ///   - method: The method to call.
    ///   - request: The request.
    ///   - context: The call's context.
    /// - Returns: The encoded response.
    /// - Throws: What the call answers (`RPCError`), 12 for a method not registered here.
    public func serve<Request: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, context: ServerContext
    ) async throws -> [UInt8] {
        guard let route = handlers[method.path] else { throw RPCError(.unimplemented, "unknown method \(method.path)") }
        return try await route.handler(request.serializedBytes(), context)
    }

    /// `serve(_:_:context:)` with the response decoded.
    /// - Throws: What the call answers.
    public func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, context: ServerContext, as: Response.Type = Response.self
    ) async throws -> Response {
        try Response(serializedBytes: try await serve(method, request, context: context))
    }
}

/// Anything that serves RPC methods: generated service protocols conform through an extension.
public protocol RPCService: Sendable {
    func registerMethods(with router: inout RPCRouter)
}

extension RPCService {
    /// A router holding only this service's methods.
    public var router: RPCRouter {
        var router = RPCRouter()
        registerMethods(with: &router)
        return router
    }
}
