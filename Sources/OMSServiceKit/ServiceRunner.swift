import Foundation
import Logging
import Metrics
import NIOCore
import OMSClient
import OMSMySQL
import OMSRPC
import OMSRPCCore
import OMSRedis
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// What a service module gets from the runner: configuration, a migrated database, Redis when
/// asked for, typed clients for its peers, and a logger.
public struct ServiceEnvironment: Sendable {
    public let configuration: ServiceConfiguration
    public let logger: Logger
    public let database: MySQLDatabase
    public let redis: RedisClient?
    /// Clients for the other services of the suite (addresses from `--<svc>-addr`).
    public let peers: OMSClients
    public var settings: Settings { configuration.settings }
}

/// What a service module hands back: the RPC services to serve, background jobs, extra health
/// checks, and a hook run after the server has drained.
public struct ServiceComponents: Sendable {
    public var services: [any RPCService]
    public var jobs: [PeriodicJob]
    public var healthChecks: [RPCHealthCheck]
    public var onShutdown: (@Sendable () async -> Void)?

    public init(
        services: [any RPCService], jobs: [PeriodicJob] = [], healthChecks: [RPCHealthCheck] = [],
        onShutdown: (@Sendable () async -> Void)? = nil
    ) {
        self.services = services
        self.jobs = jobs
        self.healthChecks = healthChecks
        self.onShutdown = onShutdown
    }
}

/// Describes one service executable for `ServiceRunner`.
public struct ServiceDescriptor: Sendable {
    public var name: String
    public var usesRedis: Bool
    public var makeComponents: @Sendable (ServiceEnvironment) async throws -> ServiceComponents

    public init(
        name: String, usesRedis: Bool = false,
        makeComponents: @escaping @Sendable (ServiceEnvironment) async throws -> ServiceComponents
    ) {
        self.name = name
        self.usesRedis = usesRedis
        self.makeComponents = makeComponents
    }
}

/// The shared `main` of the five service executables: read settings, open and migrate the
/// database, connect Redis, build the service, bind the RPC and metrics ports, then run
/// everything in a `ServiceGroup` until SIGTERM/SIGINT (GoAway, drain, close pools, exit 0).
///
/// A bad setting, an unreachable database, a wrong password or a port in use ends the process
/// with one line `oms-<service>: error: <cause>` on standard error and exit status 1.
public enum ServiceRunner {
    public static func main(_ descriptor: ServiceDescriptor) async -> Never {
        let program = "oms-\(descriptor.name)"
        do {
            try await run(descriptor, arguments: Array(CommandLine.arguments.dropFirst()),
                          environment: ProcessInfo.processInfo.environment)
            exit(0)
        } catch let error as ProbeFailure {
            FileHandle.standardError.write(Data("\(program): unhealthy: \(error.message)\n".utf8))
            exit(1)
        } catch {
            FileHandle.standardError.write(Data("\(program): error: \(describe(error))\n".utf8))
            exit(1)
        }
    }

    struct ProbeFailure: Error { var message: String }

    /// Runs the service until shutdown.
    /// - Throws: `ConfigurationError`, or the start-up failure.
    public static func run(_ descriptor: ServiceDescriptor, arguments: [String], environment: [String: String]) async throws {
        let configuration = try ServiceConfiguration(
            service: descriptor.name, arguments: arguments, environment: environment)
        if try configuration.settings.bool("probe", default: false) {
            try await probe(configuration)
            return
        }
        let logger = bootstrapLogging(configuration)
        let registry = bootstrapMetrics()

        // Database: connect, check credentials, migrate.
        guard let dbURL = configuration.databaseURL else {
            throw ConfigurationError(
                "no database URL: set --db-url or \(configuration.settings.environmentName("db-url"))")
        }
        let primary: MySQLConfiguration
        do { primary = try MySQLConfiguration(url: dbURL) } catch { throw ConfigurationError("--db-url: \(error)") }
        let replica: MySQLConfiguration?
        do { replica = try configuration.replicaDatabaseURL.map { try MySQLConfiguration(url: $0) } } catch {
            throw ConfigurationError("--db-replica-url: \(error)")
        }
        let database = MySQLDatabase(primary: primary, replica: replica, name: descriptor.name, logger: logger)
        var redis: RedisClient?
        var peers: OMSClients?
        do {
            do {
                _ = try await database.primary.query("SELECT 1")
            } catch {
                throw ConfigurationError("database \(primary.user)@\(primary.host):\(primary.port): \(describe(error))")
            }
            let migrations = try MigrationRunner.loadMigrations(directory: try migrationsDirectory(configuration))
            let applied = try await MigrationRunner(pool: database.primary, migrations: migrations, logger: logger).run()
            logger.info("schema up to date", metadata: ["applied": "\(applied.count)", "known": "\(migrations.count)"])

            if descriptor.usesRedis {
                guard let url = configuration.redisURL else {
                    throw ConfigurationError("no Redis URL: set --redis-url or OMS_REDIS_URL")
                }
                let client: RedisClient
                do { client = RedisClient(configuration: try RedisConfiguration(url: url), logger: logger) } catch {
                    throw ConfigurationError("--redis-url: \(error)")
                }
                redis = client
                do { _ = try await client.send("PING") } catch {
                    throw ConfigurationError("redis: \(describe(error))")
                }
            }

            var addresses: [String: (host: String, port: Int)] = [:]
            for service in SuiteDefaults.services where service != descriptor.name {
                let address = try configuration.peer(service)
                addresses[service] = (address.host, address.port)
            }
            let clients = OMSClients(
                configuration: OMSClientConfiguration(addresses: addresses, authToken: configuration.authToken),
                logger: logger)
            peers = clients
            let environment = ServiceEnvironment(
                configuration: configuration, logger: logger, database: database, redis: redis, peers: clients)
            let components = try await descriptor.makeComponents(environment)

            var checks = [RPCHealthCheck(name: "mysql") { _ = try await database.primary.query("SELECT 1") }]
            if let redis {
                checks.append(RPCHealthCheck(name: "redis") { _ = try await redis.send("PING") })
            }
            checks += components.healthChecks
            let health = RPCHealthProvider.serving(components.services, checks: checks, logger: logger)
            let server = RPCServer(
                configuration: RPCServer.Configuration(
                    host: configuration.listen.host, port: configuration.listen.port,
                    authToken: configuration.authToken, publicMethods: RPCHealthProvider.publicMethods,
                    maximumFrameLength: configuration.maxFrameBytes,
                    maximumConnections: configuration.maxConnections,
                    maximumCallsInFlightPerConnection: configuration.maxCallsPerConnection,
                    idleTimeout: configuration.idleTimeout, drainTimeout: configuration.drainTimeout),
                services: components.services + [health], logger: logger)
            do {
                _ = try await server.start()
            } catch {
                throw ConfigurationError("cannot listen on \(configuration.listen): \(describe(error))")
            }
            var services: [any Service] = components.jobs
            if let parent = configuration.exitWithParent {
                services.append(Self.parentWatch(parent, logger: logger))
            }
            if let port = configuration.metricsPort {
                let metrics = MetricsEndpoint(
                    host: configuration.listen.host, port: port, registry: registry, logger: logger)
                try await metrics.start()
                services.append(metrics)
            }
            // ServiceGroup shuts services down last-first: the server drains before jobs stop.
            services.append(server)
            logger.info("serving", metadata: ["address": "\(configuration.listen)"])
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            await components.onShutdown?()
            logger.info("stopped")
        } catch {
            await peers?.close()
            await redis?.shutdown()
            await database.shutdown()
            throw error
        }
        await peers?.close()
        await redis?.shutdown()
        await database.shutdown()
    }

