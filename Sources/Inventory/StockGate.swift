import Foundation
import Logging
import OMSRedis

/// One line of a reservation: a SKU and a positive quantity.
public struct StockLine: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// Units, 1...1,000,000.
    public var quantity: Int64

    /// Creates a line.
    public init(sku: String, quantity: Int64) {
        self.sku = sku
        self.quantity = quantity
    }

    /// A stable digest of lines (order-independent): FNV-1a over the sorted `sku=qty` text, twice.
    static func digest(_ lines: [StockLine]) -> String {
        let text = lines.sorted { $0.sku < $1.sku }.map { "\($0.sku)=\($0.quantity)" }.joined(separator: "\n")
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in text.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            return h
        }
        let a = String(fnv(0xcbf2_9ce4_8422_2325), radix: 16)
        let b = String(fnv(0x8422_2325_cbf2_9ce4), radix: 16)
        return String(repeating: "0", count: 16 - a.count) + a + String(repeating: "0", count: 16 - b.count) + b
    }
}

/// Redis key names of the gate under a configurable prefix.
public struct StockGateKeys: Sendable, Hashable {
    /// The prefix, e.g. `oms:inv:`.
    public let prefix: String

    /// - Parameter prefix: key prefix; must not contain `{` or `}` (hash tags are placed around SKUs).
    public init(prefix: String) {
        self.prefix = prefix
    }

    /// `P{sku}:avail`.
    public func available(_ sku: String) -> String { "\(prefix){\(sku)}:avail" }
    /// `P{sku}:holds`.
    public func holds(_ sku: String) -> String { "\(prefix){\(sku)}:holds" }
    /// `Pres:{id}`.
    public func reservation(_ id: String) -> String { "\(prefix)res:{\(id)}" }
}

/// What the gate said about a reservation.
enum GateReserveResult: Sendable, Equatable {
    /// Units taken under the given token.
    case taken
    /// The id was seen before: its state (`gate`, `db`, `released`, `tomb`), token and lines digest.
    case duplicate(state: String, token: String, digest: String)
    /// These SKUs have no gate key yet (warm them from MySQL and retry).
    case missing([String])
    /// Not enough units in the gate: SKU → units the gate has.
    case short([String: Int64])
}

/// One SKU as the reconciler sees it in Redis.
struct GateSnapshot: Sendable {
    var sku: String
    var units: Int64?
    /// In-flight holds: reservation id → (quantity, token, unix seconds).
    var holds: [String: (quantity: Int64, token: String, at: Int64)]
}

/// The Redis side of the stock gate: typed calls of `StockGateScripts`. Every method throws `RedisError`
/// when Redis cannot be used; callers fall back to MySQL.
struct StockGate: Sendable {
    let redis: RedisClient
    let keys: StockGateKeys
    /// Timeout of each gate command: short, so a sick Redis sends traffic to MySQL quickly.
    let timeout: Duration

    private func lineKeys(_ skus: [String]) -> [any RedisArgument] {
        var k: [any RedisArgument] = []
        for s in skus {
            k.append(keys.available(s))
            k.append(keys.holds(s))
        }
        return k
    }

    /// Takes units for all lines or none.
    func reserve(id: String, token: String, lines: [StockLine], digest: String, keyTTLSeconds: Int64) async throws
        -> GateReserveResult
    {
        let keyList: [any RedisArgument] = [keys.reservation(id)] + lineKeys(lines.map(\.sku))
        var args: [any RedisArgument] = [id, token, keyTTLSeconds, digest]
        args += lines.map { $0.quantity as any RedisArgument }
        let reply = try await redis.evalScript(StockGateScripts.reserve, keys: keyList, args: args, timeout: timeout)
        guard let parts = reply.array, let tag = parts.first?.string else {
            throw RedisError(kind: .protocol, message: "gate reserve replied \(reply)")
        }
        switch tag {
        case "OK":
            return .taken
        case "DUP" where parts.count == 4:
            return .duplicate(
                state: parts[1].string ?? "", token: parts[2].string ?? "", digest: parts[3].string ?? "")
        case "MISSING" where parts.count == 2:
            let idx = (parts[1].array ?? []).compactMap(\.int)
            return .missing(idx.compactMap { lines.indices.contains(Int($0) - 1) ? lines[Int($0) - 1].sku : nil })
        case "SHORT" where parts.count == 2:
            let flat = (parts[1].array ?? []).compactMap(\.int)
            var out: [String: Int64] = [:]
            var i = 0
            while i + 1 < flat.count {
                let k = Int(flat[i]) - 1
                if lines.indices.contains(k) { out[lines[k].sku] = flat[i + 1] }
                i += 2
            }
            return .short(out)
        default:
            throw RedisError(kind: .protocol, message: "gate reserve replied \(reply)")
        }
    }

    /// Settles a take against the token MySQL recorded.
    @discardableResult
    func settle(id: String, databaseToken: String, skus: [String]) async throws -> Int64 {
        let reply = try await redis.evalScript(
            StockGateScripts.settle, keys: [keys.reservation(id)] + lineKeys(skus), args: [id, databaseToken],
            timeout: timeout)
        return reply.int ?? 0
    }

