import FuzzSupport
import OMSRPCCore

/// Input: a byte stream as a peer would send it (length-prefixed frames). The first byte chooses
/// how the stream is cut into reads and the maximum frame length, so splitting at every boundary
/// and the oversize check are both exercised. Every whole frame is also decoded on its own.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let control = Int(data[0])
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let chunk = control & 0x0F + 1
    let maximum = control & 0x10 == 0 ? FrameLengthPrefix.defaultMaximumFrameLength : 64

    var splitter = FrameSplitter(maximumFrameLength: maximum)
    var offset = 0
    var whole: [[UInt8]] = []
    do {
        while offset < stream.count {
            let end = min(offset + chunk, stream.count)
            try splitter.append(stream[offset..<end])
            offset = end
            while let bytes = try splitter.nextFrameBytes() {
                guard bytes.count <= maximum else { fatalError("frame of \(bytes.count) bytes over \(maximum)") }
                whole.append(bytes)
            }
        }
        try splitter.finish()
    } catch let error as FrameStreamError {
        _ = error.errorFrame.lengthPrefixedBytes()
    } catch {
        fatalError("splitter threw \(type(of: error)): \(error)")
    }
    guard splitter.bufferedByteCount <= maximum + FrameLengthPrefix.size else {
        fatalError("splitter holds \(splitter.bufferedByteCount) bytes")
    }

    for bytes in whole {
        let frame: RPCFrame
        do {
            frame = try RPCFrame(decoding: bytes)
        } catch is FrameDecodingError {
            continue
        } catch {
            fatalError("frame decoding threw \(type(of: error)): \(error)")
        }
        // A decoded frame encodes to a frame that decodes to it again.
        do {
            let again = try RPCFrame(decoding: frame.encodedBytes())
            guard again == frame else { fatalError("frame does not round-trip") }
        } catch {
            fatalError("re-encoded frame does not decode: \(error)")
        }
    }

    // The same stream through the decoding splitter in one read.
    var decoding = FrameSplitter(maximumFrameLength: maximum)
    do {
        try decoding.append(stream)
        while try decoding.nextFrame() != nil {}
        try decoding.finish()
    } catch is FrameStreamError {
    } catch {
        fatalError("decoding splitter threw \(type(of: error)): \(error)")
    }
    return 0
}

/// The entry point (SwiftPM aliases `main` to it): libFuzzer with `fuzz` as the test.
@_cdecl("FuzzFrame_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv, fuzz)
}
