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

/// Per-connection cache of the per-method counters and timers, so recording a call is a
/// dictionary lookup instead of a factory call. Confined to the connection's event loop.
struct RPCMethodMetricsCache {
    private struct Entry {
        let duration: Timer
        var calls: [Int32: Counter]
    }

    private let callsLabel: String
    private let durationLabel: String
    private var entries: [String: Entry] = [:]

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
        if entries[method] == nil {
            if entries.count >= 512 {
                // A peer sending endless distinct unknown methods must not grow this forever.
                entries.removeAll(keepingCapacity: true)
            }
            entries[method] = Entry(duration: Timer(label: durationLabel, dimensions: [("method", method)]), calls: [:])
        }
        entries[method]!.duration.recordNanoseconds(nanoseconds)
        if let counter = entries[method]!.calls[code.rawValue] {
            counter.increment()
        } else {
            let counter = Counter(label: callsLabel, dimensions: [("method", method), ("code", code.description)])
            entries[method]!.calls[code.rawValue] = counter
            counter.increment()
        }
    }
}
