import ArgumentParser
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

/// Describes one service executable for `ServiceRunner`: which service it is, the type declaring its own
/// settings, and how to build it from them.
public struct ServiceDescriptor<Options: ParsableArguments & Sendable>: Sendable {
    public var service: SuiteService
    public var usesRedis: Bool
    public var makeComponents: @Sendable (ServiceEnvironment, Options) async throws -> ServiceComponents

    public init(
        _ service: SuiteService, options: Options.Type = Options.self, usesRedis: Bool = false,
        makeComponents: @escaping @Sendable (ServiceEnvironment, Options) async throws -> ServiceComponents
    ) {
        self.service = service
        self.usesRedis = usesRedis
        self.makeComponents = makeComponents
    }
}

/// The shared `main` of the five service executables: read settings, open and migrate the
/// database, connect Redis, build the service, bind the RPC and metrics ports, then run
/// everything in a `ServiceGroup` until SIGTERM/SIGINT (GoAway, drain, close pools, exit 0).
///
/// Settings are parsed before anything else: `--help` prints them all and exits 0; an unknown flag, an
/// unknown `OMS_<SVC>_…` variable or a malformed value prints `oms-<service>: error: <cause>` and a pointer
/// to `--help` on standard error and exits 64 (EX_USAGE) without touching the database. A missing token, an
/// unreachable database, a wrong password or a port in use ends the process with one line
/// `oms-<service>: error: <cause>` on standard error and exit status 1.
public enum ServiceRunner {
    public static func main<Options>(_ descriptor: ServiceDescriptor<Options>) async -> Never {
        let program = "oms-\(descriptor.service)"
        let settings: ServiceSettings<Options>
        do {
            settings = try ServiceSettings.parse(
                service: descriptor.service, arguments: Array(CommandLine.arguments.dropFirst()),
                environment: ProcessInfo.processInfo.environment)
        } catch {
            let (message, status) = ServiceSettings<Options>.report(error, service: descriptor.service)
            if status == 0 {
                print(message)
            } else {
                FileHandle.standardError.write(Data("\(message)\n".utf8))
            }
            exit(status)
        }
        do {
            try await run(descriptor, settings: settings)
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

    /// Runs the service with parsed settings until shutdown.
    /// - Throws: `ConfigurationError`, or the start-up failure.
    public static func run<Options>(_ descriptor: ServiceDescriptor<Options>, settings: ServiceSettings<Options>)
        async throws
    {
        let configuration = try ServiceConfiguration(service: descriptor.service, options: settings.common)
        if configuration.probe {
            try await probe(configuration)
            return
        }
        let logger = bootstrapLogging(configuration)
        let registry = bootstrapMetrics(service: configuration.name)
        if let armed = (settings.own as? any FailpointSettings)?.armedFailpoints {
            logger.warning(
                "TEST-ONLY failpoint set: this process kills itself with SIGKILL at that point; never set it in production",
                metadata: ["failpoint": "\(armed)"])
        }

        // Database: connect, check credentials, migrate.
        guard let dbURL = configuration.databaseURL else {
            throw ConfigurationError(
                "no database URL: set --db-url or \(SettingNames.serviceVariable("db-url", service: descriptor.service))")
        }
        let primary: MySQLConfiguration
        do { primary = try MySQLConfiguration(url: dbURL) } catch { throw ConfigurationError("--db-url: \(error)") }
        let replica: MySQLConfiguration?
        do { replica = try configuration.replicaDatabaseURL.map { try MySQLConfiguration(url: $0) } } catch {
            throw ConfigurationError("--db-replica-url: \(error)")
        }
        let database = MySQLDatabase(primary: primary, replica: replica, name: configuration.name, logger: logger)
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
            for service in SuiteService.allCases where service != descriptor.service {
                let address = configuration.peer(service)
                addresses[service.rawValue] = (address.host, address.port)
            }
            let clients = OMSClients(
                configuration: OMSClientConfiguration(addresses: addresses, authToken: configuration.authToken),
                logger: logger)
            peers = clients
            let environment = ServiceEnvironment(
                configuration: configuration, logger: logger, database: database, redis: redis, peers: clients)
            let components = try await descriptor.makeComponents(environment, settings.own)

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
                    maximumUnauthenticatedFrameLength: configuration.options.maxUnauthenticatedFrameBytes,
                    frameTimeout: configuration.options.frameTimeout,
                    maximumIncompleteFrameBytes: configuration.options.maxIncompleteFrameBytes,
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
        if let dir = configuration.migrationsDirectory { return dir }
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

    private static func bootstrapMetrics(service: String) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Batch sizes in powers of two, so a lone request (1) is told apart from a small batch.
        factory.valueHistogramBuckets[BatchCoalescer<Int, Int>.sizeLabel(metricPrefix: "oms_\(service)")] =
            BatchCoalescer<Int, Int>.sizeBuckets
        MetricsSystem.bootstrap(factory)
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
