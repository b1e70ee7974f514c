import Foundation
import Logging
import OMSClient
import OMSMySQL

/// The whole suite for an integration test: the five service executables (or a subset) on free
/// loopback ports, each on a fresh copy of its schema, sharing the local MariaDB and Redis
/// (`tools/oms-env.sh start`), with typed clients ready. Another team's tests use it the same way:
///
/// ```swift
/// let suite = try await TestSuite.start()
/// defer { Task { await suite.stop() } }
/// let placed = try await suite.clients.checkout.placeOrder(request)
/// ```
public final class TestSuite: Sendable {
    /// Every service, in start order (`SuiteService.startOrder`).
    public static let allServices = SuiteService.startOrder.map(\.rawValue)

    public let environment: TestEnvironment
    /// `service → process`.
    public let processes: [String: ServiceProcess]
    /// `service → schema name` (fresh, dropped by `stop()`).
    public let schemas: [String: String]
    /// Prefix of this suite's Redis keys, so suites running at once do not share gate keys.
    public let redisKeyPrefix: String
    public let authToken: String
    public let clients: OMSClients
    /// The relay between the services and MariaDB when the suite was started with
    /// `databaseProxy: true`: `cut()` makes the database unreachable for every service.
    public let databaseProxy: TCPProxy?

    private init(
        environment: TestEnvironment, processes: [String: ServiceProcess], schemas: [String: String],
        redisKeyPrefix: String, authToken: String, clients: OMSClients, databaseProxy: TCPProxy?
    ) {
        self.databaseProxy = databaseProxy
        self.environment = environment
        self.processes = processes
        self.schemas = schemas
        self.redisKeyPrefix = redisKeyPrefix
        self.authToken = authToken
        self.clients = clients
    }

    /// Starts the suite and waits until every process answers its health check.
    /// - Parameters:
    ///   - services: which services to run (default all five); the others' addresses point at
    ///     ports nothing listens on.
    ///   - settings: extra environment for every process (e.g. `OMS_INVENTORY_SWEEP_INTERVAL`).
    ///   - binDirectory: where `oms-*` are; default `OMS_BIN_DIR` or the test binary's folder.
    ///   - databaseProxy: connect the services to MariaDB through a `TCPProxy` (outage tests).
    /// - Throws: `TestKitError` with the failing process's log tail.
    public static func start(
        services: [String] = allServices, settings: [String: String] = [:], binDirectory: URL? = nil,
        databaseProxy: Bool = false, filePath: String = #filePath
    ) async throws -> TestSuite {
        let environment = try TestEnvironment.load(filePath: filePath)
        let root = TestEnvironment.packageRoot(from: filePath)
        let bin = binDirectory ?? defaultBinDirectory()
        let ports = try FreePorts.take(allServices.count)
        var portOf: [String: Int] = [:]
        for (i, s) in allServices.enumerated() { portOf[s] = ports[i] }
        let token = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        let prefix = "t\(String(UInt32.random(in: .min ... .max), radix: 16)):inv:"
        let logs = URL(fileURLWithPath: root).appendingPathComponent(".oms/test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)

        var proxy: TCPProxy?
        if databaseProxy {
            let admin = try environment.adminConfiguration()
            proxy = try await TCPProxy.start(upstreamHost: admin.host, upstreamPort: admin.port)
        }
        var schemas: [String: String] = [:]
        var processes: [String: ServiceProcess] = [:]
        for service in services {
            let schema = try await environment.createSchema(service: service)
            schemas[service] = schema
            var url = try MySQLConfiguration(url: try environment.dbURL(service: service))
            if let proxy {
                url.host = "127.0.0.1"
                url.port = proxy.port
            }
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMS_") }
            let up = service.uppercased()
            env["OMS_AUTH_TOKEN"] = token
            env["OMS_\(up)_HOST"] = "127.0.0.1"
            env["OMS_\(up)_PORT"] = "\(portOf[service]!)"
            env["OMS_\(up)_METRICS_PORT"] = "0"
            env["OMS_\(up)_DB_URL"] = mysqlURL(url, database: schema)
            env["OMS_REDIS_URL"] = environment.redisURL
            env["OMS_INVENTORY_REDIS_KEY_PREFIX"] = prefix
            env["OMS_\(up)_MIGRATIONS_DIR"] = "\(root)/services/\(service)/migrations"
            env["OMS_\(up)_DRAIN_TIMEOUT"] = "5s"
            for peer in allServices { env["OMS_\(peer.uppercased())_ADDR"] = "127.0.0.1:\(portOf[peer]!)" }
            for (k, v) in settings { env[k] = v }
            processes[service] = ServiceProcess(
                service: service, executable: bin.appendingPathComponent("oms-\(service)"), port: portOf[service]!,
                metricsPort: 0, environment: env, logDirectory: logs)
        }
        var addresses: [String: (host: String, port: Int)] = [:]
        for s in allServices { addresses[s] = ("127.0.0.1", portOf[s]!) }
        let clients = OMSClients(
            configuration: OMSClientConfiguration(addresses: addresses, authToken: token, defaultTimeout: .seconds(20)))
        let suite = TestSuite(
            environment: environment, processes: processes, schemas: schemas, redisKeyPrefix: prefix,
            authToken: token, clients: clients, databaseProxy: proxy)
        do {
            for service in allServices where processes[service] != nil {
                try await suite.startProcess(service)
            }
        } catch {
            await suite.stop()
            throw error
        }
        return suite
    }

    /// Starts the suite, runs `body`, and stops the suite whether `body` returns or throws.
    public static func with<R>(
        services: [String] = allServices, settings: [String: String] = [:], databaseProxy: Bool = false,
        filePath: String = #filePath, _ body: (TestSuite) async throws -> R
    ) async throws -> R {
        let suite = try await start(
            services: services, settings: settings, databaseProxy: databaseProxy, filePath: filePath)
        do {
            let result = try await body(suite)
            await suite.stop()
            return result
        } catch {
            await suite.stop()
            throw error
        }
    }

    /// Starts (or restarts after a kill) one service and waits for it to be healthy.
    /// - Throws: `TestKitError` with the log tail when it exits or stays unhealthy for `timeout`.
    public func startProcess(_ service: String, timeout: Duration = .seconds(60)) async throws {
        guard let process = processes[service] else { throw TestKitError("\(service) is not part of this suite") }
        let exe = process.executable.path
        guard FileManager.default.isExecutableFile(atPath: exe) else {
            throw TestKitError("\(exe) is not built; run `swift build` (or set OMS_BIN_DIR)")
        }
        try process.start()
        try await waitHealthy(service, timeout: timeout)
    }

    /// Waits until `service` answers its health check with SERVING.
    public func waitHealthy(_ service: String, timeout: Duration = .seconds(60)) async throws {
        guard let process = processes[service] else { throw TestKitError("\(service) is not part of this suite") }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestKitError("oms-\(service) exited during start:\n\(process.logTail())")
            }
            if case .success(let r) = await clients.checkHealth([service], timeout: .seconds(1))[service],
                r.status == .serving
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestKitError("oms-\(service) not healthy after \(timeout):\n\(process.logTail())")
    }

