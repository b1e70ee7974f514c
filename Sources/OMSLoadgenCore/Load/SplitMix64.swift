/// A small, fast, seedable pseudo-random generator (SplitMix64). Runs with one seed make the same
/// choices, whatever the concurrency: every operation derives its own generator from the run seed and
/// its index (`SplitMix64(seed:stream:)`), so the order in which tasks run does not matter.
///
/// Pure; no I/O.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// - Parameter seed: the seed.
    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for one item of a run: independent of how many other items were drawn before.
    /// - Parameters:
    ///   - seed: the run seed.
    ///   - stream: the item's index (or another stable number).
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = mixer.next() ^ stream
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}
