import FuzzSupport

/// Input: one byte picking the request type (`FuzzRequests.types`), then bytes to decode as it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let (type, body) = FuzzRequests.pick(data, size) else { return 0 }
    _ = FuzzRequests.decode(type, body)
    return 0
}

/// The entry point (SwiftPM aliases `main` to it): libFuzzer with `fuzz` as the test.
@_cdecl("FuzzRequestDecode_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv, fuzz)
}
