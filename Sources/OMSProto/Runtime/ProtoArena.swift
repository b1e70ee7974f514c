internal import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for one `serializedBytes()` call: the protoc-c structs, C strings, arrays and
/// submessages built from a Swift value live here until the message is packed, and are all
/// freed together when the arena goes away. Not shared between threads (one per call).
final class ProtoArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private var nextBlockSize = 1024

    init() {}

    deinit {
        for block in blocks { free(block) }
    }

    /// Raw, uninitialised memory, aligned for any C scalar or struct we store.
    func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let align = max(alignment, 8)
        if let cursor {
            let misalignment = Int(bitPattern: cursor) & (align - 1)
            let padding = misalignment == 0 ? 0 : align - misalignment
            if padding + byteCount <= remaining {
                let p = cursor + padding
                self.cursor = p + byteCount
                remaining -= padding + byteCount
                return p
            }
        }
        let size = max(byteCount + align, nextBlockSize)
        if size == nextBlockSize, nextBlockSize < 64 * 1024 { nextBlockSize *= 2 }
        guard let block = malloc(size) else { fatalError("out of memory (\(size) bytes)") }
        blocks.append(block)
        let misalignment = Int(bitPattern: block) & (align - 1)
        let p = block + (misalignment == 0 ? 0 : align - misalignment)
        cursor = p + byteCount
        remaining = size - (p - block) - byteCount
        return p
    }

    /// One zero-filled C value of type `T` (callers run the protoc-c `…__init` on messages).
    func allocate<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        let raw = allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.stride)
        return raw.bindMemory(to: T.self, capacity: 1)
    }

    /// A NUL-terminated copy of the string's UTF-8. protoc-c strings are C strings, so a
    /// string holding U+0000 is cut at the first NUL (see docs/proto-conventions.md).
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let raw = allocate(byteCount: utf8.count + 1, alignment: 1)
            if let base = utf8.baseAddress { raw.copyMemory(from: base, byteCount: utf8.count) }
            raw.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return raw.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// `bytes` as protoc-c's `{len, data}`.
    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        var data = ProtobufCBinaryData()
        data.len = bytes.count
        if !bytes.isEmpty {
            let raw = allocate(byteCount: bytes.count, alignment: 1)
            bytes.withUnsafeBytes { if let base = $0.baseAddress { raw.copyMemory(from: base, byteCount: bytes.count) } }
            data.data = raw.bindMemory(to: UInt8.self, capacity: bytes.count)
        }
        return data
    }

    /// A copy of an array of C-layout scalars (nil when empty, as protoc-c expects).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        if values.isEmpty { return nil }
        let p = allocate(byteCount: MemoryLayout<T>.stride * values.count, alignment: MemoryLayout<T>.alignment)
            .bindMemory(to: T.self, capacity: values.count)
        _ = UnsafeMutableBufferPointer(start: p, count: values.count).initialize(from: values)
        return p
    }

    /// An array of converted values (nil when empty).
    func array<T, U>(_ values: some Collection<T>, _ transform: (T) -> U) -> UnsafeMutablePointer<U>? {
        if values.isEmpty { return nil }
        let count = values.count
        let p = allocate(byteCount: MemoryLayout<U>.stride * count, alignment: MemoryLayout<U>.alignment)
            .bindMemory(to: U.self, capacity: count)
        var i = 0
        for value in values {
            (p + i).initialize(to: transform(value))
            i += 1
        }
        return p
    }

    /// A protoc-c struct filled from a generated Swift message.
    func message<M: CProtoConvertible>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let p = allocate(M.CMessage.self)
        M.cInit(p)
        value.toC(p, self)
        return p
    }
}
