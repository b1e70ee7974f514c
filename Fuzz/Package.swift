// swift-tools-version:6.0
// libFuzzer targets (issue 17). Built only by `make fuzz` / `make fuzz-smoke`, with
// `-sanitize=fuzzer,address -parse-as-library`; libFuzzer supplies `main`.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let oms: Target.Dependency = .product(name: "OMSFuzzable", package: "oms")

let package = Package(
    name: "oms-fuzz",
    platforms: [.macOS(.v14)],
    // Named, because a path dependency is otherwise identified by its directory name.
    dependencies: [.package(name: "oms", path: "..")],
    targets: [
        // The request types by number, shared by the decode and validate targets and the corpus writer.
        // Declares libFuzzer's LLVMFuzzerRunDriver (the entry each target's main calls).
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", oms], swiftSettings: strict),
        .executableTarget(name: "FuzzFrame", dependencies: ["FuzzSupport", oms], swiftSettings: strict),
        .executableTarget(name: "FuzzRequestDecode", dependencies: ["FuzzSupport", oms], swiftSettings: strict),
        .executableTarget(name: "FuzzRequestValidate", dependencies: ["FuzzSupport", oms], swiftSettings: strict),
    ]
)
