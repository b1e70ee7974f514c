import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one of the suite's command-line tools (`omsctl`, `oms-loadgen`) as a child process and collects its
/// exit status and output, for process-level tests of the tools themselves.
public enum ToolProcess {
    /// What a finished tool run left behind.
    public struct Result: Sendable {
        /// The exit status (the signal number when the tool was killed by a signal).
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Whether the run was killed because it outlived its time limit.
        public var timedOut: Bool

        /// `stdout` parsed as JSON, or nil.
        public var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }

        /// Status, standard output and standard error, for failure messages.
        public var transcript: String { "exit \(status)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)" }
    }

    /// Where the built executables are: `OMS_BIN_DIR`, else the folder of the running test bundle (the
    /// products of `swift build --build-tests` sit next to it), else `.build/debug`.
    public static var binDirectory: URL { TestSuite.defaultBinDirectory() }

    /// `<binDirectory>/<tool>`, checked to be a built executable.
    /// - Parameter tool: executable name, e.g. `oms-payments`.
    /// - Throws: `TestKitError` when it is not built.
    public static func executable(_ tool: String) throws -> URL {
        let exe = binDirectory.appendingPathComponent(tool)
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw TestKitError("\(exe.path) is not built; run `swift build --build-tests` (or set OMS_BIN_DIR)")
        }
        return exe
    }

    /// Runs `<binDirectory>/<tool> arguments…` and waits for it to exit.
    ///
    /// The child gets exactly `environment` (nothing is inherited), runs in `workingDirectory`, and its
    /// output goes to files there, so a chatty tool cannot block on a full pipe. The time limit is only a
    /// safety net against a hung tool (the run is killed and `timedOut` set); nothing asserts speed.
    /// - Parameters:
    ///   - tool: executable name, e.g. `omsctl`.
    ///   - arguments: its arguments.
    ///   - environment: its whole environment (see `TestSuite.toolEnvironment(home:)`).
    ///   - workingDirectory: an existing directory; defaults to a fresh temporary one.
    ///   - timeLimit: kill the tool after this long.
    /// - Throws: `TestKitError` when the executable is not built or cannot be started.
    public static func run(
        _ tool: String, _ arguments: [String], environment: [String: String], workingDirectory: URL? = nil,
        timeLimit: Duration = .seconds(180)
    ) async throws -> Result {
        let exe = try executable(tool)
        let dir = try workingDirectory ?? makeTemporaryDirectory(prefix: tool)
        let tag = String(UInt32.random(in: .min ... .max), radix: 36)
        let outURL = dir.appendingPathComponent("\(tool)-\(tag).stdout")
        let errURL = dir.appendingPathComponent("\(tool)-\(tag).stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        process.executableURL = exe
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = dir
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let exited = NIOLockedValueBox(false)
        let killed = NIOLockedValueBox(false)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { p in
                exited.withLockedValue { $0 = true }
                continuation.resume(returning: p.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: TestKitError("could not start \(exe.path): \(error)"))
                return
            }
            // Only the pid crosses into the watchdog; it is signalled only while the child has not exited.
            let pid = process.processIdentifier
            Task {
                try? await Task.sleep(for: timeLimit)
                if !exited.withLockedValue({ $0 }) {
                    killed.withLockedValue { $0 = true }
                    kill(pid, SIGKILL)
                }
            }
        }
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: status, stdout: stdout, stderr: stderr, timedOut: killed.withLockedValue { $0 })
    }

    /// A new empty directory under the system's temporary directory.
    /// - Throws: when it cannot be created.
    public static func makeTemporaryDirectory(prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(prefix)-\(String(UInt64.random(in: .min ... .max), radix: 36))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension TestSuite {
    /// The environment under which `omsctl` and `oms-loadgen` talk to this suite: the test process's variables
    /// without any `OMS_*`, then the suite's addresses (`OMS_<SERVICE>_ADDR`), token, admin MySQL URL and Redis
    /// URL, and `OMS_HOME` set to `home` so that no `.oms/env` of the working directory is read.
    ///
    /// `oms-loadgen` also needs the suite's schema names and Redis key prefix as flags (`schemas`,
    /// `redisKeyPrefix`): the tools default to the standard `oms_*` schemas and `oms:inv:`.
    /// - Parameter home: a directory for `OMS_HOME` (it needs no files).
    public func toolEnvironment(home: URL) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMS_") }
        for (service, address) in clients.configuration.addresses {
            env["OMS_\(service.uppercased())_ADDR"] = "\(address.host):\(address.port)"
        }
        env["OMS_AUTH_TOKEN"] = authToken
        env["OMS_MYSQL_ADMIN_URL"] = environment.adminURL
        env["OMS_REDIS_URL"] = environment.redisURL
        env["OMS_HOME"] = home.path
        return env
    }
}
