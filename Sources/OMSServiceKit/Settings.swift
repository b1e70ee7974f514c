import Foundation

/// Why a service refuses to start: one line naming the cause (printed, then exit 1).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Settings of one executable, looked up by key from, in order: a command-line flag
/// (`--reservation-ttl 900` or `--reservation-ttl=900`), the service's environment variable
/// (`OMS_INVENTORY_RESERVATION_TTL`), a suite-wide environment variable (`OMS_RESERVATION_TTL`),
/// then the default.
public struct Settings: Sendable {
    public let service: String
    private let flags: [String: String]
    private let environment: [String: String]

    /// - Parameters:
    ///   - service: the service name (`inventory`), used for the environment prefix.
    ///   - arguments: command-line arguments without the program name.
    ///   - environment: the process environment.
    /// - Throws: `ConfigurationError` for an argument that is not `--key value` or `--key=value`.
    public init(service: String, arguments: [String], environment: [String: String]) throws {
        self.service = service
        self.environment = environment
        var flags: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--"), arg.count > 2 else {
                throw ConfigurationError("unexpected argument '\(arg)'; settings are --key value or --key=value")
            }
            let body = arg.dropFirst(2)
            if let eq = body.firstIndex(of: "=") {
                flags[String(body[..<eq])] = String(body[body.index(after: eq)...])
            } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                flags[String(body)] = arguments[i + 1]
                i += 1
            } else {
                flags[String(body)] = "true"
            }
            i += 1
        }
        self.flags = flags
    }

    /// The environment variable name for a key: `db-url` → `OMS_INVENTORY_DB_URL`.
    public func environmentName(_ key: String, serviceScoped: Bool = true) -> String {
        let suffix = key.uppercased().replacingOccurrences(of: "-", with: "_")
        return serviceScoped ? "OMS_\(service.uppercased())_\(suffix)" : "OMS_\(suffix)"
    }

    /// The raw string for a key, or nil.
    public func string(_ key: String) -> String? {
        if let v = flags[key] { return v }
        if let v = environment[environmentName(key)], !v.isEmpty { return v }
        if let v = environment[environmentName(key, serviceScoped: false)], !v.isEmpty { return v }
        return nil
    }

    public func string(_ key: String, default value: String) -> String { string(key) ?? value }

    /// - Throws: `ConfigurationError` when present but not an integer in `range`.
    public func int(_ key: String, default value: Int, range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let raw = string(key) else { return value }
        guard let v = Int(raw), range.contains(v) else {
            throw ConfigurationError("--\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
        }
        return v
    }

    /// Durations are given in milliseconds (`--drain-timeout-ms 5000`) or with a unit suffix
    /// (`500ms`, `30s`, `5m`).
    /// - Throws: `ConfigurationError` when present but unreadable or negative.
    public func duration(_ key: String, default value: Duration) throws -> Duration {
        guard let raw = string(key) else { return value }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where raw.hasSuffix(suffix) {
            if let n = Int64(raw.dropLast(suffix.count)), n >= 0 { return .milliseconds(n * factor) }
        }
        if let n = Int64(raw), n >= 0 { return .milliseconds(n) }
        throw ConfigurationError("--\(key) must be a duration such as 500ms, 30s or 5m, got '\(raw)'")
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let raw = string(key) else { return value }
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError("--\(key) must be true or false, got '\(raw)'")
        }
    }
}
