import NIOCore
import OMSProto
import OMSRPCCore
import Testing

@testable import OMSRPC

/// Frames exercising every field, used by the splitting tests.
let sampleFrames: [RPCFrame] = [
    RPCFrame(
        callID: 1,
        kind: .call(
            .init(
                method: "/oms.test.v1.Test/Echo", timeoutMs: 1500,
                metadata: ["authorization": "Bearer t", "x-request-id": "r-1"], payload: [1, 2, 3, 0, 255]))),
    RPCFrame(callID: 300, kind: .reply(.init(code: 0, message: "", payload: Array(repeating: 7, count: 200)))),
    RPCFrame(callID: 2, kind: .reply(.init(code: 5, message: "not found: é", metadata: ["k": "v"]))),
    RPCFrame(callID: 3, kind: .cancel),
    RPCFrame(callID: 0, kind: .goAway(.init(reason: "shutting down"))),
    RPCFrame(callID: .max, kind: .reply(.init(code: -1, message: "negative code"))),
    RPCFrame(callID: 0, kind: nil),
    RPCFrame(callID: 9, kind: .call(.init())),
]

func stream(_ frames: [RPCFrame]) -> [UInt8] {
    frames.flatMap { $0.lengthPrefixedBytes() }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined(separator: " ")
}

/// Feeds `bytes` to the NIO decoder in the chunks `sizes` (cycled), the way a
/// ByteToMessageHandler cumulates them, and returns every frame it produced.
func decodeWithNIO(_ bytes: [UInt8], chunks sizes: [Int], maximum: Int = 1 << 22) throws -> [RPCFrame] {
    // The connection handlers' own splitter, fed as a socket would feed it.
    var inbound = InboundFrames(maximumFrameLength: maximum)
    var frames: [RPCFrame] = []
    var offset = 0
    var index = 0
    while offset < bytes.count {
        let size = min(sizes[index % sizes.count], bytes.count - offset)
        try inbound.process(ByteBuffer(bytes: bytes[offset..<offset + size])) { frames.append($0) }
        offset += size
        index += 1
    }
    // Nothing may be left over after the last frame.
    try inbound.finish { frames.append($0) }
    return frames
}

@Suite("Frame codec")
struct FrameCodecTests {
    @Test("encoding round-trips and matches the generated protobuf-c types byte for byte")
    func roundTripAndInterop() throws {
        for frame in sampleFrames {
            let bytes = frame.encodedBytes()
            #expect(bytes.count == frame.encodedSize)
            #expect(try RPCFrame(decoding: bytes) == frame)
            // libprotobuf-c reads what we write ...
            let generated = try RpcV1.Frame(serializedBytes: bytes)
            #expect(RPCFrame(generated) == frame)
            // ... and we read what it writes.
            let theirs = RpcV1.Frame(frame).serializedBytes()
            #expect(try RPCFrame(decoding: theirs) == frame)
            if frame.kind.map({ if case .call(let c) = $0 { c.metadata.count <= 1 } else { true } }) ?? true {
                #expect(theirs == bytes, "\(hex(theirs)) != \(hex(bytes))")
            }
        }
    }

