import OMSProto

// The wire encoding of a frame. Every protobuf message on the wire goes through libprotobuf-c:
// a frame is converted to the generated `RpcV1.Frame` (RPCFrame+Proto.swift), packed with
// `protobuf_c_message_pack` and unpacked with `protobuf_c_message_unpack`, so the frame follows
// exactly the rules of the reference C implementation (unknown fields skipped, last value of a
// scalar wins, UTF-8 checked by the Swift layer).

/// Why bytes are not a valid `oms.rpc.v1.Frame`.
public struct FrameDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    /// - Parameter message: What was wrong.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension RPCFrame {
    /// The protobuf encoding of the frame, without the length prefix.
    public func encodedBytes() -> [UInt8] {
        RpcV1.Frame(self).serializedBytes()
    }

    /// The number of bytes of `encodedBytes()` (computed by encoding; prefer `encodedBytes()`
    /// when the bytes are needed too).
    public var encodedSize: Int { encodedBytes().count }

    /// The 4-byte big-endian length followed by the encoding: what goes on the socket.
    public func lengthPrefixedBytes() -> [UInt8] {
        let body = encodedBytes()
        var out = [UInt8]()
        out.reserveCapacity(FrameLengthPrefix.size + body.count)
        let n = UInt32(truncatingIfNeeded: body.count)
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(contentsOf: body)
        return out
    }

    /// Decodes one frame from its protobuf encoding (no length prefix).
    /// - Parameter bytes: Exactly the N bytes that followed the length prefix.
    /// - Throws: `FrameDecodingError` when the bytes are not a valid encoding.
    public init(decoding bytes: some Collection<UInt8>) throws {
        do {
            self.init(try RpcV1.Frame(serializedBytes: bytes))
        } catch let error as ProtoDecodingError {
            throw FrameDecodingError(error.message)
        }
    }
}
