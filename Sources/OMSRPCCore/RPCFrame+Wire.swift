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
        switch kind {
        case .call?, .reply?:
            var result: R?
            try encode { size, pack in
                result = try withoutActuallyEscaping(pack) { pack in try body(size, pack) }
            }
            return result!
        case .cancel?, .goAway?, nil:
            return try RpcV1.Frame(self).withPackedEncoding(body)
        }
    }

    /// `withEncoding` without a generic result, for the transport's hot paths: a generic
    /// function called from another module runs unspecialised (type metadata looked up at run
    /// time per frame). `body` keeps what it builds in a local variable.
    /// - Parameter body: Receives N; may call `pack` once with at least N writable bytes.
    public func encode(_ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> Void) rethrows {
        switch kind {
        case .call(let call)?:
            // Built directly as protoc-c structs (same bytes: entries sorted by key).
            try call.metadata.withSortedEntries { entries in
                try RpcV1.Frame.withPackedCall(
                    callID: callID, method: call.method, timeoutMs: call.timeoutMs, metadata: entries,
                    payload: call.payload, body)
            }
        case .reply(let reply)?:
            try reply.metadata.withSortedEntries { entries in
                try RpcV1.Frame.withPackedReply(
                    callID: callID, code: reply.code, message: reply.message, payload: reply.payload,
                    metadata: entries, body)
            }
        case .cancel?, .goAway?, nil:
            try RpcV1.Frame(self).withPackedEncoding(body)
        }
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
        if let frame = try bytes.withContiguousStorageIfAvailable({ try RPCFrame(decodingBytesIn: UnsafeRawBufferPointer($0)) }) {
            self = frame
        } else {
            self = try Array(bytes).withUnsafeBytes { try RPCFrame(decodingBytesIn: $0) }
        }
    }

    /// Decodes one frame in place from the bytes a socket delivered (no length prefix).
    ///
    /// libprotobuf-c unpacks the bytes; the call model is read straight from the protoc-c struct
    /// (one copy of each string and payload, one metadata dictionary).
    /// - Parameter bytes: Exactly the N bytes that followed the length prefix.
    /// - Throws: `FrameDecodingError` when the bytes are not a valid encoding.
    public init(decodingBytesIn bytes: UnsafeRawBufferPointer) throws {
        var strings = FrameStringCache()
        try self.init(decodingBytesIn: bytes, strings: &strings)
    }

    /// Decodes one frame in place, reusing the connection's recent strings (method path,
    /// `authorization`) instead of allocating them again.
    /// - Parameters:
    ///   - bytes: Exactly the N bytes that followed the length prefix.
    ///   - strings: The connection's cache, updated with the strings this frame brought.
    /// - Throws: `FrameDecodingError` when the bytes are not a valid encoding.
    public init(decodingBytesIn bytes: UnsafeRawBufferPointer, strings: inout FrameStringCache) throws {
        var frame = RPCFrame(callID: 0, kind: nil)
        do {
            try RpcV1.Frame.withUnpacked(bytes) { view in
                let kind: Kind?
                switch view.kind {
                case .none:
                    kind = nil
                case .call:
                    let call = view.call!
                    kind = .call(
                        Call(
                            method: strings.string(call.method), timeoutMs: call.timeoutMs,
                            metadata: Metadata(wireEntries: call.metadataCount, call.metadataEntry, strings: &strings),
                            payload: [UInt8](call.payload)))
                case .reply:
                    let reply = view.reply!
                    kind = .reply(
                        Reply(
                            code: reply.code, message: reply.message.isEmpty ? "" : String(decoding: reply.message, as: UTF8.self),
                            payload: [UInt8](reply.payload),
                            metadata: Metadata(wireEntries: reply.metadataCount, reply.metadataEntry, strings: &strings)))
                case .cancel:
                    kind = .cancel
                case .goAway:
                    kind = .goAway(GoAway(reason: String(decoding: view.goAwayReason, as: UTF8.self)))
                }
                frame = RPCFrame(callID: view.callID, kind: kind)
            }
        } catch let error as ProtoDecodingError {
            throw FrameDecodingError(error.message)
        }
        self = frame
    }
}
