import OMSLoadgenCore
import Testing

@Suite struct ZipfSamplerTests {
    @Test func probabilitiesFollowTheLaw() {
        // s = 1, n = 3: weights 1, 1/2, 1/3 over 11/6.
        let z = ZipfSampler(count: 3, exponent: 1)
        #expect(abs(z.probability(of: 0) - 6.0 / 11) < 1e-12)
        #expect(abs(z.probability(of: 1) - 3.0 / 11) < 1e-12)
        #expect(abs(z.probability(of: 2) - 2.0 / 11) < 1e-12)

        let big = ZipfSampler(count: 1000, exponent: 1.2)
        let total = (0..<1000).reduce(0.0) { $0 + big.probability(of: $1) }
        #expect(abs(total - 1) < 1e-9)
        for k in 1..<1000 { #expect(big.probability(of: k) < big.probability(of: k - 1), "rank \(k)") }
    }

    @Test func exponentZeroIsUniform() {
        let z = ZipfSampler(count: 4, exponent: 0)
        for k in 0..<4 { #expect(abs(z.probability(of: k) - 0.25) < 1e-12) }
    }

    @Test func inverseDistributionBoundaries() {
        let z = ZipfSampler(count: 3, exponent: 1)
        #expect(z.rank(forUnit: 0) == 0)
        #expect(z.rank(forUnit: 6.0 / 11 - 1e-9) == 0)
        #expect(z.rank(forUnit: 6.0 / 11 + 1e-9) == 1)
        #expect(z.rank(forUnit: 9.0 / 11 + 1e-9) == 2)
        #expect(z.rank(forUnit: 0.999_999_999) == 2)
        #expect(ZipfSampler(count: 1, exponent: 1).rank(forUnit: 0.7) == 0)
    }

    @Test func rankOneIsTheMostFrequentAndFrequenciesMatch() {
        let z = ZipfSampler(count: 50, exponent: 1)
        var rng = SplitMix64(seed: 2024)
        var counts = [Int](repeating: 0, count: 50)
        let n = 200_000
        for _ in 0..<n { counts[z.sample(using: &rng)] += 1 }
        #expect(counts.firstIndex(of: counts.max()!) == 0)
        #expect(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[9])
        // Each share within 0.005 of its probability (σ ≤ 0.0011 for n = 200,000).
        for k in 0..<50 {
            #expect(abs(Double(counts[k]) / Double(n) - z.probability(of: k)) < 0.005, "rank \(k)")
        }
    }

    @Test func sameSeedSameDraws() {
        let z = ZipfSampler(count: 100, exponent: 1)
        func draws(_ seed: UInt64) -> [Int] {
            var rng = SplitMix64(seed: seed)
            return (0..<500).map { _ in z.sample(using: &rng) }
        }
        #expect(draws(5) == draws(5))
        #expect(draws(5) != draws(6))
    }
}
