/// Call and reply metadata: lower-case ASCII keys mapped to string values.
///
/// Keys are normalised to lower case on the way in, so lookups are case-insensitive.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var storage: [String: String]

    public init() { storage = [:] }
    public init(_ dictionary: [String: String]) {
        storage = [:]
        for (k, v) in dictionary { storage[k.lowercased()] = v }
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        storage = [:]
        for (k, v) in elements { storage[k.lowercased()] = v }
    }

    public subscript(key: String) -> String? {
        get { storage[key.lowercased()] }
        set { storage[key.lowercased()] = newValue }
    }

    public var isEmpty: Bool { storage.isEmpty }
    public var count: Int { storage.count }
    public func makeIterator() -> Dictionary<String, String>.Iterator { storage.makeIterator() }

    /// Well-known keys (docs/protocol.md).
    public enum Keys {
        public static let authorization = "authorization"
        public static let requestID = "x-request-id"
        public static let traceparent = "traceparent"
        public static let idempotencyKey = "idempotency-key"
    }
}
