import Foundation
import Histogram
import NIOConcurrencyHelpers
import OMSCore
import OMSLoadgenCore

/// What the fulfilment stream of a run did (`--fulfil-fraction`).
struct FulfilmentSummary: Codable, Sendable {
    /// Placed orders the plan chose to fulfil.
    var orders = 0
    /// Of them, shipments marked shipped, and their units.
    var shipped = 0
    var unitsShipped: Int64 = 0
    /// Returns requested (and accepted), and their units.
    var returns = 0
    var unitsReturned: Int64 = 0
    /// Fulfilments that stopped, by `step/code`.
    var errors: [String: Int] = [:]
}

/// What the replay pass after the recovery window sent and got (`--replay-sample`); the audit's
/// `replays-agree` judges the answers.
struct ReplaySummary: Codable, Sendable {
    var sent = 0
    /// Replays of checkouts whose first answer was unknown.
    var firstUnknown = 0
    /// Answers by kind (`placed`, `rejected`, `unknown`).
    var answers: [String: Int] = [:]

    init(_ replays: [ReplayFacts]) {
        sent = replays.count
        firstUnknown = replays.filter { !$0.first.isKnown }.count
        for r in replays {
            let kind: String
            switch r.replay {
            case .placed: kind = "placed"
            case .rejected: kind = "rejected"
            case .unknown: kind = "unknown"
            }
            answers[kind, default: 0] += 1
        }
    }
}

/// Counters and latency histograms of a run (thread-safe). Latencies are in microseconds, from the time an
/// operation was due (open loop) or sent (closed loop) until its answer.
final class LoadStats: Sendable {
    struct State {
        var checkout = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var reads = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var interval = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var results: [CheckoutResultKind: Int] = [:]
        var errorCodes: [String: Int] = [:]
        var readsOK = 0
        var readErrors = 0
        var readKinds: [String: Int] = [:]
        var dropped = 0
        var placedUnits: Int64 = 0
        var lastPlacedAt: Duration?
        var soldOutAt: Duration?
        var firstOutOfStockAt: Duration?
        var outcomes: [String: ClientOutcome] = [:]
        var intervalCheckouts = 0
        var intervalPlaced = 0
        var intervalRejected = 0
        var intervalErrors = 0
        var fulfilment = FulfilmentSummary()
    }

    let state = NIOLockedValueBox(State())
    /// When set, the run counts as sold out once this many units were placed.
    let soldOutUnits: Int64?
    let start: ContinuousClock.Instant

    init(soldOutUnits: Int64? = nil, start: ContinuousClock.Instant = .now) {
        self.soldOutUnits = soldOutUnits
        self.start = start
    }

    /// Records a checkout's answer.
    func recordCheckout(
        key: String, kind: CheckoutResultKind, outcome: ClientOutcome, units: Int64, latency: Duration,
        errorCode: String? = nil
    ) {
        let micros = UInt64(max(0, latency.wholeMicroseconds))
        let now = ContinuousClock.now - start
        state.withLockedValue { s in
            _ = s.checkout.record(micros)
            _ = s.interval.record(micros)
            s.results[kind, default: 0] += 1
            s.outcomes[key] = outcome
            s.intervalCheckouts += 1
            switch kind {
            case .placed:
                s.intervalPlaced += 1
                s.placedUnits += units
                s.lastPlacedAt = now
                if let target = soldOutUnits, s.soldOutAt == nil, s.placedUnits >= target { s.soldOutAt = now }
            case .outOfStock:
                s.intervalRejected += 1
                if s.firstOutOfStockAt == nil { s.firstOutOfStockAt = now }
            case .declined, .invalid, .failed:
                s.intervalRejected += 1
            case .inProgress, .error:
                s.intervalErrors += 1
            }
            if let errorCode { s.errorCodes[errorCode, default: 0] += 1 }
        }
    }

    /// Records a read.
    func recordRead(kind: String, ok: Bool, latency: Duration, errorCode: String? = nil) {
        let micros = UInt64(max(0, latency.wholeMicroseconds))
        state.withLockedValue { s in
            _ = s.reads.record(micros)
            if ok { s.readsOK += 1 } else { s.readErrors += 1 }
            s.readKinds[kind, default: 0] += 1
            if let errorCode { s.errorCodes[errorCode, default: 0] += 1 }
        }
    }

    /// Updates the fulfilment counters.
    func recordFulfilment(_ change: (inout FulfilmentSummary) -> Void) {
        state.withLockedValue { change(&$0.fulfilment) }
    }

    /// Counts an operation that could not be sent because too many were in flight.
    func recordDropped() {
        state.withLockedValue { $0.dropped += 1 }
    }

    /// One progress line's numbers, resetting the interval counters.
    func takeInterval() -> (checkouts: Int, placed: Int, rejected: Int, errors: Int, p50: UInt64, p99: UInt64) {
        state.withLockedValue { s in
            let r = (
                s.intervalCheckouts, s.intervalPlaced, s.intervalRejected, s.intervalErrors,
                s.interval.totalCount > 0 ? s.interval.valueAtPercentile(50) : 0,
                s.interval.totalCount > 0 ? s.interval.valueAtPercentile(99) : 0
            )
            s.interval.reset()
            s.intervalCheckouts = 0
            s.intervalPlaced = 0
            s.intervalRejected = 0
            s.intervalErrors = 0
            return r
        }
    }

    func snapshot() -> State { state.withLockedValue { $0 } }
}
