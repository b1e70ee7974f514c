/// The one error type that crosses the wire: a status code, a message for the caller, and
/// optional reply metadata. Anything else a handler throws is answered as 13 INTERNAL with a
/// generic message; its details go to the log only.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    public var code: RPCStatusCode
    public var message: String
    public var metadata: Metadata
    /// The underlying error, for logs. Never sent to the peer.
    public var cause: (any Error & Sendable)?

    public init(_ code: RPCStatusCode, _ message: String, metadata: Metadata = [:], cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    public var description: String { "\(code) (\(code.rawValue)): \(message)" }

    public static func invalidArgument(_ message: String) -> RPCError { RPCError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> RPCError { RPCError(.notFound, message) }
    public static func failedPrecondition(_ message: String) -> RPCError { RPCError(.failedPrecondition, message) }
    public static func unavailable(_ message: String) -> RPCError { RPCError(.unavailable, message) }
}

/// An error that knows which status it is on the wire, in the spirit of grpc-swift's
/// `RPCErrorConvertible`: a type says once how it becomes a status code, and the server answers
/// with that status wherever a handler lets it escape. One conformance per error type replaces a
/// mapping per service; an operation for which a failure means something else (a duplicate key
/// that is "already exists" for that call) catches it and throws its own `RPCError` instead.
public protocol RPCErrorConvertible: Error {
    /// The status, a message that is safe to send to any caller (no driver text, no user names
    /// or hosts), and the error itself as the cause, for the server's log.
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// The status a failure escaping a handler is answered with: the error's own status when it is
    /// `RPCErrorConvertible`, 1 CANCELLED for cancellation, and 13 INTERNAL with a generic message
    /// for anything else (its detail stays in `cause`, for the log).
    /// - Parameter error: what the handler threw.
    public init(answering error: any Error) {
        switch error {
        case let convertible as any RPCErrorConvertible:
            self = convertible.rpcError
        case is CancellationError:
            self.init(.cancelled, "cancelled")
        default:
            self.init(.internalError, "internal error", cause: error)
        }
    }
}
