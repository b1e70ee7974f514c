import Foundation
import OMSCore

/// How to reach a Redis server and how the pool in front of it behaves.
public struct RedisConfiguration: Sendable, Hashable {
    /// Host name or IP address.
    public var host: String
    /// TCP port (default 6379).
    public var port: Int
    /// Unix socket path used instead of TCP when set.
    public var unixSocket: String?
    /// ACL user name for `AUTH user password`, or nil for `AUTH password`.
    public var user: String?
    /// Password, or nil for none.
    public var password: String?
    /// Database index selected after connecting.
    public var database: Int
    /// Most connections in the pool (default 8).
    public var poolSize: Int
    /// Time allowed to connect (default 2 s).
    public var connectTimeout: Duration
    /// Default per-command timeout (socket timeout via `redisSetTimeout`, default 2 s).
    public var commandTimeout: Duration
    /// Name given to pooled connections with `CLIENT SETNAME` (visible in `CLIENT LIST`).
    public var clientName: String

    /// Creates a configuration.
    /// - Parameters:
    ///   - host: host name or IP.
    ///   - port: TCP port.
    ///   - password: password or nil.
    ///   - database: database index.
    ///   - poolSize: most connections.
    public init(
        host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0, poolSize: Int = 8
    ) {
        self.host = host
        self.port = port
        self.unixSocket = nil
        self.user = nil
        self.password = password
        self.database = database
        self.poolSize = max(1, poolSize)
        self.connectTimeout = .seconds(2)
        self.commandTimeout = .seconds(2)
        self.clientName = "oms"
    }

    /// Parses `redis://[user]:password@host:port/db?pool=8&timeout=2`.
    ///
    /// User and password are percent-decoded. Query parameters: `pool`, `timeout` (command timeout, seconds),
    /// `connect_timeout` (seconds), `name` (client name), `socket` (Unix socket path).
    /// - Parameter url: URL text.
    /// - Throws: `RedisError` of kind `.invalidArgument`.
    public init(url: String) throws {
        func bad(_ why: String) -> RedisError {
            RedisError(kind: .invalidArgument, message: "invalid Redis URL: \(why)")
        }
        guard url.hasPrefix("redis://"), let parts = ConnectionURL(url) else { throw bad("scheme must be redis://") }
        self.init()
        if let info = parts.userInfo {
            if let colon = info.firstIndex(of: ":") {
                let u = try Self.decode(info[..<colon])
                user = u.isEmpty ? nil : u
                password = try Self.decode(info[info.index(after: colon)...])
            } else if !info.isEmpty {
                password = try Self.decode(info)
            }
        }
        guard let named = ConnectionURL.hostAndPort(parts.hostPort, host: host, port: port) else { throw bad("port") }
        (host, port) = named
        if !parts.path.isEmpty {
            guard let db = Int(parts.path), db >= 0 else { throw bad("database") }
            database = db
        }
        try parts.forEachQueryItem(decode: Self.decode) { key, value in
            switch key {
            case "pool":
                guard let n = Int(value), n > 0 else { throw bad("pool") }
                poolSize = n
            case "timeout":
                guard let s = Double(value), s > 0 else { throw bad("timeout") }
                commandTimeout = .milliseconds(Int64(s * 1000))
            case "connect_timeout":
                guard let s = Double(value), s > 0 else { throw bad("connect_timeout") }
                connectTimeout = .milliseconds(Int64(s * 1000))
            case "name": clientName = value
            case "socket": unixSocket = value
            default: throw bad("unknown parameter \(key)")
            }
        }
    }

    private static func decode(_ s: Substring) throws -> String {
        guard let d = String(s).removingPercentEncoding else {
            throw RedisError(kind: .invalidArgument, message: "invalid percent-encoding in Redis URL")
        }
        return d
    }
}
