import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One service executable started by a test: its address, its log file, and ways to stop,
/// kill (-9) and restart it. Used by `TestSuite`; also usable on its own.
public final class ServiceProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched under `lock`.
    public let service: String
    public let executable: URL
    public let port: Int
    public let metricsPort: Int
    public let logFile: URL
    public private(set) var arguments: [String]
    /// The environment the process was created with (`environment` minus any overrides).
    public let baseEnvironment: [String: String]
    /// The environment of the next start: `baseEnvironment` plus the overrides of `setEnvironmentOverrides`.
    public var environment: [String: String] { lock.withLock { currentEnvironment } }
    private var currentEnvironment: [String: String]
    private var process: Process?
    private let lock = NSLock()

    /// - Parameters:
    ///   - service: `inventory`, `orders`, …
    ///   - executable: the `oms-<service>` binary.
    ///   - port: RPC port; `metricsPort` its metrics port.
    ///   - environment: the full environment for the child.
    ///   - arguments: extra flags.
    ///   - logDirectory: where `<service>-<port>.log` is written.
    public init(
        service: String, executable: URL, port: Int, metricsPort: Int, environment: [String: String],
        arguments: [String] = [], logDirectory: URL
    ) {
        self.service = service
        self.executable = executable
        self.port = port
        self.metricsPort = metricsPort
        self.baseEnvironment = environment
        self.currentEnvironment = environment
        self.arguments = arguments
        self.logFile = logDirectory.appendingPathComponent("\(service)-\(port).log")
    }

    /// Starts the process (appending to its log file).
    /// - Throws: when the executable cannot be launched.
    public func start() throws {
        try lock.withLock { try startLocked() }
    }

    private func startLocked() throws {
        if let p = process, p.isRunning { return }
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var environment = currentEnvironment
        // The service shuts itself down when this process dies: a killed test run leaves nothing behind.
        environment["OMS_EXIT_WITH_PARENT"] = String(getpid())
        p.environment = environment
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
    }

    /// Sets the environment of the next `start()` to `baseEnvironment` plus `overrides` (an empty
    /// dictionary restores the original environment). A running process is not affected.
    public func setEnvironmentOverrides(_ overrides: [String: String]) {
        lock.withLock {
            var env = baseEnvironment
            for (k, v) in overrides { env[k] = v }
            currentEnvironment = env
        }
    }

    public var isRunning: Bool {
        lock.withLock { process?.isRunning ?? false }
    }

    /// The signal that ended the last run (SIGKILL for a crash or a fired failpoint); nil while it runs,
    /// after a normal exit, or before the first start.
    public var terminationSignal: Int32? {
        lock.withLock {
            guard let p = process, !p.isRunning, p.terminationReason == .uncaughtSignal else { return nil }
            return p.terminationStatus
        }
    }

    public var pid: Int32? {
        lock.withLock { process?.processIdentifier }
    }

    /// Sends `signal` (SIGTERM for a graceful stop, SIGKILL for a crash) and waits for exit.
    /// - Returns: the exit status, or nil when it was not running.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> Int32? {
        let p = lock.withLock { process }
        guard let p, p.isRunning else { return nil }
        kill(p.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            while p.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return p.terminationStatus
    }

    /// The last `lines` lines of the log, for failure messages.
    public func logTail(lines: Int = 40) -> String {
        guard let data = FileManager.default.contents(atPath: logFile.path),
            let text = String(data: data, encoding: .utf8)
        else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Free TCP ports on loopback, found by binding port 0.
public enum FreePorts {
    /// - Returns: `count` distinct ports that were free a moment ago.
    public static func take(_ count: Int) throws -> [Int] {
        var fds: [Int32] = []
        var ports: [Int] = []
        defer { for fd in fds { close(fd) } }
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestKitError("socket() failed") }
            fds.append(fd)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = 0
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw TestKitError("bind() failed") }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            ports.append(Int(UInt16(bigEndian: addr.sin_port)))
        }
        return ports
    }
}

/// A test-kit failure with a message that says what to do.
public struct TestKitError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
