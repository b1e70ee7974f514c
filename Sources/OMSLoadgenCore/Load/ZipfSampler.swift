import Foundation

/// Draws ranks 0..<n with Zipf popularity: P(rank k) ∝ 1 / (k + 1)^s. Rank 0 is the most popular.
///
/// The cumulative distribution is computed once (n doubles); each draw is a binary search.
/// Pure; no I/O.
public struct ZipfSampler: Sendable {
    /// Number of ranks.
    public let count: Int
    /// The exponent `s` (1.0 is the classic Zipf law; 0 is uniform).
    public let exponent: Double
    private let cumulative: [Double]

    /// - Parameters:
    ///   - count: number of ranks (≥ 1).
    ///   - exponent: Zipf exponent (≥ 0).
    public init(count: Int, exponent: Double) {
        precondition(count >= 1, "ZipfSampler needs at least one rank")
        precondition(exponent >= 0, "ZipfSampler exponent must not be negative")
        self.count = count
        self.exponent = exponent
        var sums = [Double]()
        sums.reserveCapacity(count)
        var total = 0.0
        for k in 0..<count {
            total += 1.0 / Self.power(Double(k + 1), exponent)
            sums.append(total)
        }
        cumulative = sums.map { $0 / total }
    }

    /// The probability of one rank.
    /// - Parameter rank: 0..<count.
    public func probability(of rank: Int) -> Double {
        precondition(rank >= 0 && rank < count)
        return rank == 0 ? cumulative[0] : cumulative[rank] - cumulative[rank - 1]
    }

    /// Draws a rank.
    /// - Parameter generator: the random source.
    public func sample<G: RandomNumberGenerator>(using generator: inout G) -> Int {
        rank(forUnit: Double.random(in: 0..<1, using: &generator))
    }

    /// The rank whose cumulative interval holds `u` (0 ≤ u < 1): the inverse of the distribution.
    /// - Parameter u: a uniform value in [0, 1).
    public func rank(forUnit u: Double) -> Int {
        var low = 0
        var high = count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] > u { high = mid } else { low = mid + 1 }
        }
        return low
    }

    private static func power(_ base: Double, _ exponent: Double) -> Double {
        exponent == 1 ? base : pow(base, exponent)
    }
}
