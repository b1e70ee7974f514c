/// The schedule of an open-loop load: operation `i` is due at `i / rate` seconds after the start,
/// whether or not earlier operations have finished. Latency is measured from the due time, not from
/// when the call was actually sent, so a stalled server cannot hide its queueing delay
/// (no coordinated omission).
///
/// Pure; no clock of its own: callers pass elapsed time in.
public struct OpenLoopPacer: Sendable, Hashable {
    /// Operations per second (> 0).
    public let rate: Double

    /// - Parameter rate: operations per second; must be positive.
    public init(rate: Double) {
        precondition(rate > 0, "rate must be positive")
        self.rate = rate
    }

    /// When operation `index` is due, in nanoseconds after the start.
    /// - Parameter index: 0-based operation index.
    public func dueOffsetNanoseconds(of index: Int) -> Int64 {
        Int64((Double(index) * 1_000_000_000 / rate).rounded(.down))
    }

    /// How many operations are due by `elapsedNanoseconds` (operations 0..<result).
    /// - Parameter elapsedNanoseconds: time since the start.
    public func dueCount(atNanoseconds elapsedNanoseconds: Int64) -> Int {
        guard elapsedNanoseconds >= 0 else { return 0 }
        return Int((Double(elapsedNanoseconds) * rate / 1_000_000_000).rounded(.down)) + 1
    }

    /// Total operations in a run of `seconds`.
    /// - Parameter seconds: run length.
    public func total(forSeconds seconds: Double) -> Int {
        max(0, Int((seconds * rate).rounded(.down)))
    }
}

/// How a load is driven.
public enum LoadMode: Sendable, Hashable, CustomStringConvertible {
    /// A fixed number of callers, each sending its next operation when the last one answered.
    case closedLoop(concurrency: Int)
    /// Operations at a target rate regardless of answers, with at most `maxInFlight` outstanding
    /// (beyond that an operation is counted as dropped, which shows saturation).
    case openLoop(rate: Double, maxInFlight: Int)

    public var description: String {
        switch self {
        case .closedLoop(let c): "closed-loop, \(c) callers"
        case .openLoop(let r, let m): "open-loop, \(Int(r))/s (max \(m) in flight)"
        }
    }
}