    @Test("documented example bytes (docs/protocol.md)")
    func documentedExamples() throws {
        let call = RPCFrame(
            callID: 1,
            kind: .call(
                .init(
                    method: "/oms.health.v1.Health/Check", timeoutMs: 1000, metadata: [:], payload: [])))
        #expect(
            hex(call.lengthPrefixedBytes())
                == "00 00 00 24 08 01 12 20 0a 1b 2f 6f 6d 73 2e 68 65 61 6c 74 68 2e 76 31 2e 48 65 61 6c 74 68 2f 43 68 65 63 6b 10 e8 07"
        )
        let reply = RPCFrame(callID: 1, kind: .reply(.init(code: 0, payload: [0x08, 0x01])))
        #expect(hex(reply.lengthPrefixedBytes()) == "00 00 00 08 08 01 1a 04 1a 02 08 01")
        let tooLarge = RPCFrame.connectionError(.resourceExhausted, "x")
        #expect(hex(tooLarge.lengthPrefixedBytes()) == "00 00 00 07 1a 05 08 08 12 01 78")
        let withAuth = RPCFrame(callID: 1, kind: .call(.init(metadata: ["authorization": "Bearer t"])))
        #expect(
            hex(withAuth.encodedBytes())
                == "08 01 12 1b 1a 19 0a 0d 61 75 74 68 6f 72 69 7a 61 74 69 6f 6e 12 08 42 65 61 72 65 72 20 74")
        let goAway = RPCFrame(callID: 0, kind: .goAway(.init(reason: "closing")))
        #expect(hex(goAway.lengthPrefixedBytes()) == "00 00 00 0b 2a 09 0a 07 63 6c 6f 73 69 6e 67")
        let cancel = RPCFrame(callID: 7, kind: .cancel)
        #expect(hex(cancel.lengthPrefixedBytes()) == "00 00 00 04 08 07 22 00")
    }

    @Test("unknown fields are skipped, later values win, bad input is rejected")
    func decodingRules() throws {
        // call_id=5, unknown field 15 (varint), unknown field 16 (fixed32), cancel.
        let withUnknown: [UInt8] = [0x08, 0x05, 0x78, 0x01, 0x85, 0x01, 1, 2, 3, 4, 0x22, 0x00]
        #expect(try RPCFrame(decoding: withUnknown) == RPCFrame(callID: 5, kind: .cancel))
        // call_id twice: the last wins.
        #expect(try RPCFrame(decoding: [0x08, 0x05, 0x08, 0x06]).callID == 6)
        let invalid: [[UInt8]] = [
            [0x08],  // truncated varint
            [0x12, 0x05, 0x0a],  // length overruns
            [0x0b],  // group wire type
            [0x00],  // field number 0
            [0x12, 0x03, 0x0a, 0x01, 0xff],  // method is not UTF-8
            [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],  // varint overflows
            [0x0a, 0x00],  // call_id with the wrong wire type
        ]
        for bytes in invalid {
            #expect(throws: FrameDecodingError.self, "\(hex(bytes))") { try RPCFrame(decoding: bytes) }
        }
    }

    @Test("splitter: one byte at a time, all at once, split at every position")
    func splitterSplitsEverywhere() throws {
        let bytes = stream(sampleFrames)
        func run(_ chunks: [ArraySlice<UInt8>]) throws -> [RPCFrame] {
            var splitter = FrameSplitter()
            var out: [RPCFrame] = []
            for chunk in chunks {
                try splitter.append(chunk)
                while let frame = try splitter.nextFrame() { out.append(frame) }
            }
            try splitter.finish()
            return out
        }
        #expect(try run([bytes[...]]) == sampleFrames)
        #expect(try run(bytes.indices.map { bytes[$0...$0] }) == sampleFrames)
        for cut in 0...bytes.count {
            #expect(try run([bytes[..<cut], bytes[cut...]]) == sampleFrames)
        }
    }

    @Test("NIO decoder: one byte at a time, many frames in one buffer, split at every position")
    func nioDecoderSplitsEverywhere() throws {
        let bytes = stream(sampleFrames)
        #expect(try decodeWithNIO(bytes, chunks: [bytes.count]) == sampleFrames)
        #expect(try decodeWithNIO(bytes, chunks: [1]) == sampleFrames)
        for size in [2, 3, 4, 5, 7, 13, 64] {
            #expect(try decodeWithNIO(bytes, chunks: [size]) == sampleFrames)
        }
        for cut in 1..<bytes.count {
            #expect(try decodeWithNIO(bytes, chunks: [cut, bytes.count]) == sampleFrames)
        }
    }

    @Test("length limits: 0, cap, cap + 1, 0xFFFFFFFF are judged on the 4-byte header")
    func lengthLimits() throws {
        let cap = 64
        // N = 0 is an empty Frame: valid, no kind.
        #expect(try decodeWithNIO([0, 0, 0, 0], chunks: [1], maximum: cap) == [RPCFrame(callID: 0, kind: nil)])
        // N = cap: accepted. Build a GoAway whose encoding is exactly `cap` bytes.
        let reason = String(repeating: "a", count: cap - 4)
        let atCap = RPCFrame(callID: 0, kind: .goAway(.init(reason: reason)))
        #expect(atCap.encodedSize == cap)
        #expect(try decodeWithNIO(atCap.lengthPrefixedBytes(), chunks: [3], maximum: cap) == [atCap])
        // N = cap + 1 and 0xFFFFFFFF fail with only the 4 header bytes present.
        for header: [UInt8] in [[0, 0, 0, UInt8(cap + 1)], [0xFF, 0xFF, 0xFF, 0xFF]] {
            var buffer = ByteBuffer(bytes: header)
            var strings = FrameStringCache()
            #expect(throws: FrameStreamError.self) {
                _ = try RPCFrameDecoder.decodeFrame(from: &buffer, maximumFrameLength: cap, strings: &strings)
            }
            var splitter = FrameSplitter(maximumFrameLength: cap)
            #expect(throws: FrameStreamError.self) { try splitter.append(header) }
            #expect(splitter.bufferedByteCount == 0)
        }
        // Three header bytes are not enough to judge.
        var partial = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF])
        var strings = FrameStringCache()
        #expect(try RPCFrameDecoder.decodeFrame(from: &partial, maximumFrameLength: cap, strings: &strings) == nil)
        #expect(FrameStreamError.frameTooLarge(announced: 1, maximum: 0).code == .resourceExhausted)
    }

    @Test("truncated frame then end of input, garbage bytes")
    func truncatedAndGarbage() throws {
        var splitter = FrameSplitter()
        let bytes = sampleFrames[0].lengthPrefixedBytes()
        try splitter.append(bytes.dropLast())
        #expect(try splitter.nextFrame() == nil)
        #expect(throws: FrameStreamError.truncated(buffered: bytes.count - 1)) { try splitter.finish() }

        var cut = InboundFrames(maximumFrameLength: 1 << 22)
        try cut.process(ByteBuffer(bytes: bytes.dropLast())) { _ in Issue.record("a frame from a partial one") }
        #expect(throws: FrameStreamError.truncated(buffered: bytes.count - 1)) { try cut.finish { _ in } }

        var garbage = ByteBuffer(bytes: [0, 0, 0, 3, 0xFF, 0xFF, 0xFF])
        var strings = FrameStringCache()
        #expect(throws: FrameStreamError.self) {
            _ = try RPCFrameDecoder.decodeFrame(from: &garbage, maximumFrameLength: 1 << 22, strings: &strings)
        }
        #expect(FrameStreamError.undecodable("x").code == .invalidArgument)
    }

    @Test("constant-time comparison is a correct equality")
    func constantTime() {
        let secret = Array("Bearer s3cret".utf8)
        #expect(ConstantTime.equals("Bearer s3cret".utf8, secret))
        #expect(!ConstantTime.equals("Bearer s3cres".utf8, secret))
        #expect(!ConstantTime.equals("Bearer s3cre".utf8, secret))
        #expect(!ConstantTime.equals("Bearer s3cret!".utf8, secret))
        #expect(!ConstantTime.equals("".utf8, secret))
        #expect(ConstantTime.equals("".utf8, []))
    }
}
