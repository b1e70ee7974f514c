/// Which checkouts the load generator sends again after the recovery window (`--replay-sample`): every one whose
/// first answer was unknown, then others, chosen by the seed, up to the limit.
///
/// Pure; no I/O.
public enum ReplaySample {
    /// - Parameters:
    ///   - outcomes: idempotency key → the first answer.
    ///   - limit: most keys (unknown first answers are all taken even beyond it); 0: none.
    ///   - seed: the run seed.
    /// - Returns: the keys, sorted.
    public static func keys(_ outcomes: [String: ClientOutcome], limit: Int, seed: UInt64) -> [String] {
        guard limit > 0 else { return [] }
        let unknown = outcomes.filter { !$0.value.isKnown }.keys.sorted()
        let room = max(0, limit - unknown.count)
        var rng = SplitMix64(seed: seed ^ 0x5EED_0F_4E91A7)
        let others = outcomes.filter(\.value.isKnown).keys.sorted().shuffled(using: &rng).prefix(room)
        return (unknown + others).sorted()
    }
}
