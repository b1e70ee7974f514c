/// The 4-byte big-endian length prefix that precedes every frame on the wire.
public enum FrameLengthPrefix {
    /// Size of the prefix in bytes.
    public static let size = 4
    /// The default maximum frame length N: 4 MiB.
    public static let defaultMaximumFrameLength = 4 * 1024 * 1024

    /// What the first bytes of a frame say.
    public enum Header: Sendable, Hashable {
        /// Fewer than 4 bytes are available.
        case incomplete
        /// The frame is `length` bytes long (after the prefix) and within the limit.
        case length(Int)
        /// The announced length exceeds the limit: a connection error (call 0, code 8).
        case tooLarge(UInt32)
    }

    /// Reads the prefix at the start of `bytes` and checks it against the limit before anything
    /// else is buffered.
    /// - Parameters:
    ///   - bytes: The bytes received so far, starting at a frame boundary.
    ///   - maximumFrameLength: The largest accepted N.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maximumFrameLength: Int) -> Header {
        guard bytes.count >= size else { return .incomplete }
        let length = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        return UInt64(length) > UInt64(maximumFrameLength) ? .tooLarge(length) : .length(Int(length))
    }

    /// Writes `length` big-endian into the first 4 bytes of `buffer`.
    /// - Parameters:
    ///   - length: The frame length N.
    ///   - buffer: At least 4 bytes.
    public static func write(_ length: UInt32, to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= size)
        buffer[0] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[1] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[2] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: length)
    }
}

/// A connection-level failure of the byte stream, mapped to the error frame the receiver sends
/// before it closes (docs/protocol.md, "Connection errors").
public enum FrameStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The prefix announced more than the maximum: answered with code 8.
    case frameTooLarge(announced: UInt32, maximum: Int)
    /// The frame bytes are not a valid `Frame`: answered with code 3.
    case undecodable(String)
    /// The stream ended inside a frame: answered with code 3 when the peer can still read.
    case truncated(buffered: Int)
    /// A frame that had begun did not arrive whole in time: answered with code 4.
    case frameTimedOut(after: Duration)
    /// Holding this connection's incomplete frame would take the server past its budget for bytes
    /// of incomplete frames: answered with code 8.
    case incompleteFramesOverBudget(budget: Int)

    /// The status code of the connection error frame.
    public var code: RPCStatusCode {
        switch self {
        case .frameTooLarge, .incompleteFramesOverBudget: .resourceExhausted
        case .undecodable, .truncated: .invalidArgument
        case .frameTimedOut: .deadlineExceeded
        }
    }

    public var description: String {
        switch self {
        case .frameTooLarge(let announced, let maximum): "frame length \(announced) exceeds maximum \(maximum)"
        case .undecodable(let why): "frame does not decode: \(why)"
        case .truncated(let buffered): "stream ended inside a frame (\(buffered) bytes buffered)"
        case .frameTimedOut(let after): "frame not completed within \(after)"
        case .incompleteFramesOverBudget(let budget): "server holds its budget of \(budget) bytes of incomplete frames"
        }
    }

    /// The frame to send before closing.
    public var errorFrame: RPCFrame { .connectionError(code, description) }
}

/// An incremental, I/O-free frame splitter: feed it bytes as they arrive, take out whole frames.
///
/// It never buffers more than `maximumFrameLength + 4` bytes of one frame: the prefix is checked
/// first, and an oversize prefix fails before its body is stored. The NIO transport has its own
/// `ByteBuffer`-based equivalent built on `FrameLengthPrefix.parse`; this type serves non-NIO
/// users and is the reference for the decoder tests.
public struct FrameSplitter: Sendable {
    public let maximumFrameLength: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failed: FrameStreamError?

    /// - Parameter maximumFrameLength: The largest accepted N (default 4 MiB).
    public init(maximumFrameLength: Int = FrameLengthPrefix.defaultMaximumFrameLength) {
        self.maximumFrameLength = maximumFrameLength
    }

