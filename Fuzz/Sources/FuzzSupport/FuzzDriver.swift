import CFuzzDriver

/// Starts libFuzzer from a target's entry point.
///
/// SwiftPM links an executable target on Linux with `main` aliased to `<Target>_main`, so a target
/// built with `-parse-as-library` defines that symbol (`@_cdecl("FuzzFrame_main")`) and hands
/// libFuzzer its `LLVMFuzzerTestOneInput` here, instead of relying on libFuzzer's own `main`.
public enum FuzzDriver {
    /// Runs libFuzzer with the process arguments; returns its exit status.
    public static func run(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ test: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, test)
    }
}