    /// `exit-with-parent`: once a second, whether the process that started this one is still its
    /// parent; when not (it died and this process was re-parented), SIGTERM to itself, which the
    /// service group turns into the usual graceful shutdown.
    static func parentWatch(_ parent: Int32, logger: Logger) -> PeriodicJob {
        PeriodicJob(name: "parent-watch", interval: .seconds(1), logger: logger) {
            guard getppid() != parent else { return }
            logger.notice("parent process \(parent) is gone; shutting down (exit-with-parent)")
            kill(getpid(), SIGTERM)
        }
    }

    /// `--probe`: asks the service at its own address for its health; for container health checks.
    static func probe(_ configuration: ServiceConfiguration) async throws {
        let host = ["0.0.0.0", "::", ""].contains(configuration.listen.host) ? "127.0.0.1" : configuration.listen.host
        var addresses: [String: (host: String, port: Int)] = [:]
        addresses[configuration.name] = (host, configuration.listen.port)
        let clients = OMSClients(
            configuration: OMSClientConfiguration(
                addresses: addresses, authToken: configuration.authToken, defaultTimeout: .seconds(3), maximumAttempts: 1))
        defer { Task { await clients.close() } }
        let result = await clients.checkHealth([configuration.name], timeout: .seconds(3))[configuration.name]
        switch result {
        case .success(let response) where response.status == .serving:
            return
        case .success(let response):
            let failing = response.dependencies.filter { $0.status != .serving }
                .map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
            throw ProbeFailure(message: "status \(response.status) \(failing)")
        case .failure(let error):
            throw ProbeFailure(message: describe(error))
        case nil:
            throw ProbeFailure(message: "no answer")
        }
    }

    /// The migrations of a service: `--migrations-dir`, else `services/<name>/migrations` under
    /// the working directory or any parent of the executable, else `/srv/oms/migrations`.
    /// - Throws: `ConfigurationError` when none is found.
    static func migrationsDirectory(_ configuration: ServiceConfiguration) throws -> String {
        if let dir = configuration.settings.string("migrations-dir") { return dir }
        let relative = "services/\(configuration.name)/migrations"
        var candidates = [FileManager.default.currentDirectoryPath + "/" + relative]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent(relative).path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append("/srv/oms/migrations")
        var isDirectory: ObjCBool = false
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && isDirectory.boolValue {
            return candidate
        }
        throw ConfigurationError("no migrations directory for \(configuration.name): set --migrations-dir")
    }

    private static func bootstrapLogging(_ configuration: ServiceConfiguration) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "oms-\(configuration.name)")
        logger[metadataKey: "service"] = "\(configuration.name)"
        return logger
    }

    private static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// One line for an error: configuration errors as they are, others by their description.
    static func describe(_ error: any Error) -> String {
        if let e = error as? ConfigurationError { return e.message }
        if let e = error as? MySQLError {
            switch e.kind {
            case .accessDenied: return "access denied (wrong user or password?): \(e.message)"
            case .connectionFailed: return "unreachable: \(e.message)"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }
}
