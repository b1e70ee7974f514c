#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The last few long strings decoded on one connection — the method path and the
/// `authorization` value, which a connection sends identically with every call — handed out
/// again when the same bytes arrive, instead of a new string allocated per frame. Strings of up
/// to 15 bytes are stored inline by Swift and never allocate, so they bypass the cache.
public struct FrameStringCache: Sendable {
    /// Most recently added last; at most `capacity`.
    private var strings: [String] = []
    private var nextSlot = 0
    private static let capacity = 4

    public init() {}

    /// `bytes` as a string: a cached one with the same UTF-8, or a new one (then cached).
    /// - Parameter bytes: UTF-8 (already validated).
    public mutating func string(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.count <= 15 { return String(decoding: bytes, as: UTF8.self) }
        for index in strings.indices where Self.equal(&strings[index], bytes) {
            return strings[index]
        }
        let string = String(decoding: bytes, as: UTF8.self)
        if strings.count < Self.capacity {
            strings.append(string)
        } else {
            // Oldest out: a connection alternating between a few methods keeps them all.
            strings[nextSlot] = string
            nextSlot = (nextSlot + 1) % Self.capacity
        }
        return string
    }

    private static func equal(_ string: inout String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        string.withUTF8 { utf8 in
            utf8.count == bytes.count && (utf8.count == 0 || memcmp(utf8.baseAddress!, bytes.baseAddress!, utf8.count) == 0)
        }
    }
}
