/// One message of the wire protocol (`oms.rpc.v1.Frame`, docs/protocol.md) as a plain value.
///
/// This is the call model the transports work with; `RPCFrame+Wire.swift` encodes and decodes
/// it directly as protobuf, with the field numbers of `proto/oms/rpc/v1/frame.proto`.
public struct RPCFrame: Sendable, Hashable {
    /// The caller-chosen call id; 0 addresses the connection itself.
    public var callID: UInt64
    /// What the frame carries; `nil` when the peer sent none (such a frame is ignored).
    public var kind: Kind?

    /// - Parameters:
    ///   - callID: The call id (0 for connection-level frames).
    ///   - kind: The frame's content.
    public init(callID: UInt64, kind: Kind?) {
        self.callID = callID
        self.kind = kind
    }

    /// The `oneof kind` of a frame.
    public enum Kind: Sendable, Hashable {
        case call(Call)
        case reply(Reply)
        case cancel
        case goAway(GoAway)
    }

    /// Starts a call (`oms.rpc.v1.Call`).
    public struct Call: Sendable, Hashable {
        /// `/package.Service/Method`.
        public var method: String
        /// Relative deadline in milliseconds; 0 means none.
        public var timeoutMs: UInt32
        public var metadata: Metadata
        /// The request message, protobuf-encoded.
        public var payload: [UInt8]

        /// - Parameters:
        ///   - method: The method path.
        ///   - timeoutMs: Relative deadline in milliseconds (0 = none).
        ///   - metadata: Call metadata.
        ///   - payload: The encoded request.
        public init(method: String = "", timeoutMs: UInt32 = 0, metadata: Metadata = [:], payload: [UInt8] = []) {
            self.method = method
            self.timeoutMs = timeoutMs
            self.metadata = metadata
            self.payload = payload
        }
    }

    /// Ends a call, or reports a connection-level error when `callID` is 0 (`oms.rpc.v1.Reply`).
    public struct Reply: Sendable, Hashable {
        /// A gRPC canonical status code.
        public var code: Int32
        public var message: String
        /// The response message, protobuf-encoded (empty unless `code` is 0).
        public var payload: [UInt8]
        public var metadata: Metadata

        /// - Parameters:
        ///   - code: The status code.
        ///   - message: A message for the caller.
        ///   - payload: The encoded response.
        ///   - metadata: Reply metadata.
        public init(code: Int32 = 0, message: String = "", payload: [UInt8] = [], metadata: Metadata = [:]) {
            self.code = code
            self.message = message
            self.payload = payload
            self.metadata = metadata
        }

        /// The reply for a failed call.
        /// - Parameter error: The error to report.
        public init(error: RPCError) {
            self.init(code: error.code.rawValue, message: error.message, payload: [], metadata: error.metadata)
        }
    }

    /// Announces that the sender will accept no new calls on this connection (`oms.rpc.v1.GoAway`).
    public struct GoAway: Sendable, Hashable {
        public var reason: String

        /// - Parameter reason: Why the connection is going away, for logs.
        public init(reason: String = "") { self.reason = reason }
    }
}

extension RPCFrame {
    /// A connection-level error frame: call id 0 with a `Reply` carrying `code`.
    /// - Parameters:
    ///   - code: 8 for an oversize frame, 3 for bytes that do not decode.
    ///   - message: A human-readable reason.
    public static func connectionError(_ code: RPCStatusCode, _ message: String) -> RPCFrame {
        RPCFrame(callID: 0, kind: .reply(Reply(code: code.rawValue, message: message)))
    }
}