    /// Bytes held but not yet returned as a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends received bytes. Bytes after a failure are dropped.
    /// - Parameter bytes: The bytes just received.
    /// - Throws: `FrameStreamError.frameTooLarge` as soon as a complete prefix is oversize.
    public mutating func append(_ bytes: some Collection<UInt8>) throws {
        if let failed { throw failed }
        buffer.append(contentsOf: bytes)
        try checkHeader()
    }

    private mutating func checkHeader() throws {
        let header = buffer.withUnsafeBytes { raw in
            FrameLengthPrefix.parse(UnsafeRawBufferPointer(rebasing: raw[readIndex...]), maximumFrameLength: maximumFrameLength)
        }
        if case .tooLarge(let announced) = header {
            let error = FrameStreamError.frameTooLarge(announced: announced, maximum: maximumFrameLength)
            failed = error
            buffer = []
            readIndex = 0
            throw error
        }
    }

    /// Returns the next complete frame's bytes, or nil when more input is needed.
    /// - Throws: `FrameStreamError.frameTooLarge` when the next prefix is oversize.
    public mutating func nextFrameBytes() throws -> [UInt8]? {
        if let failed { throw failed }
        let available = buffer.count - readIndex
        let header = buffer.withUnsafeBytes { raw in
            FrameLengthPrefix.parse(UnsafeRawBufferPointer(rebasing: raw[readIndex...]), maximumFrameLength: maximumFrameLength)
        }
        switch header {
        case .incomplete:
            return nil
        case .tooLarge:
            try checkHeader()
            return nil
        case .length(let length):
            guard available >= FrameLengthPrefix.size + length else { return nil }
            let start = readIndex + FrameLengthPrefix.size
            let frame = Array(buffer[start..<start + length])
            readIndex = start + length
            if readIndex == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            } else if readIndex > 4096 && readIndex * 2 > buffer.count {
                buffer.removeFirst(readIndex)
                readIndex = 0
            }
            try checkHeader()
            return frame
        }
    }

    /// Returns the next complete frame, decoded.
    /// - Throws: `FrameStreamError` for an oversize prefix or bytes that do not decode.
    public mutating func nextFrame() throws -> RPCFrame? {
        guard let bytes = try nextFrameBytes() else { return nil }
        do {
            return try RPCFrame(decoding: bytes)
        } catch let error as FrameDecodingError {
            let streamError = FrameStreamError.undecodable(error.message)
            failed = streamError
            throw streamError
        }
    }

    /// Call at end of input.
    /// - Throws: `FrameStreamError.truncated` when bytes of an unfinished frame remain.
    public func finish() throws {
        if let failed { throw failed }
        if bufferedByteCount > 0 { throw FrameStreamError.truncated(buffered: bufferedByteCount) }
    }
}

/// Comparison whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, looking at every byte of the longer one.
    /// - Parameters:
    ///   - a: Bytes received from a peer.
    ///   - b: The expected secret.
    public static func equals(_ a: some Sequence<UInt8>, _ b: [UInt8]) -> Bool {
        // Contiguous input (a native String's UTF-8, an array): the same comparison over raw
        // memory, without a generic iterator per byte.
        if let result = a.withContiguousStorageIfAvailable({ received in
            b.withUnsafeBufferPointer { expected in equals(received, expected) }
        }) {
            return result
        }
        var difference: UInt8 = 0
        var count = 0
        var expected = b.makeIterator()
        for byte in a {
            // Keep reading past the end of `b` so a long guess costs as much as a right one.
            let other = expected.next() ?? ~byte
            difference |= byte ^ other
            count += 1
        }
        while let other = expected.next() {
            difference |= other ^ 0xFF | 0x01
            count += 1
        }
        return difference == 0 && count == b.count
    }

    /// `equals` over contiguous bytes: reads every byte of the longer buffer.
    private static func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var difference: UInt8 = 0
        let common = min(a.count, b.count)
        for index in 0..<common {
            difference |= a[index] ^ b[index]
        }
        // Past the end of `b`: keep reading so a long guess costs as much as a right one.
        for index in common..<a.count {
            difference |= a[index] ^ ~a[index]
        }
        for index in common..<b.count {
            difference |= b[index] ^ 0xFF | 0x01
        }
        return difference == 0 && a.count == b.count
    }
}
