import ArgumentParser
import Foundation
import OMSClient

/// A `host:port` pair.
public struct ServiceAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    /// Parses `host:port` (IPv6 as `[::1]:7101`).
    /// - Throws: `ConfigurationError`.
    public init(parsing text: String) throws {
        do {
            (host, port) = try OMSClientConfiguration.parseAddress(text)
        } catch let error as OMSClientError {
            throw ConfigurationError(error.description)
        }
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The settings every service executable shares (README "Configuration"); each service adds its own.
public struct ServiceOptions: ParsableArguments, Sendable {
    @Option(setting: "host", help: "Address to listen on (RPC and metrics).")
    public var host = "127.0.0.1"
    @Option(setting: "port", range: 0...65535, help: "RPC port.")
    public var port = SettingContext.current.service?.port ?? 0
    @Option(setting: "metrics-port", range: 0...65535, help: "Prometheus text endpoint (GET /metrics); 0 is off.")
    public var metricsPort = SettingContext.current.service?.metricsPort ?? 0
    @Option(setting: "db-url", help: "The service's database, mysql://user:password@host:port/schema.")
    public var dbURL: String?
    @Option(setting: "db-replica-url", help: "A read replica for read-only work.")
    public var dbReplicaURL: String?
    @Option(setting: "redis-url", help: "Redis, redis://:password@host:port/db (inventory's gate).")
    public var redisURL: String?
    @Option(setting: "auth-token", help: "The suite's bearer token.", defaultText: "from --auth-token-file")
    public var authToken: String?
    @Option(setting: "auth-token-file", help: "File holding the token.", defaultText: ".oms/auth-token")
    public var authTokenFile: String?
    @Option(setting: "max-frame-bytes", range: 1024...(64 << 20), help: "Largest frame accepted.")
    public var maxFrameBytes = 4 << 20
    @Option(
        setting: "max-unauthenticated-frame-bytes", range: 1024...(64 << 20),
        help: "Largest frame accepted on a connection before it has shown a valid token.")
    public var maxUnauthenticatedFrameBytes = 256 << 10
    @Option(setting: "frame-timeout", help: "How long a frame that has begun may take to arrive whole (0 is off).")
    public var frameTimeout: Duration = .seconds(10)
    @Option(
        setting: "max-incomplete-frame-bytes", range: (64 << 10)...(4 << 30),
        help: "Bytes of incomplete frames held for all connections together.")
    public var maxIncompleteFrameBytes = 64 << 20
    @Option(setting: "max-connections", range: 1...100_000, help: "Most client connections at once.")
    public var maxConnections = 1024
    @Option(setting: "max-calls-per-connection", range: 1...1_000_000, help: "Most calls in flight on a connection.")
    public var maxCallsPerConnection = 20_000
    @Option(setting: "idle-timeout", help: "Idle connections are closed after this.")
    public var idleTimeout: Duration = .seconds(300)
    @Option(setting: "drain-timeout", help: "On SIGTERM, how long calls in flight may finish.")
    public var drainTimeout: Duration = .seconds(10)
    @Option(setting: "log-level", help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel = "info"
    @Option(
        setting: "exit-with-parent", range: 0...Int(Int32.max),
        help: "Shut down gracefully once this pid is no longer the parent (the test kit sets it); 0 is off.")
    public var exitWithParent = 0
    @Option(setting: "migrations-dir", help: "The service's migrations.", defaultText: "services/<svc>/migrations")
    public var migrationsDir: String?
    @Flag(setting: "probe", help: "Ask the service at --host/--port for its health and exit (health checks).")
    public var probe: Bool
    @Option(peer: .checkout) public var checkoutAddr: ServiceAddress?
    @Option(peer: .inventory) public var inventoryAddr: ServiceAddress?
    @Option(peer: .orders) public var ordersAddr: ServiceAddress?
    @Option(peer: .payments) public var paymentsAddr: ServiceAddress?
    @Option(peer: .shipments) public var shipmentsAddr: ServiceAddress?

    public init() {}

    /// The address of a service of the suite: its `--<svc>-addr`, else loopback and its default port.
    public func address(of service: SuiteService) -> ServiceAddress {
        let given: ServiceAddress? =
            switch service {
            case .checkout: checkoutAddr
            case .inventory: inventoryAddr
            case .orders: ordersAddr
            case .payments: paymentsAddr
            case .shipments: shipmentsAddr
            }
        return given ?? ServiceAddress(host: "127.0.0.1", port: service.port)
    }
}

extension Option where Value == ServiceAddress? {
    /// `--<peer>-addr`: where a service of the suite listens (`host:port`, IPv6 as `[::1]:7101`).
    init(peer: SuiteService) {
        self.init(
            setting: "\(peer)-addr", help: "Where oms-\(peer) listens.", defaultText: "127.0.0.1:\(peer.port)",
            parse: ServiceAddress.init(parsing:))
    }
}

/// The settings every service executable shares, resolved. Service-specific settings are the
/// service's own options (`ServiceSettings.own`).
public struct ServiceConfiguration: Sendable {
    public var service: SuiteService
    public var name: String { service.rawValue }
    public var listen: ServiceAddress
    /// Port of the Prometheus text endpoint (HTTP `GET /metrics`); nil disables it.
    public var metricsPort: Int?
    public var databaseURL: String?
    public var replicaDatabaseURL: String?
    public var redisURL: String?
    /// The suite's shared bearer token.
    public var authToken: String
    public var maxFrameBytes: Int
    public var maxConnections: Int
    public var maxCallsPerConnection: Int
    public var idleTimeout: Duration
    public var drainTimeout: Duration
    public var logLevel: String
    /// `exit-with-parent`: the pid of the process that started this one; when it is gone (the
    /// parent of this process changes), the service shuts down gracefully as on SIGTERM. Used by
    /// the test kit so that a killed test run leaves no service running; nil (off) by default.
    public var exitWithParent: Int32?
    /// `--probe`: ask the running service for its health instead of serving.
    public var probe: Bool
    /// `--migrations-dir`, when given.
    public var migrationsDirectory: String?
    public var options: ServiceOptions

    /// Resolves the shared settings and loads the token.
    /// - Throws: `ConfigurationError` when the token is missing or malformed.
    public init(service: SuiteService, options: ServiceOptions) throws {
        self.service = service
        self.options = options
        listen = ServiceAddress(host: options.host, port: options.port)
        metricsPort = options.metricsPort == 0 ? nil : options.metricsPort
        databaseURL = options.dbURL
        replicaDatabaseURL = options.dbReplicaURL
        redisURL = options.redisURL
        authToken = try Self.loadToken(options)
        maxFrameBytes = options.maxFrameBytes
        maxConnections = options.maxConnections
        maxCallsPerConnection = options.maxCallsPerConnection
        idleTimeout = options.idleTimeout
        drainTimeout = options.drainTimeout
        logLevel = options.logLevel
        exitWithParent = options.exitWithParent == 0 ? nil : Int32(options.exitWithParent)
        probe = options.probe
        migrationsDirectory = options.migrationsDir
    }

    /// The address of another service of the suite: `--orders-addr` / `OMS_<SVC>_ORDERS_ADDR` /
    /// `OMS_ORDERS_ADDR`, defaulting to loopback and the suite's default port.
    public func peer(_ service: SuiteService) -> ServiceAddress { options.address(of: service) }

    /// The token: `--auth-token` / `OMS_AUTH_TOKEN`, else the file named by `--auth-token-file` /
    /// `OMS_AUTH_TOKEN_FILE`, else `.oms/auth-token` under the current directory (`SuiteToken`, shared
    /// with the clients).
    static func loadToken(_ options: ServiceOptions) throws -> String {
        do {
            return try SuiteToken.load(token: options.authToken, file: options.authTokenFile)
        } catch let e as OMSClientError {
            throw ConfigurationError(e.description)
        }
    }
}
