import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A private, throw-away `redis-server` on a free loopback port (no persistence, no password), for
/// tests that restart or break Redis without touching the shared one. Point a suite at it with the
/// setting `OMS_REDIS_URL: server.url`.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched under `lock`.
    public let port: Int
    public let executable: String
    public let logFile: URL
    private var process: Process?
    private let lock = NSLock()

    /// - Parameters:
    ///   - executable: the `redis-server` binary (default: found on PATH, or `OMS_REDIS_SERVER`).
    ///   - logDirectory: where `redis-<port>.log` is written (default: the system temp directory).
    /// - Throws: `TestKitError` when no redis-server binary is found or no port is free.
    public init(executable: String? = nil, logDirectory: URL? = nil) throws {
        guard let exe = executable ?? Self.findExecutable() else {
            throw TestKitError(
                "redis-server not found on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? "unset")); install it or set OMS_REDIS_SERVER")
        }
        self.executable = exe
        self.port = try FreePorts.take(1)[0]
        let dir = logDirectory ?? FileManager.default.temporaryDirectory
        self.logFile = dir.appendingPathComponent("redis-\(port).log")
    }

    /// `redis://127.0.0.1:<port>/0`.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server (an empty data set every time) and waits until it answers PING.
    /// - Throws: `TestKitError` when it does not come up within `timeout`.
    public func start(timeout: Duration = .seconds(10)) async throws {
        try lock.withLock {
            if let p = process, p.isRunning { return }
            if !FileManager.default.fileExists(atPath: logFile.path) {
                _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: logFile)
            handle.seekToEndOfFile()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = [
                "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--protected-mode", "no", "--dir", FileManager.default.temporaryDirectory.path,
            ]
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            try p.run()
            process = p
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if Self.ping(port: port) { return }
            guard lock.withLock({ process?.isRunning ?? false }) else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestKitError("redis-server on port \(port) did not answer PING; see \(logFile.path)")
    }

    /// Stops the server (SIGKILL by default: a crash; its data is gone either way).
    public func stop(signal: Int32 = SIGKILL) async {
        let p = lock.withLock { process }
        guard let p, p.isRunning else { return }
        kill(p.processIdentifier, signal)
        while p.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Stops and starts it again: every key is lost.
    public func restart() async throws {
        await stop()
        try await start()
    }

    public var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    static func findExecutable() -> String? {
        if let e = ProcessInfo.processInfo.environment["OMS_REDIS_SERVER"], !e.isEmpty { return e }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/bin"]
        for dir in dirs {
            let candidate = "\(dir)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The number of keys in its database (`DBSIZE`), or nil when it does not answer.
    public func keyCount() -> Int? {
        guard let reply = Self.inlineCommand("DBSIZE", port: port), reply.hasPrefix(":") else { return nil }
        return Int(reply.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Sends an inline PING and looks for `+PONG`.
    static func ping(port: Int) -> Bool {
        inlineCommand("PING", port: port)?.hasPrefix("+PONG") ?? false
    }

    /// Sends one inline command (no arguments needing quoting) and returns the first reply bytes.
    static func inlineCommand(_ command: String, port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let bytes = Array("\(command)\r\n".utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
