import Foundation

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
        guard url.hasPrefix("redis://") else { throw bad("scheme must be redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring = ""
        let authorityStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[authorityStart...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        self.init()
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                let u = try Self.decode(info[..<colon])
                user = u.isEmpty ? nil : u
                password = try Self.decode(info[info.index(after: colon)...])
            } else if !info.isEmpty {
                password = try Self.decode(info)
            }
        }
        if let colon = hostPort.lastIndex(of: ":") {
            if !hostPort[..<colon].isEmpty { host = String(hostPort[..<colon]) }
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw bad("port")
            }
            port = p
        } else if !hostPort.isEmpty {
            host = String(hostPort)
        }
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else { throw bad("database") }
            database = db
        }
        for item in query.split(separator: "&") where !item.isEmpty {
            let pair = item.split(separator: "=", maxSplits: 1)
            let key = try Self.decode(pair[0])
            let value = pair.count > 1 ? try Self.decode(pair[1]) : ""
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