    /// `kill -9` of one service (a crash: no GoAway, no drain).
    public func crash(_ service: String) async {
        await processes[service]?.stop(signal: SIGKILL)
    }

    /// Graceful stop of one service (SIGTERM: GoAway, drain, exit).
    /// - Returns: the exit status.
    @discardableResult
    public func stopProcess(_ service: String) async -> Int32? {
        await processes[service]?.stop(signal: SIGTERM)
    }

    /// A pool on one service's schema (as the service's own user), for assertions.
    public func database(_ service: String, poolSize: Int = 2) throws -> MySQLConnectionPool {
        guard let schema = schemas[service] else { throw TestKitError("\(service) is not part of this suite") }
        var config = try MySQLConfiguration(url: try environment.dbURL(service: service)).with(database: schema)
        config.poolSize = poolSize
        return MySQLConnectionPool(configuration: config, name: "testkit-\(service)")
    }

    /// Stops every process (SIGTERM), closes the clients and drops the schemas.
    public func stop() async {
        for service in allServicesReversed() {
            await processes[service]?.stop(signal: SIGTERM, timeout: .seconds(10))
        }
        await clients.close()
        await databaseProxy?.stop()
        for schema in schemas.values { try? await environment.dropSchema(schema) }
    }

    private func allServicesReversed() -> [String] { Self.allServices.reversed() }

    /// `OMS_BIN_DIR`, else the nearest ancestor of the test binary holding `oms-inventory`, else `.build/debug`.
    static func defaultBinDirectory() -> URL {
        if let dir = ProcessInfo.processInfo.environment["OMS_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        // `swift test` runs <bin>/omsPackageTests.xctest; the executables are its siblings.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("oms-inventory").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    static func mysqlURL(_ c: MySQLConfiguration, database: String) -> String {
        func enc(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
        }
        return "mysql://\(enc(c.user)):\(enc(c.password))@\(c.host):\(c.port)/\(database)"
    }
}
