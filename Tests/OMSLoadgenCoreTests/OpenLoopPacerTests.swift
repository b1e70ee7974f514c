import OMSLoadgenCore
import Testing

@Suite struct OpenLoopPacerTests {
    @Test func scheduleAtAHundredPerSecond() {
        let p = OpenLoopPacer(rate: 100)
        #expect(p.dueOffsetNanoseconds(of: 0) == 0)
        #expect(p.dueOffsetNanoseconds(of: 1) == 10_000_000)
        #expect(p.dueOffsetNanoseconds(of: 100) == 1_000_000_000)
        #expect(p.dueCount(atNanoseconds: -1) == 0)
        #expect(p.dueCount(atNanoseconds: 0) == 1)
        #expect(p.dueCount(atNanoseconds: 9_999_999) == 1)
        #expect(p.dueCount(atNanoseconds: 10_000_000) == 2)
        #expect(p.dueCount(atNanoseconds: 1_000_000_000) == 101)
        #expect(p.total(forSeconds: 2.5) == 250)
        #expect(p.total(forSeconds: -1) == 0)
    }

    /// Operation i is due exactly at its offset and not a nanosecond earlier, for rates that divide a second.
    @Test(arguments: [1.0, 4, 100, 250, 1000, 5000])
    func dueCountAndOffsetsAgree(rate: Double) {
        let p = OpenLoopPacer(rate: rate)
        // One issue listing the first few disagreements, not one per operation.
        var wrong: [String] = []
        for i in 0..<2000 {
            let at = p.dueOffsetNanoseconds(of: i)
            if p.dueCount(atNanoseconds: at) != i + 1 {
                wrong.append("op \(i): \(p.dueCount(atNanoseconds: at)) due at \(at)")
            }
            if i > 0 && p.dueCount(atNanoseconds: at - 1) != i {
                wrong.append("op \(i): \(p.dueCount(atNanoseconds: at - 1)) due at \(at - 1)")
            }
        }
        #expect(wrong.isEmpty, "rate \(rate): \(wrong.count) disagreements, first \(wrong.prefix(3))")
    }

    @Test func offsetsNeverDecreaseAtAnOddRate() {
        let p = OpenLoopPacer(rate: 333.3)
        var last: Int64 = -1
        for i in 0..<10_000 {
            let at = p.dueOffsetNanoseconds(of: i)
            #expect(at >= last)
            last = at
        }
        #expect(p.total(forSeconds: 3) == 999)
    }

    @Test func modeDescriptions() {
        #expect(LoadMode.closedLoop(concurrency: 20).description == "closed-loop, 20 callers")
        #expect(LoadMode.openLoop(rate: 200, maxInFlight: 4000).description == "open-loop, 200/s (max 4000 in flight)")
    }
}
