import Foundation

/// Time-ordered 64-bit order ids.
///
/// Layout (most significant first): 1 sign bit (always 0) · 41 bits of milliseconds since
/// `OrderID.epoch` (2024-01-01T00:00:00Z, good until 2093) · 10 bits of node id · 12 bits of
/// sequence within the millisecond. Ids grow with time, so `orders` is RANGE-partitioned by id:
/// the boundary of a month is `OrderID.firstID(at: first instant of that month)`, and a date
/// range becomes an id range that prunes partitions.
public enum OrderID {
    /// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
    public static let epochMilliseconds: Int64 = 1_704_067_200_000
    /// Bits below the timestamp.
    public static let timestampShift: Int64 = 22
    /// Bits of the node id.
    public static let nodeBits: Int64 = 10
    /// Bits of the per-millisecond sequence.
    public static let sequenceBits: Int64 = 12

    /// The smallest id that can be made at or after `date` (node 0, sequence 0).
    /// - Parameter date: an instant at or after the epoch.
    public static func firstID(at date: Date) -> Int64 {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) - epochMilliseconds
        return max(0, ms) << timestampShift
    }

    /// The instant encoded in an id (millisecond precision).
    /// - Parameter id: an order id.
    public static func date(of id: Int64) -> Date {
        Date(timeIntervalSince1970: Double((id >> timestampShift) + epochMilliseconds) / 1000)
    }

    /// The first instant of the UTC month containing `date`, and of the following month.
    static func monthBounds(containing date: Date) -> (start: Date, next: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: date)
        let start = calendar.date(from: parts)!
        let next = calendar.date(byAdding: .month, value: 1, to: start)!
        return (start, next)
    }

    /// The partition name of the month starting at `monthStart`: `p202611`.
    static func partitionName(monthStart: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: monthStart)
        return String(format: "p%04d%02d", parts.year!, parts.month!)
    }
}

/// Makes unique time-ordered ids for one process (one node id per running instance).
///
/// Thread-safe. When the clock steps backwards the generator keeps using the last millisecond it
/// saw (ids stay increasing); when a millisecond's 4,096 sequence numbers run out it moves to the
/// next millisecond.
public final class OrderIDGenerator: @unchecked Sendable {
    private struct State {
        var lastMillis: Int64 = 0
        var sequence: Int64 = 0
    }

    /// The node id in 0..<1024.
    public let node: Int64
    // @unchecked Sendable: `state` is only touched under `lock`.
    private let lock = NSLock()
    private var state = State()
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - node: this instance's node id; reduced modulo 1,024.
    ///   - now: the clock (tests inject one).
    public init(node: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.node = Int64(node) & ((1 << OrderID.nodeBits) - 1)
        self.now = now
    }

    /// The next id.
    public func next() -> Int64 {
        let wall = Int64((now().timeIntervalSince1970 * 1000).rounded(.down)) - OrderID.epochMilliseconds
        lock.lock()
        defer { lock.unlock() }
        let (ms, seq) = { (s: inout State) -> (Int64, Int64) in
            if wall > s.lastMillis {
                s.lastMillis = wall
                s.sequence = 0
            } else {
                s.sequence += 1
                if s.sequence >= (1 << OrderID.sequenceBits) {
                    s.lastMillis += 1
                    s.sequence = 0
                }
            }
            return (s.lastMillis, s.sequence)
        }(&state)
        return ms << OrderID.timestampShift | node << OrderID.sequenceBits | seq
    }
}
