import OMSProto

// Conversions between the call model and the generated `oms.rpc.v1` types, for code that
// holds the generated messages (and for the interoperability tests of the direct codec).

extension RPCFrame {
    /// The call model of a generated frame.
    /// - Parameter proto: A decoded `oms.rpc.v1.Frame`.
    public init(_ proto: RpcV1.Frame) {
        let kind: Kind?
        switch proto.kind {
        case nil:
            kind = nil
        case .call(let call):
            kind = .call(
                Call(
                    method: call.method, timeoutMs: call.timeoutMs, metadata: Metadata(call.metadata),
                    payload: call.payload))
        case .reply(let reply):
            kind = .reply(
                Reply(
                    code: reply.code, message: reply.message, payload: reply.payload,
                    metadata: Metadata(reply.metadata)))
        case .cancel:
            kind = .cancel
        case .goAway(let goAway):
            kind = .goAway(GoAway(reason: goAway.reason))
        }
        self.init(callID: proto.callID, kind: kind)
    }
}

extension RpcV1.Frame {
    /// The generated form of a call-model frame.
    /// - Parameter frame: The frame to convert.
    public init(_ frame: RPCFrame) {
        let kind: Kind?
        switch frame.kind {
        case nil:
            kind = nil
        case .call(let call):
            kind = .call(
                RpcV1.Call(
                    method: call.method, timeoutMs: call.timeoutMs, metadata: call.metadata.storage,
                    payload: call.payload))
        case .reply(let reply):
            kind = .reply(
                RpcV1.Reply(
                    code: reply.code, message: reply.message, payload: reply.payload,
                    metadata: reply.metadata.storage))
        case .cancel:
            kind = .cancel(RpcV1.Cancel())
        case .goAway(let goAway):
            kind = .goAway(RpcV1.GoAway(reason: goAway.reason))
        }
        self.init(callID: frame.callID, kind: kind)
    }
}

extension RPCFrame: ProtoMessage {
    /// An empty frame (call id 0, no kind).
    public init() { self.init(callID: 0, kind: nil) }

    /// The protobuf encoding (no length prefix).
    public func serializedBytes() -> [UInt8] { encodedBytes() }

    /// Decodes protobuf bytes (no length prefix).
    /// - Parameter bytes: The encoded frame.
    /// - Throws: `ProtoDecodingError` when the bytes are not a valid `oms.rpc.v1.Frame`.
    public init(serializedBytes bytes: some Collection<UInt8>) throws {
        do {
            try self.init(decoding: bytes)
        } catch let error as FrameDecodingError {
            throw ProtoDecodingError(error.message)
        }
    }
}