    /// Gives back a take MySQL did not accept; `newState` nil deletes the reservation key.
    @discardableResult
    func undo(id: String, token: String, skus: [String], newState: String?, keyTTLSeconds: Int64) async throws -> Bool {
        let reply = try await redis.evalScript(
            StockGateScripts.undo, keys: [keys.reservation(id)] + lineKeys(skus),
            args: [id, token, newState ?? "", keyTTLSeconds], timeout: timeout)
        return reply.int == 1
    }

    /// Returns released units to the gate (once per reservation).
    @discardableResult
    func release(id: String, lines: [StockLine], keyTTLSeconds: Int64) async throws -> Bool {
        var args: [any RedisArgument] = [id, keyTTLSeconds]
        args += lines.map { $0.quantity as any RedisArgument }
        let reply = try await redis.evalScript(
            StockGateScripts.release, keys: [keys.reservation(id)] + lineKeys(lines.map(\.sku)), args: args,
            timeout: timeout)
        return reply.int == 1
    }

    /// Records a release-before-reserve.
    func tombstone(id: String, keyTTLSeconds: Int64) async throws {
        try await redis.evalScript(
            StockGateScripts.tombstone, keys: [keys.reservation(id)], args: [keyTTLSeconds], timeout: timeout)
    }

    /// Applies a stock adjustment to a warm key.
    func adjust(sku: String, delta: Int64) async throws {
        guard delta != 0 else { return }
        try await redis.evalScript(StockGateScripts.adjust, keys: [keys.available(sku)], args: [delta], timeout: timeout)
    }

    /// `SET avail value NX`: warms a missing key; returns whether this call set it.
    func warm(sku: String, units: Int64) async throws -> Bool {
        let reply = try await redis.send(RedisCommand("SET", keys.available(sku), units, "NX"), timeout: timeout)
        return !reply.isNull
    }

    /// The units of several SKUs (nil where the key is missing).
    func units(_ skus: [String]) async throws -> [Int64?] {
        guard !skus.isEmpty else { return [] }
        let reply = try await redis.send(RedisCommand("MGET", skus.map { keys.available($0) }), timeout: timeout)
        return (reply.array ?? []).map { $0.int }
    }

    /// Units and holds of several SKUs, read atomically.
    func snapshot(_ skus: [String]) async throws -> [GateSnapshot] {
        guard !skus.isEmpty else { return [] }
        let reply = try await redis.evalScript(StockGateScripts.snapshot, keys: lineKeys(skus), args: [], timeout: timeout)
        let parts = reply.array ?? []
        guard parts.count == 2 * skus.count else {
            throw RedisError(kind: .protocol, message: "gate snapshot replied \(parts.count) parts")
        }
        var out: [GateSnapshot] = []
        for (i, sku) in skus.enumerated() {
            var holds: [String: (quantity: Int64, token: String, at: Int64)] = [:]
            let flat = parts[2 * i + 1].array ?? []
            var j = 0
            while j + 1 < flat.count {
                if let id = flat[j].string, let v = flat[j + 1].string {
                    let f = v.split(separator: ":", omittingEmptySubsequences: false)
                    if f.count == 3, let q = Int64(f[0]), let at = Int64(f[2]) {
                        holds[id] = (q, String(f[1]), at)
                    }
                }
                j += 2
            }
            out.append(GateSnapshot(sku: sku, units: parts[2 * i].int, holds: holds))
        }
        return out
    }

    /// Compare-and-set repair of one SKU's units.
    func repair(sku: String, measured: Int64, units: Int64) async throws -> Bool {
        let reply = try await redis.evalScript(
            StockGateScripts.repair, keys: [keys.available(sku)], args: [measured, units], timeout: timeout)
        return reply.int == 1
    }

    /// Drops a stale hold, returning its units unless MySQL has the take.
    func dropHold(sku: String, id: String, token: String, returnUnits: Bool) async throws -> Bool {
        let reply = try await redis.evalScript(
            StockGateScripts.dropHold, keys: [keys.available(sku), keys.holds(sku)],
            args: [id, token, returnUnits ? "return" : "confirm"], timeout: timeout)
        return reply.int == 1
    }

    /// Deletes the gate keys of some SKUs (they are warmed from MySQL on next use).
    func forget(_ skus: [String]) async throws {
        guard !skus.isEmpty else { return }
        try await redis.send(RedisCommand("DEL", skus.map { keys.available($0) }), timeout: timeout)
    }

    /// Deletes every key under the prefix (SCAN + DEL): the "flush" of this gate only. For tests and
    /// operators; other users of the Redis database are untouched.
    /// - Returns: how many keys were deleted.
    func deleteAllKeys() async throws -> Int {
        var cursor = "0"
        var deleted = 0
        repeat {
            let reply = try await redis.send(
                RedisCommand("SCAN", cursor, "MATCH", Self.globEscaped(keys.prefix) + "*", "COUNT", 1000))
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw RedisError(kind: .protocol, message: "SCAN replied \(reply)")
            }
            cursor = next
            let found = (parts[1].array ?? []).compactMap(\.bytes)
            if !found.isEmpty {
                let n = try await redis.send(RedisCommand("DEL", found.map { $0 as any RedisArgument }))
                deleted += Int(n.int ?? 0)
            }
        } while cursor != "0"
        return deleted
    }

    static func globEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
