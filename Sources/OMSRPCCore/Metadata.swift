import OMSProto

/// Call and reply metadata: lower-case ASCII keys mapped to string values.
///
/// Keys are normalised to lower case on the way in, so lookups are case-insensitive.
///
/// A call carries a handful of entries (`authorization`, `x-request-id`, `traceparent`, …), so
/// they are kept in a small array and found by a linear scan, which is cheaper than building and
/// hashing into a dictionary for every call. Sets from the wire larger than
/// `Metadata.indexedThreshold` are deduplicated through a dictionary once, so a peer sending many
/// entries costs linear time.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: String)

    /// Keys unique and normalised, in insertion order.
    private var entries: [Element]

    /// Above this many wire entries, duplicates are found by hashing instead of scanning.
    static let indexedThreshold = 16

    public init() { entries = [] }
    public init(_ dictionary: [String: String]) {
        entries = []
        // Never for 0: reserving on the empty singleton allocates storage.
        if !dictionary.isEmpty { entries.reserveCapacity(dictionary.count) }
        for (k, v) in dictionary { self[k] = v }
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        entries = []
        // Never for 0: `[:]` is the common literal, and reserving allocates storage.
        if !elements.isEmpty { entries.reserveCapacity(elements.count) }
        for (k, v) in elements { self[k] = v }
    }

    /// Metadata from wire entries, in wire order (a later duplicate key wins). A key is
    /// lower-cased only when it is not already lower-case ASCII (the protocol's keys are).
    /// The `authorization` value, the same on every call of a connection, comes from `strings`.
    /// - Parameters:
    ///   - count: Number of entries.
    ///   - entry: The UTF-8 of the key and value of entry `index`.
    ///   - strings: The connection's recent strings.
    init(
        wireEntries count: Int, _ entry: (Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer),
        strings: inout FrameStringCache
    ) {
        entries = []
        guard count > 0 else { return }
        entries.reserveCapacity(count)
        var index: [String: Int]? = count > Self.indexedThreshold ? [:] : nil
        for wireIndex in 0..<count {
            let (keyBytes, valueBytes) = entry(wireIndex)
            let name = String(decoding: keyBytes, as: UTF8.self)
            let key = Self.isLowercaseASCII(keyBytes) ? name : name.lowercased()
            let value = key == Keys.authorization ? strings.string(valueBytes) : String(decoding: valueBytes, as: UTF8.self)
            if index != nil {
                if let existing = index![key] {
                    entries[existing].value = value
                } else {
                    index![key] = entries.count
                    entries.append((key, value))
                }
            } else if let existing = position(of: key) {
                entries[existing].value = value
            } else {
                entries.append((key, value))
            }
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

    private func position(of normalizedKey: String) -> Int? {
        entries.firstIndex { $0.key == normalizedKey }
    }

    public subscript(key: String) -> String? {
        get {
            let key = Self.normalized(key)
            for entry in entries where entry.key == key { return entry.value }
            return nil
        }
        set {
            let key = Self.normalized(key)
            switch (position(of: key), newValue) {
            case (let existing?, let value?): entries[existing].value = value
            case (let existing?, nil): entries.remove(at: existing)
            case (nil, let value?): entries.append((key, value))
            case (nil, nil): break
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }

    /// The entries as a dictionary (for the generated `oms.rpc.v1` types).
    public var storage: [String: String] {
        Dictionary(entries.lazy.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Equal when they map the same keys to the same values, in any order.
    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count > indexedThreshold { return lhs.storage == rhs.storage }
        for entry in lhs.entries where rhs[entry.key] != entry.value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, like a dictionary's hash.
        var combined = 0
        for entry in entries {
            var entryHasher = Hasher()
            entryHasher.combine(entry.key)
            entryHasher.combine(entry.value)
            combined ^= entryHasher.finalize()
        }
        hasher.combine(entries.count)
        hasher.combine(combined)
    }

    /// Hands `body` the entries sorted by key (the order the generated protobuf encoder writes
    /// map entries in), from a temporary buffer instead of a new array.
    /// - Parameter body: Reads the entries; must not keep the buffer.
    /// - Returns: What `body` returns.
    public func withSortedEntries<R>(
        _ body: (UnsafeBufferPointer<RpcV1.MetadataEntry>) throws -> R
    ) rethrows -> R {
        if entries.isEmpty { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try withUnsafeTemporaryAllocation(of: RpcV1.MetadataEntry.self, capacity: entries.count) {
            buffer in
            var count = 0
            for (key, value) in entries {
                (buffer.baseAddress! + count).initialize(to: RpcV1.MetadataEntry(key: key, value: value))
                count += 1
            }
            defer { buffer.baseAddress!.deinitialize(count: count) }
            var sorted = UnsafeMutableBufferPointer(rebasing: buffer[..<count])
            if count > 1 { sorted.sort { $0.key < $1.key } }
            return try body(UnsafeBufferPointer(sorted))
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
