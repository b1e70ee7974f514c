import OMSLoadgenCore
import Testing

@Suite struct SplitMix64Tests {
    /// The reference outputs of SplitMix64 (Vigna's splitmix64.c) for seeds 0 and 1234567.
    @Test(arguments: [
        (UInt64(0), [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F] as [UInt64]),
        (UInt64(1_234_567), [0x599E_D017_FB08_FC85, 0x2C73_F084_5854_0FA5, 0x883E_BCE5_A3F2_7C77] as [UInt64]),
    ])
    func matchesTheReferenceSequence(seed: UInt64, expected: [UInt64]) {
        var rng = SplitMix64(seed: seed)
        #expect((0..<expected.count).map { _ in rng.next() } == expected)
    }

    @Test func sameSeedSameSequenceDifferentSeedDifferentSequence() {
        func draw(_ seed: UInt64) -> [UInt64] {
            var rng = SplitMix64(seed: seed)
            return (0..<64).map { _ in rng.next() }
        }
        #expect(draw(42) == draw(42))
        #expect(draw(42) != draw(43))
    }

    @Test func streamsAreDeterministicAndIndependent() {
        func first(_ seed: UInt64, _ stream: UInt64) -> [UInt64] {
            var rng = SplitMix64(seed: seed, stream: stream)
            return (0..<8).map { _ in rng.next() }
        }
        #expect(first(42, 7) == first(42, 7))
        // Neighbouring streams of one seed, and one stream of neighbouring seeds, all differ.
        let streams = Set((0..<1000).map { first(42, UInt64($0)) })
        #expect(streams.count == 1000)
        #expect(first(42, 7) != first(43, 7))
    }

    @Test func unitValuesAreInTheHalfOpenInterval() {
        var rng = SplitMix64(seed: 9)
        var sum = 0.0
        for _ in 0..<100_000 {
            let u = rng.nextUnit()
            #expect(u >= 0 && u < 1)
            sum += u
        }
        // Mean of 100,000 uniforms: 0.5 ± 0.0009 (1 σ); 0.01 is more than 10 σ.
        #expect(abs(sum / 100_000 - 0.5) < 0.01)
    }
}
