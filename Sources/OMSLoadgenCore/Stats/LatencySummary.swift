import Histogram

/// Latency summary of one histogram of microseconds, in milliseconds: the percentiles the run's report and
/// JSON result show. Pure: reads the histogram, nothing else.
public struct LatencySummary: Codable, Sendable, Hashable {
    /// Values recorded.
    public var count: UInt64
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    /// Summarises a histogram; all zeros when it is empty.
    /// - Parameter h: latencies in microseconds.
    public init(_ h: Histogram<UInt64>) {
        count = h.totalCount
        func ms(_ v: UInt64) -> Double { Double(v) / 1000 }
        if h.totalCount == 0 {
            p50 = 0
            p90 = 0
            p99 = 0
            p999 = 0
            max = 0
            mean = 0
        } else {
            p50 = ms(h.valueAtPercentile(50))
            p90 = ms(h.valueAtPercentile(90))
            p99 = ms(h.valueAtPercentile(99))
            p999 = ms(h.valueAtPercentile(99.9))
            max = ms(h.max)
            mean = h.mean / 1000
        }
    }
}
