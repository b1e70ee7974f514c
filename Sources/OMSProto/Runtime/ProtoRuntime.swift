internal import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Encoding and decoding through libprotobuf-c, shared by every generated message.
enum ProtoRuntime {
    /// Builds the protoc-c struct in the thread's scratch arena, packs it, resets the arena.
    static func serialize<M: CProtoConvertible>(_ message: M) -> [UInt8] {
        withPacked(message) { size, pack in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                pack(UnsafeMutableRawBufferPointer(buffer))
                count = size
            }
        }
    }

    /// Builds the protoc-c struct and hands `body` its packed size and a function that packs it
    /// into `size` bytes of caller memory (with `protobuf_c_message_pack`), so the encoding can
    /// go straight into its destination (a socket buffer) without an intermediate array.
    /// - Parameters:
    ///   - message: The message to encode.
    ///   - body: Receives the size; may call `pack` once, with at least `size` writable bytes.
    static func withPacked<M: CProtoConvertible, R>(
        _ message: M, _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> R
    ) rethrows -> R {
        try ProtoArena.withScratch { arena in
            try withPacked(UnsafeRawPointer(arena.message(message)), body)
        }
    }

    /// `withPacked` for a protoc-c message struct that is already built.
    /// - Parameters:
    ///   - message: Any protoc-c message struct (it starts with its `ProtobufCMessage` base).
    ///   - body: Receives the size; may call `pack` once, with at least `size` writable bytes.
    static func withPacked<R>(
        _ message: UnsafeRawPointer, _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> R
    ) rethrows -> R {
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        return try body(size) { out in
            precondition(out.count >= size, "pack target smaller than the packed size")
            guard size > 0, let target = out.baseAddress else { return }
            let written = protobuf_c_message_pack(base, target.assumingMemoryBound(to: UInt8.self))
            precondition(written == size, "protobuf_c_message_pack wrote \(written) of \(size) bytes")
        }
    }

    /// Checks the wire bytes (`ProtoWireValidator`), unpacks them with libprotobuf-c into the
    /// thread's scratch arena and copies the result into Swift values.
    static func deserialize<M: CProtoConvertible>(_ bytes: some Collection<UInt8>) throws -> M {
        if let result = try bytes.withContiguousStorageIfAvailable({
            try decode(M.self, UnsafeRawBufferPointer($0))
        }) {
            return result
        }
        return try Array(bytes).withUnsafeBytes { try decode(M.self, $0) }
    }

    /// `deserialize` for bytes already in contiguous memory (a socket buffer).
    static func decode<M: CProtoConvertible>(_: M.Type, _ bytes: UnsafeRawBufferPointer) throws -> M {
        // Everything libprotobuf-c allocated lives in the arena, released by its reset.
        try withUnpacked(M.self, bytes) { try M(_fromC: $0) }
    }

    /// Checks the wire bytes (`ProtoWireValidator`), unpacks them with libprotobuf-c into the
    /// thread's scratch arena and hands `body` the protoc-c struct, valid until `body` returns.
    static func withUnpacked<M: CProtoConvertible, R>(
        _: M.Type, _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<M.CMessage>) throws -> R
    ) throws -> R {
        let descriptor = try withUnsafeTemporaryAllocation(of: M.CMessage.self, capacity: 1) { probe in
            let p = probe.baseAddress!
            UnsafeMutableRawPointer(p).initializeMemory(
                as: UInt8.self, repeating: 0, count: MemoryLayout<M.CMessage>.stride)
            M.cInit(p)
            guard
                let descriptor = UnsafeRawPointer(p).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
            else { throw ProtoDecodingError("no descriptor for \(M.self)") }
            return descriptor
        }

        try ProtoWireValidator.validate(bytes, descriptor)

        return try ProtoArena.withScratch { arena in
            var zero: UInt8 = 0
            var allocator = arena.allocator
            let unpacked: UnsafeMutablePointer<ProtobufCMessage>? = withUnsafePointer(to: &zero) { empty in
                let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? empty
                return protobuf_c_message_unpack(descriptor, &allocator, bytes.count, data)
            }
            guard let unpacked else {
                throw ProtoDecodingError("bytes do not decode as \(messageName(descriptor))")
            }
            return try body(UnsafeRawPointer(unpacked).assumingMemoryBound(to: M.CMessage.self))
        }
    }

    static func messageName(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> String {
        guard let name = descriptor.pointee.name else { return "message" }
        return String(cString: name)
    }

    // MARK: C → Swift helpers used by generated code

    /// A protoc-c string (already checked for UTF-8 and NUL by the validator); nil reads as "".
    @inline(__always)
    static func string(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        let length = strlen(p)
        return p.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    @inline(__always)
    static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        string(UnsafePointer(p))
    }

    /// A copy of protoc-c binary data.
    @inline(__always)
    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let p = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: data.len))
    }

    /// Throws instead of crashing when a pointer libprotobuf-c should have set is missing.
    static func nonNull<T>(_ p: UnsafeMutablePointer<T>?) throws -> UnsafeMutablePointer<T> {
        guard let p else { throw ProtoDecodingError("missing submessage") }
        return p
    }

    /// A copy of a repeated scalar field.
    static func array<T>(_ p: UnsafeMutablePointer<T>?, _ count: Int) throws -> [T] {
        if count == 0 { return [] }
        guard let p else { throw ProtoDecodingError("missing repeated field storage") }
        return Array(UnsafeBufferPointer(start: p, count: count))
    }

    /// A converted copy of a repeated field.
    static func array<T, U>(_ p: UnsafeMutablePointer<T>?, _ count: Int, _ transform: (T) throws -> U) throws -> [U] {
        if count == 0 { return [] }
        guard let p else { throw ProtoDecodingError("missing repeated field storage") }
        var result: [U] = []
        result.reserveCapacity(count)
        for i in 0..<count { result.append(try transform(p[i])) }
        return result
    }

    /// A repeated message field.
    static func messages<M: CProtoConvertible>(
        _ p: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?, _ count: Int
    ) throws -> [M] {
        try array(p, count) { element in
            guard let element else { throw ProtoDecodingError("missing repeated submessage") }
            return try M(_fromC: element)
        }
    }

    /// A map field (repeated entry messages); a later duplicate key wins, as in protobuf.
    static func map<E, K: Hashable, V>(
        _ p: UnsafeMutablePointer<UnsafeMutablePointer<E>?>?, _ count: Int,
        _ entry: (UnsafeMutablePointer<E>) throws -> (K, V)
    ) throws -> [K: V] {
        if count == 0 { return [:] }
        guard let p else { throw ProtoDecodingError("missing map storage") }
        var result: [K: V] = [:]
        result.reserveCapacity(count)
        for i in 0..<count {
            guard let e = p[i] else { throw ProtoDecodingError("missing map entry") }
            let (key, value) = try entry(e)
            result[key] = value
        }
        return result
    }
}
