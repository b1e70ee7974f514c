// The transport's hot path: a frame is packed by libprotobuf-c straight into the socket buffer
// and unpacked from the bytes the socket delivered, with no intermediate `[UInt8]`.

extension RpcV1.Frame {
    /// Builds the protoc-c struct and hands `body` the packed size and a function that packs the
    /// frame (`protobuf_c_message_pack`) into caller memory.
    /// - Parameter body: Receives the size N; may call `pack` once with at least N writable
    ///   bytes. Neither argument may be used after `body` returns.
    /// - Returns: What `body` returns.
    public func withPackedEncoding<R>(
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> R
    ) rethrows -> R {
        try ProtoRuntime.withPacked(self, body)
    }

    /// Decodes the packed bytes of a frame in place (validated, then unpacked by libprotobuf-c).
    /// - Parameter bytes: Exactly the frame's bytes.
    /// - Throws: `ProtoDecodingError` when they are not a valid `oms.rpc.v1.Frame`.
    public init(packedBytes bytes: UnsafeRawBufferPointer) throws {
        self = try ProtoRuntime.decode(RpcV1.Frame.self, bytes)
    }
}
