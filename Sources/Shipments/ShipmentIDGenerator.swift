import Foundation

/// Makes unique, time-ordered 64-bit shipment ids (decimal on the wire, BIGINT in the schema).
///
/// Layout, most significant first: sign bit 0 · 41 bits of milliseconds since 2024-01-01T00:00:00Z · 10 bits
/// of node id · 12 bits of sequence within the millisecond — the suite's id convention (proto/oms/common/v1),
/// so shipment ids sort with time like order ids. A clock that steps back keeps the last millisecond seen;
/// a millisecond whose 4,096 sequence numbers are used up borrows the next one.
public final class ShipmentIDGenerator: @unchecked Sendable {
    /// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
    public static let epochMilliseconds: Int64 = 1_704_067_200_000

    /// This instance's node id in 0..<1024.
    public let node: Int64
    // @unchecked Sendable: `lastMillis` and `sequence` are only touched while holding `lock`.
    private let lock = NSLock()
    private var lastMillis: Int64 = 0
    private var sequence: Int64 = 0
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - node: the node id; reduced modulo 1,024.
    ///   - now: the clock (tests inject one).
    public init(node: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.node = Int64(node) & 0x3FF
        self.now = now
    }

    /// The next id (always greater than the previous one of this generator).
    public func next() -> Int64 {
        let wall = max(0, Int64((now().timeIntervalSince1970 * 1000).rounded(.down)) - Self.epochMilliseconds)
        lock.lock()
        defer { lock.unlock() }
        if wall > lastMillis {
            lastMillis = wall
            sequence = 0
        } else if sequence < 0xFFF {
            sequence += 1
        } else {
            lastMillis += 1
            sequence = 0
        }
        return (lastMillis << 22) | (node << 12) | sequence
    }
}
