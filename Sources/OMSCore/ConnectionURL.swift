/// A `scheme://userinfo@host:port/path?query` connection URL cut into its pieces, not yet interpreted (the
/// MySQL and Redis configurations each read the pieces their own way).
public struct ConnectionURL: Sendable, Hashable {
    /// What stands before `://`, as written.
    public var scheme: Substring
    /// What stands before the last `@` of the authority, or nil when there is no `@`.
    public var userInfo: Substring?
    /// The authority after the user info: `host`, `host:port` or `[v6]:port`, as written.
    public var hostPort: Substring
    /// What follows the first `/` after the authority (empty when there is none).
    public var path: Substring
    /// What follows the first `?` (empty when there is none).
    public var query: Substring

    /// Cuts `url` into its pieces. The authority ends at the first `/` after the last `@` (a password may
    /// hold an encoded `/` only); the query starts at the first `?`.
    /// - Parameter url: the URL text.
    /// - Returns: nil when the text has no `://`.
    public init?(_ url: String) {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        scheme = url[..<schemeEnd.lowerBound]
        var rest = Substring(url[schemeEnd.upperBound...])
        query = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        path = ""
        let authorityStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[authorityStart...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        userInfo = nil
        hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
        }
    }

    /// Reads `host` or `host:port` (no brackets): the host is what stands before the last `:` when that is not
    /// empty, the port must be 1...65535.
    /// - Parameters:
    ///   - hostPort: the text.
    ///   - host: the host when the text names none.
    ///   - port: the port when the text names none.
    /// - Returns: the host and port, or nil when the port is not a number in 1...65535.
    public static func hostAndPort(_ hostPort: Substring, host: String, port: Int) -> (host: String, port: Int)? {
        guard let colon = hostPort.lastIndex(of: ":") else {
            return (hostPort.isEmpty ? host : String(hostPort), port)
        }
        guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else { return nil }
        return (hostPort[..<colon].isEmpty ? host : String(hostPort[..<colon]), p)
    }

    /// Calls `body` with each `key=value` item of the query in order (empty items skipped, a missing `=` gives
    /// an empty value), both decoded by `decode`.
    /// - Parameters:
    ///   - decode: percent-decodes one piece or throws.
    ///   - body: reads one item.
    /// - Throws: what `decode` or `body` throws; items after it are not read.
    public func forEachQueryItem(
        decode: (Substring) throws -> String, _ body: (_ key: String, _ value: String) throws -> Void
    ) rethrows {
        for item in query.split(separator: "&") where !item.isEmpty {
            let pair = item.split(separator: "=", maxSplits: 1)
            let key = try decode(pair[0])
            let value = pair.count > 1 ? try decode(pair[1]) : ""
            try body(key, value)
        }
    }
}
