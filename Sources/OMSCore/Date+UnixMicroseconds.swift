import Foundation

extension Date {
    /// Microseconds since the Unix epoch, rounded to the nearest microsecond (the precision of `DATETIME(6)`
    /// columns and of the `*_us` wire fields).
    public var unixMicroseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }

    /// The instant `unixMicroseconds` microseconds after the Unix epoch.
    /// - Parameter unixMicroseconds: microseconds since 1970-01-01T00:00:00Z (negative before it).
    public init(unixMicroseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicroseconds) / 1_000_000)
    }
}
