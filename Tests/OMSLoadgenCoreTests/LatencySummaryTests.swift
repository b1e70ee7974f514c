import Histogram
import OMSLoadgenCore
import Testing

@Suite struct LatencySummaryTests {
    func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    @Test func anEmptyHistogramIsAllZeros() {
        let s = LatencySummary(histogram())
        #expect(s == LatencySummary(histogram()))
        #expect(s.count == 0 && s.p50 == 0 && s.p90 == 0 && s.p99 == 0 && s.p999 == 0 && s.max == 0 && s.mean == 0)
    }

    @Test func percentilesAreInMillisecondsWithinThePrecision() {
        var h = histogram()
        // 1 ms … 1,000 ms, one value each (recorded in microseconds).
        for ms in 1...1000 { _ = h.record(UInt64(ms) * 1000) }
        let s = LatencySummary(h)
        func near(_ value: Double, _ expected: Double) -> Bool { abs(value - expected) <= expected * 0.002 }
        #expect(s.count == 1000)
        #expect(near(s.p50, 500), "p50 \(s.p50)")
        #expect(near(s.p90, 900), "p90 \(s.p90)")
        #expect(near(s.p99, 990), "p99 \(s.p99)")
        #expect(near(s.p999, 999), "p99.9 \(s.p999)")
        #expect(near(s.max, 1000), "max \(s.max)")
        #expect(near(s.mean, 500.5), "mean \(s.mean)")
        #expect(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max)
    }
}
