import NIOConcurrencyHelpers

/// Generates `x-request-id` values: 15 lower-case hex digits (60 bits), unique within the process
/// and unpredictable across processes.
///
/// Fifteen digits, not sixteen: Swift stores strings of up to 15 UTF-8 bytes inline, so an id
/// costs no allocation when it is made, sent, decoded by the server or copied into its logs.
///
/// `UInt64.random` asks the kernel for entropy on every call (a system call per RPC); this draws
/// one random seed and then runs a counter through a bijective mixer, so ids never repeat within a
/// process (for 2⁶⁰ calls) and look random. They are correlation ids, not secrets.
final class RequestIDGenerator: Sendable {
    static let shared = RequestIDGenerator()

    /// The ids' 60 bits.
    static let mask: UInt64 = (1 << 60) - 1

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
        // An odd multiplier and an offset keep n ↦ value one-to-one modulo 2⁶⁰.
        return Self.hex(Self.mix(seed &+ n &* 0x9E37_79B9_7F4A_7C15))
    }

    /// splitmix64's finaliser on 60 bits: every step — xor with a right shift, multiplication by
    /// an odd constant, both modulo 2⁶⁰ — is a bijection on 60-bit values, so distinct inputs
    /// give distinct ids.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value & mask
        z = ((z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9) & mask
        z = ((z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB) & mask
        return z ^ (z >> 31)
    }

    /// Exactly 15 lower-case hex digits of the low 60 bits, zero-padded.
    static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 15) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { table in
                for index in 0..<15 {
                    buffer[index] = table[Int((value >> UInt64(56 - 4 * index)) & 0xF)]
                }
            }
            return 15
        }
    }
}
