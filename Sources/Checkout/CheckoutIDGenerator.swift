import Foundation

/// Mints checkout ids: time-ordered 64-bit ids as in proto/oms/common/v1 (docs/proto-conventions.md).
///
/// Layout, most significant first: sign bit 0 · 41 bits of milliseconds since 2024-01-01T00:00:00Z ·
/// 10 bits of node id · 12 bits of sequence. Give every coordinator instance its own node id
/// (`node-id`); a collision is still caught by the primary key and retried with a fresh id.
public final class CheckoutIDGenerator: @unchecked Sendable {
    /// 2024-01-01T00:00:00Z in Unix milliseconds.
    public static let epochMilliseconds: Int64 = 1_704_067_200_000
    private let node: Int64
    // Guarded by `lock`; that is why the class is `@unchecked Sendable`.
    private let lock = NSLock()
    private var lastMillis: Int64 = 0
    private var sequence: Int64 = 0

    /// Creates a generator.
    /// - Parameter node: 0…1023.
    public init(node: Int) {
        self.node = Int64(node) & 0x3FF
    }

    /// The next id; strictly increasing within this generator.
    public func next() -> Int64 {
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) - Self.epochMilliseconds
        lock.lock()
        defer { lock.unlock() }
        if now > lastMillis {
            lastMillis = now
            sequence = 0
        } else {
            sequence += 1
            if sequence > 0xFFF {
                lastMillis += 1
                sequence = 0
            }
        }
        return (lastMillis << 22) | (node << 12) | sequence
    }
}
