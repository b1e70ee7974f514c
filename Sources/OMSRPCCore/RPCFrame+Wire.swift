import OMSProto

// The wire encoding of a frame. Every protobuf message on the wire goes through libprotobuf-c:
// a frame is converted to the generated `RpcV1.Frame` (RPCFrame+Proto.swift), packed with
// `protobuf_c_message_pack` and unpacked with `protobuf_c_message_unpack`, so the frame follows
// exactly the rules of the reference C implementation (unknown fields skipped, last value of a
// scalar wins, UTF-8 checked by the Swift layer). The transport packs straight into its socket
// buffer (`withEncoding`) and decodes from the received bytes in place (`decodingBytesIn`).

/// Why bytes are not a valid `oms.rpc.v1.Frame`.
public struct FrameDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    /// - Parameter message: What was wrong.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension RPCFrame {
    /// Hands `body` the size N of the protobuf encoding and a function that writes the encoding
    /// (packed by libprotobuf-c) into caller memory, so it can go straight into a socket buffer.
    /// - Parameter body: Receives N; may call `pack` once with at least N writable bytes.
    ///   Neither argument may be used after `body` returns.
    /// - Returns: What `body` returns.
    public func withEncoding<R>(
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> R
    ) rethrows -> R {
        try RpcV1.Frame(self).withPackedEncoding(body)
    }

    /// The protobuf encoding of the frame, without the length prefix.
    public func encodedBytes() -> [UInt8] {
        withEncoding { size, pack in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                pack(UnsafeMutableRawBufferPointer(buffer))
                count = size
            }
        }
    }

    /// The number of bytes of `encodedBytes()` (computed without producing them).
    public var encodedSize: Int { withEncoding { size, _ in size } }

    /// The 4-byte big-endian length followed by the encoding: what goes on the socket.
    public func lengthPrefixedBytes() -> [UInt8] {
        withEncoding { size, pack in
            [UInt8](unsafeUninitializedCapacity: FrameLengthPrefix.size + size) { buffer, count in
                let out = UnsafeMutableRawBufferPointer(buffer)
                FrameLengthPrefix.write(UInt32(truncatingIfNeeded: size), to: out)
                pack(UnsafeMutableRawBufferPointer(rebasing: out[FrameLengthPrefix.size...]))
                count = FrameLengthPrefix.size + size
            }
        }
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

    /// Decodes one frame in place from the bytes a socket delivered (no length prefix).
    /// - Parameter bytes: Exactly the N bytes that followed the length prefix.
    /// - Throws: `FrameDecodingError` when the bytes are not a valid encoding.
    public init(decodingBytesIn bytes: UnsafeRawBufferPointer) throws {
        do {
            self.init(try RpcV1.Frame(packedBytes: bytes))
        } catch let error as ProtoDecodingError {
            throw FrameDecodingError(error.message)
        }
    }
}
