import Foundation
import OMSCore

/// How to reach one MySQL or MariaDB server, and how the pool in front of it behaves.
///
/// Build one from a URL (`mysql://user:pass@host:port/db?pool=16&timeout=5`) or field by field.
public struct MySQLConfiguration: Sendable, Hashable {
    /// Host name or IP address; ignored when `unixSocket` is set.
    public var host: String
    /// TCP port (default 3306).
    public var port: Int
    /// User name.
    public var user: String
    /// Password (may be empty).
    public var password: String
    /// Default schema for the session, or `nil` for none.
    public var database: String?
    /// Path of a Unix domain socket to connect through instead of TCP.
    public var unixSocket: String?
    /// Most connections the pool opens (default 16).
    public var poolSize: Int
    /// Time allowed to establish a connection (MYSQL_OPT_CONNECT_TIMEOUT, whole seconds, default 5).
    public var connectTimeout: Duration
    /// Socket read timeout of the client library (MYSQL_OPT_READ_TIMEOUT, whole seconds, default 30).
    /// A hard backstop: a query whose reply takes longer fails with `.timeout` and the connection is replaced.
    public var readTimeout: Duration
    /// Socket write timeout of the client library (MYSQL_OPT_WRITE_TIMEOUT, whole seconds, default 30).
    public var writeTimeout: Duration
    /// Default server-side statement timeout (`max_statement_time` on MariaDB, `max_execution_time` on MySQL 8,
    /// where it covers SELECT only), or `nil` for none. A per-call `timeout:` overrides it.
    public var statementTimeout: Duration?
    /// Prepared statements kept per connection before the cache is cleared (default 256).
    public var statementCacheSize: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - host: host name or IP address.
    ///   - port: TCP port.
    ///   - user: user name.
    ///   - password: password.
    ///   - database: default schema.
    ///   - unixSocket: Unix socket path used instead of TCP when set.
    ///   - poolSize: most connections in the pool.
    public init(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String = "",
        database: String? = nil, unixSocket: String? = nil, poolSize: Int = 16
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.unixSocket = unixSocket
        self.poolSize = max(1, poolSize)
        self.connectTimeout = .seconds(5)
        self.readTimeout = .seconds(30)
        self.writeTimeout = .seconds(30)
        self.statementTimeout = nil
        self.statementCacheSize = 256
    }

    /// Parses `mysql://user:pass@host:port/db?pool=16&timeout=5`.
    ///
    /// User, password and database are percent-decoded. Query parameters: `pool` (pool size), `timeout`
    /// (connect timeout, seconds), `read_timeout`, `write_timeout`, `statement_timeout` (seconds, fractions allowed
    /// for the last), `socket` (Unix socket path), `cache` (statement cache size).
    /// - Parameter url: the URL text.
    /// - Throws: `MySQLError` of kind `.invalidArgument` when the URL is malformed.
    public init(url: String) throws {
        func bad(_ why: String) -> MySQLError {
            MySQLError(kind: .invalidArgument, message: "invalid MySQL URL: \(why)")
        }
        guard let parts = ConnectionURL(url) else { throw bad("missing scheme") }
        let scheme = parts.scheme.lowercased()
        guard scheme == "mysql" || scheme == "mariadb" else { throw bad("scheme must be mysql://") }
        var user = ""
        var password = ""
        if let info = parts.userInfo {
            if let colon = info.firstIndex(of: ":") {
                user = try Self.decode(info[..<colon])
                password = try Self.decode(info[info.index(after: colon)...])
            } else {
                user = try Self.decode(info)
            }
        }
        var host = "127.0.0.1"
        var port = 3306
        let hostPort = parts.hostPort
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw bad("port") }
                port = p
            }
        } else {
            guard let named = ConnectionURL.hostAndPort(hostPort, host: host, port: port) else { throw bad("port") }
            (host, port) = named
        }
        let database = parts.path.isEmpty ? nil : try Self.decode(parts.path)
        self.init(host: host, port: port, user: user, password: password, database: database)
        try parts.forEachQueryItem(decode: Self.decode) { key, value in
            switch key {
            case "pool", "pool_size":
                guard let n = Int(value), n > 0 else { throw bad("pool") }
                poolSize = n
            case "timeout", "connect_timeout":
                guard let s = Double(value), s > 0 else { throw bad("timeout") }
                connectTimeout = .milliseconds(Int64(s * 1000))
            case "read_timeout":
                guard let s = Double(value), s > 0 else { throw bad("read_timeout") }
                readTimeout = .milliseconds(Int64(s * 1000))
            case "write_timeout":
                guard let s = Double(value), s > 0 else { throw bad("write_timeout") }
                writeTimeout = .milliseconds(Int64(s * 1000))
            case "statement_timeout":
                guard let s = Double(value), s >= 0 else { throw bad("statement_timeout") }
                statementTimeout = s == 0 ? nil : .milliseconds(Int64(s * 1000))
            case "socket":
                unixSocket = value
            case "cache":
                guard let n = Int(value), n > 0 else { throw bad("cache") }
                statementCacheSize = n
            default:
                throw bad("unknown parameter \(key)")
            }
        }
    }

    /// This configuration pointed at another schema (same server and credentials).
    /// - Parameter database: the schema name.
    public func with(database: String?) -> MySQLConfiguration {
        var copy = self
        copy.database = database
        return copy
    }

    private static func decode(_ text: Substring) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw MySQLError(kind: .invalidArgument, message: "invalid percent-encoding in MySQL URL")
        }
        return decoded
    }
}
