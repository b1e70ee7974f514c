internal import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-thread scratch arena (`ProtoArena.withScratch`); released when the thread exits.
private let scratchKey: pthread_key_t = {
    var key = pthread_key_t()
    #if canImport(Darwin)
    let rc = pthread_key_create(&key) { stored in
        Unmanaged<ProtoArena>.fromOpaque(stored).release()
    }
    #else
    let rc = pthread_key_create(&key) { stored in
        guard let stored else { return }
        Unmanaged<ProtoArena>.fromOpaque(stored).release()
    }
    #endif
    precondition(rc == 0, "pthread_key_create failed")
    return key
}()

/// Memory for one encoding or decoding: the protoc-c structs, C strings, arrays and
/// submessages built from a Swift value (or unpacked by libprotobuf-c through `allocator`) live
/// here until the message is packed (or copied into Swift values), and are all released together.
/// Not shared between threads.
///
/// Encoding and decoding borrow a per-thread arena (`withScratch`) and `reset()` it afterwards,
/// so a message costs no `malloc` in the steady state: the first block is kept between uses
/// unless it grew past `retainedCapacity`.
final class ProtoArena {
    private var blocks: [(base: UnsafeMutableRawPointer, size: Int)] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private var nextBlockSize = 1024
    /// Set while a `withScratch` body runs, so a nested use gets a fresh arena.
    private var inUse = false

    /// Largest block kept across `reset()`; larger ones (big payloads) go back to the system.
    static let retainedCapacity = 64 * 1024

    init() {}

    deinit {
        for block in blocks { free(block.base) }
    }

    /// Forgets every allocation; keeps one block for the next use when that block alone held
    /// everything and is not too large.
    func reset() {
        if blocks.count == 1, blocks[0].size <= Self.retainedCapacity {
            cursor = blocks[0].base
            remaining = blocks[0].size
            return
        }
        var total = 0
        for block in blocks {
            total += block.size
            free(block.base)
        }
        blocks.removeAll(keepingCapacity: true)
        cursor = nil
        remaining = 0
        // Next time, one block that fits what this use needed (within the retained limit).
        nextBlockSize = min(max(nextBlockSize, total), Self.retainedCapacity)
    }

    /// Runs `body` with this thread's arena (or a fresh one when it is already in use), then
    /// resets it. Nothing allocated in `body` may be used after it returns.
    static func withScratch<R>(_ body: (ProtoArena) throws -> R) rethrows -> R {
        let arena: ProtoArena
        if let stored = pthread_getspecific(scratchKey) {
            arena = Unmanaged<ProtoArena>.fromOpaque(stored).takeUnretainedValue()
        } else {
            arena = ProtoArena()
            pthread_setspecific(scratchKey, Unmanaged.passRetained(arena).toOpaque())
        }
        if arena.inUse {
            return try body(ProtoArena())
        }
        arena.inUse = true
        defer {
            arena.reset()
            arena.inUse = false
        }
        return try body(arena)
    }

    /// A libprotobuf-c allocator that takes memory from this arena and never frees it
    /// (`reset()` does), for `protobuf_c_message_unpack`. Valid while the arena lives.
    var allocator: ProtobufCAllocator {
        ProtobufCAllocator(
            alloc: { data, size in
                guard let data else { return nil }
                // The arena outlives the unpack that calls this: no retain per allocation.
                return Unmanaged<ProtoArena>.fromOpaque(data)._withUnsafeGuaranteedRef {
                    $0.allocate(byteCount: max(size, 1), alignment: 16)
                }
            },
            free: { _, _ in },
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
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
        if size == nextBlockSize, nextBlockSize < Self.retainedCapacity { nextBlockSize *= 2 }
        guard let block = malloc(size) else { fatalError("out of memory (\(size) bytes)") }
        blocks.append((block, size))
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
