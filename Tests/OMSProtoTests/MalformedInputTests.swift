import Testing
import OMSProto

/// Hostile input gives `ProtoDecodingError`, never a crash (and, checked once under
/// valgrind, never a leak).
@Suite struct MalformedInputTests {
    typealias T = TestingV1

    static let malformed: [(String, [UInt8])] = [
        ("truncated varint", [0x08, 0x80]),
        ("truncated tag", [0x80]),
        ("varint longer than 10 bytes", [0x08] + Array(repeating: 0xff, count: 10) + [0x01]),
        ("wrong wire type for int32", [0x0a, 0x01, 0x00]),
        ("wrong wire type for string", [0x70, 0x01]),
        ("wrong wire type for double", [0x65, 0, 0, 0, 0]),
        ("length past the end", [0x72, 0x05, 0x61]),
        ("huge length", [0x72, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61]),
        ("truncated fixed64", [0x41, 1, 2, 3]),
        ("truncated fixed32", [0x3d, 1, 2]),
        ("field number 0", [0x00, 0x01]),
        ("group", [0x0b, 0x0c]),
        ("wire type 7", [0x0f]),
        ("invalid UTF-8", [0x72, 0x02, 0xc3, 0x28]),
        ("overlong UTF-8", [0x72, 0x02, 0xc0, 0xaf]),
        ("UTF-16 surrogate", [0x72, 0x03, 0xed, 0xa0, 0x80]),
        ("embedded NUL", [0x72, 0x03, 0x61, 0x00, 0x62]),
        ("truncated packed varints", [0x0a, 0x02, 0x80, 0x80]),
    ]

    @Test(arguments: malformed)
    func rejected(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError.self, "\(name)") {
            if name.contains("packed") {
                _ = try T.Repeateds(serializedBytes: bytes)
            } else {
                _ = try T.Scalars(serializedBytes: bytes)
            }
        }
    }

    @Test func invalidUTF8InNestedMapsAndOneofs() {
        // Frame.call.metadata key with a lone continuation byte.
        let entry: [UInt8] = [0x0a, 0x01, 0x80]
        let call: [UInt8] = [0x1a, UInt8(entry.count)] + entry
        #expect(throws: ProtoDecodingError.self) { try RpcV1.Frame(serializedBytes: [0x12, UInt8(call.count)] + call) }
        #expect(throws: ProtoDecodingError.self) { try T.Choice(serializedBytes: [0x1a, 0x01, 0xff]) }
    }

    @Test func truncatedValidMessagesNeverCrash() throws {
        let bytes = RoundTripTests.fullScalars().serializedBytes()
        for end in 0..<bytes.count {
            _ = try? T.Scalars(serializedBytes: bytes[0..<end])
        }
        let frame = RpcV1.Frame(callID: 1, kind: .call(RpcV1.Call(method: "/a/b", metadata: ["k": "v"], payload: [1])))
            .serializedBytes()
        var failures = 0
        for end in 0..<frame.count where (try? RpcV1.Frame(serializedBytes: frame[0..<end])) == nil { failures += 1 }
        #expect(failures > 0)
    }

    /// 10 MiB of seeded random bytes, decoded in slices of random length as several types.
    @Test func randomBytes() {
        var rng = SplitMix64(seed: 0x0A15_2026)
        var data = [UInt8](repeating: 0, count: 10 << 20)
        for i in stride(from: 0, to: data.count, by: 8) {
            withUnsafeBytes(of: rng.next()) { word in
                for j in 0..<8 { data[i + j] = word[j] }
            }
        }
        var offset = 0
        var decoded = 0
        var rejected = 0
        while offset < data.count {
            let length = min(Int(rng.next() % 512), data.count - offset)
            let slice = data[offset..<(offset + length)]
            offset += max(length, 1)
            for attempt in [
                { _ = try RpcV1.Frame(serializedBytes: slice) },
                { _ = try T.Repeateds(serializedBytes: slice) },
                { _ = try T.Maps(serializedBytes: slice) },
                { _ = try T.Choice(serializedBytes: slice) },
            ] as [() throws -> Void] {
                do {
                    try attempt()
                    decoded += 1
                } catch is ProtoDecodingError {
                    rejected += 1
                } catch {
                    Issue.record("unexpected error type: \(error)")
                }
            }
        }
        #expect(rejected > 0)
        _ = decoded
    }
}
