import OMSCore
import Foundation

/// Time-ordered 64-bit order ids.
///
/// Layout (most significant first): 1 sign bit (always 0) · 41 bits of milliseconds since
/// `TimeOrderedIDGenerator.epochMilliseconds` (2024-01-01T00:00:00Z, good until 2093) · 10 bits of node id · 12 bits of
/// sequence within the millisecond. Ids grow with time, so `orders` is RANGE-partitioned by id:
/// the boundary of a month is `OrderID.firstID(at: first instant of that month)`, and a date
/// range becomes an id range that prunes partitions.
public enum OrderID {
    /// The smallest id that can be made at or after `date` (node 0, sequence 0).
    /// - Parameter date: an instant at or after the epoch.
    public static func firstID(at date: Date) -> Int64 { TimeOrderedIDGenerator.firstID(at: date) }

    /// The instant encoded in an id (millisecond precision).
    /// - Parameter id: an order id.
    public static func date(of id: Int64) -> Date { TimeOrderedIDGenerator.date(of: id) }

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

/// Order ids follow the suite's time-ordered id convention (`TimeOrderedIDGenerator`).
public typealias OrderIDGenerator = TimeOrderedIDGenerator
