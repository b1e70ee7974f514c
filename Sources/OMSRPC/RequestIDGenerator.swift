import NIOConcurrencyHelpers

/// Generates `x-request-id` values: 16 lower-case hex digits, unique within the process and
/// unpredictable across processes.
///
/// `UInt64.random` asks the kernel for entropy on every call (a system call per RPC); this draws
/// one random seed and then runs a counter through splitmix64's bijective mixer, so ids never
/// repeat within a process (for 2⁶⁴ calls) and look random. They are correlation ids, not secrets.
final class RequestIDGenerator: Sendable {
    static let shared = RequestIDGenerator()

    private let seed: UInt64
    private let counter = NIOLockedValueBox<UInt64>(0)

    init(seed: UInt64 = .random(in: .min ... .max)) {
        self.seed = seed
    }

    /// The next id.
    func next() -> String {
        let n = counter.withLockedValue { value in
            value &+= 1
            return value
        }
        return Self.hex(Self.mix(seed &+ n &* 0x9E37_79B9_7F4A_7C15))
    }

    /// splitmix64's finaliser: a bijection on 64-bit values.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Exactly 16 lower-case hex digits, zero-padded.
    static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { table in
                for index in 0..<16 {
                    buffer[index] = table[Int((value >> UInt64(60 - 4 * index)) & 0xF)]
                }
            }
            return 16
        }
    }
}
