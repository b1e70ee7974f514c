import Metrics
import NIOCore
import OMSRPCCore

/// Which end of a call metrics describe: the label prefix is `rpc_server_` or `rpc_client_`.
enum RPCMetricsSide: String, Sendable {
    case server
    case client
}

/// The process-wide gauges of one side (connections, calls in flight).
struct RPCGauges: Sendable {
    let connections: Meter
    let callsInFlight: Meter

    init(side: RPCMetricsSide) {
        connections = Meter(label: "rpc_\(side.rawValue)_connections")
        callsInFlight = Meter(label: "rpc_\(side.rawValue)_calls_in_flight")
    }
}

/// Per-connection cache of the per-method counters and timers, so recording a call is one
/// dictionary lookup instead of factory calls. Confined to the connection's event loop.
struct RPCMethodMetricsCache {
    /// A reference, so one lookup serves the timer and the counter.
    private final class Entry {
        let duration: Timer
        /// The counter of code 0, the common case, outside the dictionary.
        var ok: Counter?
        var calls: [Int32: Counter] = [:]

        init(duration: Timer) { self.duration = duration }
    }

    private let callsLabel: String
    private let durationLabel: String
    private var entries: [String: Entry] = [:]
    /// The last method recorded: a connection tends to call the same method again, and a string
    /// comparison is cheaper than hashing the path. Kept apart, so checking it copies nothing.
    private var lastMethod = ""
    private var lastEntry: Entry?

    init(side: RPCMetricsSide) {
        callsLabel = "rpc_\(side.rawValue)_calls_total"
        durationLabel = "rpc_\(side.rawValue)_call_duration"
    }

    /// Records one finished call.
    /// - Parameters:
    ///   - method: The method path.
    ///   - code: The call's final status code.
    ///   - nanoseconds: How long the call took.
    mutating func record(method: String, code: RPCStatusCode, nanoseconds: Int64) {
        let entry: Entry
        if let lastEntry, lastMethod == method {
            entry = lastEntry
        } else if let cached = entries[method] {
            entry = cached
            lastMethod = method
            lastEntry = cached
        } else {
            if entries.count >= 512 {
                // A peer sending endless distinct unknown methods must not grow this forever.
                entries.removeAll(keepingCapacity: true)
            }
            entry = Entry(duration: Timer(label: durationLabel, dimensions: [("method", method)]))
            entries[method] = entry
            lastMethod = method
            lastEntry = entry
        }
        entry.duration.recordNanoseconds(nanoseconds)
        if code == .ok, let ok = entry.ok {
            ok.increment()
        } else if let counter = entry.calls[code.rawValue] {
            counter.increment()
        } else {
            let counter = Counter(label: callsLabel, dimensions: [("method", method), ("code", code.description)])
            if code == .ok { entry.ok = counter } else { entry.calls[code.rawValue] = counter }
            counter.increment()
        }
    }
}
