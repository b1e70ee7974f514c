import Foundation

/// The suite's id convention (proto/oms/common/v1, docs/proto-conventions.md): a 64-bit id that
/// sorts with time, written as a decimal string on the wire and a BIGINT in the schemas.
///
/// Layout, most significant first: sign bit 0 · 41 bits of milliseconds since
/// 2024-01-01T00:00:00Z (good until 2093) · 10 bits of node id · 12 bits of sequence within the
/// millisecond. Instances of a service get distinct node ids (`--node-id`), so ids never collide
/// across processes. A clock that steps back keeps the last millisecond seen; a millisecond whose
/// 4,096 sequence numbers are used up borrows the next one, so ids of one generator always increase.
/// Because the high bits are time, RANGE partitions by id line up with months (orders).
public final class TimeOrderedIDGenerator: @unchecked Sendable {
    // @unchecked Sendable: `lastMillis` and `sequence` are only touched while holding `lock`.
    /// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
    public static let epochMilliseconds: Int64 = 1_704_067_200_000
    public static let timestampShift: Int64 = 22
    public static let nodeBits: Int64 = 10
    public static let sequenceBits: Int64 = 12

    /// This instance's node id in 0..<1024.
    public let node: Int64
    private let lock = NSLock()
    private var lastMillis: Int64 = 0
    private var sequence: Int64 = 0
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - node: the node id; reduced modulo 1,024.
    ///   - now: the clock (tests inject one).
    public init(node: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.node = Int64(node) & ((1 << Self.nodeBits) - 1)
        self.now = now
    }

    /// The next id (always greater than the previous one of this generator).
    public func next() -> Int64 {
        let wall = max(0, Int64((now().timeIntervalSince1970 * 1000).rounded(.down)) - Self.epochMilliseconds)
        return lock.withLock {
            if wall > lastMillis {
                lastMillis = wall
                sequence = 0
            } else if sequence < (1 << Self.sequenceBits) - 1 {
                sequence += 1
            } else {
                lastMillis += 1
                sequence = 0
            }
            return lastMillis << Self.timestampShift | node << Self.sequenceBits | sequence
        }
    }

    /// The smallest id that can be made at `date` (partition boundaries, time-range queries).
    public static func firstID(at date: Date) -> Int64 {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) - epochMilliseconds
        return max(0, ms) << timestampShift
    }

    /// The time encoded in an id, to the millisecond.
    public static func date(of id: Int64) -> Date {
        Date(timeIntervalSince1970: Double((id >> timestampShift) + epochMilliseconds) / 1000)
    }
}
