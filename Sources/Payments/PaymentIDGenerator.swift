import Foundation

/// Time-ordered 64-bit ids: milliseconds since 2020-01-01 UTC in the high 42 bits, then a
/// 22-bit sequence that starts at a random point each millisecond. Ids from one generator
/// strictly increase; two processes collide only if they pick the same sequence in the same
/// millisecond, which the primary key turns into a retry.
public final class PaymentIDGenerator: @unchecked Sendable {
    // @unchecked Sendable: `last` is only read and written while `lock` is held.
    private let lock = NSLock()
    private var last: UInt64 = 0
    /// 2020-01-01T00:00:00Z in Unix milliseconds.
    static let epochMilliseconds: UInt64 = 1_577_836_800_000

    public init() {}

    /// The next id.
    public func next() -> UInt64 {
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000)) &- Self.epochMilliseconds
        let candidate = now << 22 | UInt64.random(in: 0..<(1 << 20))
        lock.lock()
        defer { lock.unlock() }
        last = max(candidate, last + 1)
        return last
    }

    /// The Unix time in milliseconds encoded in an id.
    public static func unixMilliseconds(of id: UInt64) -> UInt64 { (id >> 22) + epochMilliseconds }
}
