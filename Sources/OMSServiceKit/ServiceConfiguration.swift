import Foundation
import OMSClient

/// Where each service of the suite listens by default (docs/operations.md).
public enum SuiteDefaults {
    public static let ports: [String: Int] = [
        "checkout": 7100, "inventory": 7101, "orders": 7102, "payments": 7103, "shipments": 7104,
    ]
    /// Prometheus text endpoints: 9100 + the RPC port's last two digits.
    public static let metricsPorts: [String: Int] = [
        "checkout": 9100, "inventory": 9101, "orders": 9102, "payments": 9103, "shipments": 9104,
    ]
    public static let services = ["checkout", "inventory", "orders", "payments", "shipments"]
}

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

/// The settings every service executable shares. Service-specific settings are read from
/// `settings` by the service module.
public struct ServiceConfiguration: Sendable {
    public var name: String
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
    public var settings: Settings

    /// Reads the shared settings.
    /// - Throws: `ConfigurationError` naming the setting that is missing or wrong.
    public init(service: String, arguments: [String], environment: [String: String]) throws {
        let s = try Settings(service: service, arguments: arguments, environment: environment)
        settings = s
        name = service
        let host = s.string("host", default: "127.0.0.1")
        let port = try s.int("port", default: SuiteDefaults.ports[service] ?? 0, range: 0...65535)
        listen = ServiceAddress(host: host, port: port)
        let metrics = try s.int("metrics-port", default: SuiteDefaults.metricsPorts[service] ?? 0, range: 0...65535)
        metricsPort = metrics == 0 ? nil : metrics
        databaseURL = s.string("db-url")
        replicaDatabaseURL = s.string("db-replica-url")
        redisURL = s.string("redis-url")
        authToken = try Self.loadToken(s, environment: environment)
        maxFrameBytes = try s.int("max-frame-bytes", default: 4 << 20, range: 1024...(64 << 20))
        maxConnections = try s.int("max-connections", default: 1024, range: 1...100_000)
        maxCallsPerConnection = try s.int("max-calls-per-connection", default: 20_000, range: 1...1_000_000)
        idleTimeout = try s.duration("idle-timeout", default: .seconds(300))
        drainTimeout = try s.duration("drain-timeout", default: .seconds(10))
        logLevel = s.string("log-level", default: "info")
        let parent = try s.int("exit-with-parent", default: 0, range: 0...Int(Int32.max))
        exitWithParent = parent == 0 ? nil : Int32(parent)
    }

    /// The address of another service of the suite: `--orders-addr` / `OMS_ORDERS_ADDR`,
    /// defaulting to loopback and the suite's default port.
    /// - Throws: `ConfigurationError` when the setting is malformed.
    public func peer(_ service: String) throws -> ServiceAddress {
        if let raw = settings.string("\(service)-addr") { return try ServiceAddress(parsing: raw) }
        return ServiceAddress(host: "127.0.0.1", port: SuiteDefaults.ports[service] ?? 0)
    }

    /// The token: `--auth-token` / `OMS_AUTH_TOKEN`, else the file named by `--auth-token-file` /
    /// `OMS_AUTH_TOKEN_FILE`, else `.oms/auth-token` under the current directory (`SuiteToken`, shared
    /// with the clients).
    static func loadToken(_ s: Settings, environment: [String: String]) throws -> String {
        do {
            return try SuiteToken.load(token: s.string("auth-token"), file: s.string("auth-token-file"))
        } catch let e as OMSClientError {
            throw ConfigurationError(e.description)
        }
    }
}
