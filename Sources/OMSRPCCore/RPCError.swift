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
