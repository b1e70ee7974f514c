import NIOCore
import OMSProto
import OMSRPCCore

/// Splits the inbound byte stream into frames and decodes each one in place.
///
/// The 4-byte prefix is checked against the maximum as soon as it is complete, before any of the
/// frame's body is waited for, so a peer announcing 4 GiB costs 4 bytes of memory.
struct RPCFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RPCFrame

    /// The limit in force; the connection may raise it (see `InboundFrames.maximumFrameLength`).
    let limit: FrameLimit
    /// The connection's recent method paths and `authorization` values.
    private var strings = FrameStringCache()

    init(limit: FrameLimit) {
        self.limit = limit
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> RPCFrame? {
        try Self.decodeFrame(from: &buffer, maximumFrameLength: limit.value, strings: &strings)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RPCFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if seenEOF && buffer.readableBytes > 0 {
            let buffered = buffer.readableBytes
            buffer.moveReaderIndex(to: buffer.writerIndex)
            throw FrameStreamError.truncated(buffered: buffered)
        }
        return nil
    }

    /// Takes one frame off the front of `buffer`, or nothing when it is not complete yet.
    /// - Parameters:
    ///   - buffer: Bytes received so far, starting at a frame boundary.
    ///   - maximumFrameLength: Largest accepted N.
    ///   - strings: The connection's recent strings.
    /// - Throws: `FrameStreamError.frameTooLarge` as soon as the prefix is complete and oversize,
    ///   `FrameStreamError.undecodable` when the frame's bytes are not a valid `Frame`.
    static func decodeFrame(
        from buffer: inout ByteBuffer, maximumFrameLength: Int, strings: inout FrameStringCache
    ) throws -> RPCFrame? {
        let header = buffer.withUnsafeReadableBytes {
            FrameLengthPrefix.parse($0, maximumFrameLength: maximumFrameLength)
        }
        switch header {
        case .incomplete:
            return nil
        case .tooLarge(let announced):
            throw FrameStreamError.frameTooLarge(announced: announced, maximum: maximumFrameLength)
        case .length(let length):
            let total = FrameLengthPrefix.size + length
            guard buffer.readableBytes >= total else { return nil }
            let frame: RPCFrame
            do {
                frame = try buffer.withUnsafeReadableBytes { raw in
                    let body = UnsafeRawBufferPointer(rebasing: raw[FrameLengthPrefix.size..<total])
                    return try RPCFrame(decodingBytesIn: body, strings: &strings)
                }
            } catch let error as FrameDecodingError {
                throw FrameStreamError.undecodable(error.message)
            }
            buffer.moveReaderIndex(forwardBy: total)
            return frame
        }
    }
}

/// The frames of one connection's inbound bytes, split inside the connection handler itself:
/// no separate decoding handler in the pipeline, so a frame is neither boxed into `NIOAny` nor
/// passed from handler to handler.
struct InboundFrames {
    private var processor: NIOSingleStepByteToMessageProcessor<RPCFrameDecoder>

    /// - Parameter maximumFrameLength: Largest accepted N.
    init(maximumFrameLength: Int) {
        self.init(limit: FrameLimit(maximumFrameLength))
    }

    /// - Parameter limit: Largest accepted N, which its owner may change between frames (a server
    ///   raises it once a peer has authenticated). The owner keeps its own reference: it must not
    ///   reach the limit through this value while `process` runs.
    init(limit: FrameLimit) {
        processor = NIOSingleStepByteToMessageProcessor(RPCFrameDecoder(limit: limit))
    }

    /// Bytes of a frame that has begun but is not complete yet.
    var incompleteBytes: Int { processor.unprocessedBytes }

    /// Adds bytes that arrived and hands every frame they complete to `receive`, in order.
    /// - Throws: `FrameStreamError` when the stream is invalid (the connection must end).
    mutating func process(_ bytes: ByteBuffer, _ receive: (RPCFrame) throws -> Void) throws {
        try processor.process(buffer: bytes, receive)
    }

    /// The peer sent its last byte: bytes left over are a frame cut short.
    /// - Throws: `FrameStreamError.truncated` when a partial frame is buffered.
    mutating func finish(_ receive: (RPCFrame) throws -> Void) throws {
        try processor.finishProcessing(seenEOF: true, receive)
    }
}

/// The frame limit of one connection, shared by its handler and its decoder. Confined to the
/// connection's event loop like both of them.
final class FrameLimit {
    var value: Int
    init(_ value: Int) { self.value = value }
}

extension ByteBuffer {
    /// Appends the length-prefixed encoding of `frame`, packed by libprotobuf-c straight into
    /// the buffer.
    /// - Parameter frame: The frame to write.
    /// - Returns: Bytes written (4 + N).
    @discardableResult
    mutating func writeRPCFrame(_ frame: RPCFrame) -> Int {
        frame.withEncoding { size, pack in
            writeInteger(UInt32(truncatingIfNeeded: size), endianness: .big)
            writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                pack(UnsafeMutableRawBufferPointer(rebasing: out[..<size]))
                return size
            }
            return FrameLengthPrefix.size + size
        }
    }
}

extension ByteBufferAllocator {
    /// A buffer holding exactly the length-prefixed encoding of `frame`.
    /// - Parameter frame: The frame to encode.
    func buffer(frame: RPCFrame) -> ByteBuffer {
        var buffer: ByteBuffer?
        frame.encode { size, pack in
            buffer = self.buffer(size: size, pack)
        }
        return buffer!
    }

    /// A buffer holding the 4-byte length and the `size` bytes `pack` writes.
    private func buffer(size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) -> ByteBuffer {
        var buffer = self.buffer(capacity: FrameLengthPrefix.size + size)
        buffer.writeInteger(UInt32(truncatingIfNeeded: size), endianness: .big)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            pack(UnsafeMutableRawBufferPointer(rebasing: out[..<size]))
            return size
        }
        return buffer
    }
}

extension ByteBufferAllocator {
    /// A buffer holding exactly the length-prefixed encoding of a `Call` frame, packed by
    /// libprotobuf-c from the parts (the client's hot path: no `RPCFrame`, no metadata dictionary).
    /// - Parameters:
    ///   - callID: The call id.
    ///   - method: The method path.
    ///   - timeoutMs: Relative deadline in milliseconds (0 = none).
    ///   - metadata: The entries, sorted by key.
    ///   - payload: The encoded request.
    func callFrame(
        callID: UInt64, method: String, timeoutMs: UInt32, metadata: UnsafeBufferPointer<RpcV1.MetadataEntry>,
        payload: [UInt8]
    ) -> ByteBuffer {
        var buffer: ByteBuffer?
        RpcV1.Frame.withPackedCall(
            callID: callID, method: method, timeoutMs: timeoutMs, metadata: metadata, payload: payload
        ) { size, pack in
            buffer = self.buffer(size: size, pack)
        }
        return buffer!
    }
}

extension ChannelHandlerContext {
    /// Closes the channel once everything written before has reached the socket: an empty buffer is written
    /// and flushed behind the pending writes, and the close follows its completion (success or failure).
    func closeAfterPendingWrites() {
        writeAndFlush(NIOAny(channel.allocator.buffer(capacity: 0))).assumeIsolated()
            .whenComplete { [self] _ in
                close(promise: nil)
            }
    }
}
