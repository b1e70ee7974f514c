/// Lookups that concurrent callers share: a caller asking for a key whose lookup is already in flight
/// waits for that lookup's answer instead of making its own call. Nothing is kept once the lookup
/// ends, so an answer is never older than a lookup that began while its caller was already waiting.
/// The checkout coordinator prices carts through it: under load many carts hold the same popular
/// SKUs, and each SKU is then asked for once per round trip instead of once per cart.
public actor SharedLookups<Key: Hashable & Sendable, Value: Sendable> {
    private var inFlight: [Key: Task<Value, any Error>] = [:]

    public init() {}

    /// The value of `key`: the answer of the lookup in flight for it, or of a new one made with `lookup`.
    /// - Throws: what the shared lookup threw (every caller sharing it sees the same error).
    public func value(_ key: Key, lookup: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let running = inFlight[key] { return try await running.value }
        let task = Task { try await lookup() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        return try await task.value
    }
}
