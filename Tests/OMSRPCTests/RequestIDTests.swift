import Testing

@testable import OMSRPC

@Suite("Request ids")
struct RequestIDTests {
    @Test("15 lower-case hex digits, distinct for consecutive calls and across seeds")
    func format() {
        let generator = RequestIDGenerator(seed: 42)
        var seen = Set<String>()
        for _ in 0..<100_000 {
            let id = generator.next()
            #expect(id.utf8.count == 15)
            #expect(id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 100_000)
        #expect(RequestIDGenerator(seed: 1).next() != RequestIDGenerator(seed: 2).next())
        #expect(RequestIDGenerator.hex(RequestIDGenerator.mask) == "fff" + String(repeating: "f", count: 12))
        #expect(RequestIDGenerator.hex(0) == String(repeating: "0", count: 15))
    }

    @Test("the mixer stays within 60 bits and maps distinct values to distinct ids")
    func mixerIsOneToOne() {
        var images = Set<UInt64>()
        // Values that differ only in high bits, only in low bits, and neighbours of the edges.
        var inputs: [UInt64] = []
        for bit in 0..<60 { inputs.append(1 << UInt64(bit)) }
        for low in 0..<4_096 { inputs.append(UInt64(low)) }
        for offset in 0..<4_096 { inputs.append(RequestIDGenerator.mask - UInt64(offset)) }
        let distinct = Set(inputs)
        for value in distinct {
            let mixed = RequestIDGenerator.mix(value)
            #expect(mixed <= RequestIDGenerator.mask)
            images.insert(mixed)
        }
        #expect(images.count == distinct.count)
        // Bits above the 60 are not part of the id.
        #expect(RequestIDGenerator.mix(5) == RequestIDGenerator.mix(5 | (0xF << 60)))
    }
}
