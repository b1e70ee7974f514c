import OMSProto

/// Call and reply metadata: lower-case ASCII keys mapped to string values.
///
/// Keys are normalised to lower case on the way in, so lookups are case-insensitive.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var storage: [String: String]

    public init() { storage = [:] }
    public init(_ dictionary: [String: String]) {
        storage = [:]
        // Never for 0: reserving on the empty singleton allocates storage.
        if !dictionary.isEmpty { storage.reserveCapacity(dictionary.count) }
        for (k, v) in dictionary { storage[Self.normalized(k)] = v }
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        storage = [:]
        // Never for 0: `[:]` is the common literal, and reserving allocates storage.
        if !elements.isEmpty { storage.reserveCapacity(elements.count) }
        for (k, v) in elements { storage[Self.normalized(k)] = v }
    }

    /// Metadata from wire entries, in wire order (a later duplicate key wins). A key is
    /// lower-cased only when it is not already lower-case ASCII (the protocol's keys are).
    /// - Parameters:
    ///   - count: Number of entries.
    ///   - entry: The UTF-8 of the key and value of entry `index`.
    init(wireEntries count: Int, _ entry: (Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)) {
        storage = [:]
        guard count > 0 else { return }
        storage.reserveCapacity(count)
        for index in 0..<count {
            let (key, value) = entry(index)
            let name = String(decoding: key, as: UTF8.self)
            storage[Self.isLowercaseASCII(key) ? name : name.lowercased()] = String(decoding: value, as: UTF8.self)
        }
    }

    /// Whether `lowercased()` would return the key unchanged without looking at Unicode tables.
    @inline(__always)
    static func isLowercaseASCII(_ bytes: some Sequence<UInt8>) -> Bool {
        for byte in bytes where byte >= 0x80 || (byte >= 0x41 && byte <= 0x5A) { return false }
        return true
    }

    /// `key` as stored: lower-case (without a new string when it already is, as every
    /// well-known key is).
    @inline(__always)
    static func normalized(_ key: String) -> String {
        var key = key
        let lower = key.withUTF8 { isLowercaseASCII($0) }
        return lower ? key : key.lowercased()
    }

    public subscript(key: String) -> String? {
        get { storage[Self.normalized(key)] }
        set { storage[Self.normalized(key)] = newValue }
    }

    public var isEmpty: Bool { storage.isEmpty }
    public var count: Int { storage.count }
    public func makeIterator() -> Dictionary<String, String>.Iterator { storage.makeIterator() }

    /// Hands `body` the entries sorted by key (the order the generated protobuf encoder writes
    /// map entries in), from a temporary buffer instead of a new array.
    /// - Parameter body: Reads the entries; must not keep the buffer.
    /// - Returns: What `body` returns.
    public func withSortedEntries<R>(
        _ body: (UnsafeBufferPointer<RpcV1.MetadataEntry>) throws -> R
    ) rethrows -> R {
        if storage.isEmpty { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try withUnsafeTemporaryAllocation(of: RpcV1.MetadataEntry.self, capacity: storage.count) {
            buffer in
            var count = 0
            for (key, value) in storage {
                (buffer.baseAddress! + count).initialize(to: RpcV1.MetadataEntry(key: key, value: value))
                count += 1
            }
            defer { buffer.baseAddress!.deinitialize(count: count) }
            var entries = UnsafeMutableBufferPointer(rebasing: buffer[..<count])
            entries.sort { $0.key < $1.key }
            return try body(UnsafeBufferPointer(entries))
        }
    }

    /// Well-known keys (docs/protocol.md).
    public enum Keys {
        public static let authorization = "authorization"
        public static let requestID = "x-request-id"
        public static let traceparent = "traceparent"
        public static let idempotencyKey = "idempotency-key"
    }
}
