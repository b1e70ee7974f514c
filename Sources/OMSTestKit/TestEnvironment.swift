import Foundation
import OMSClient
import OMSMySQL
import OMSRedis

/// The local test environment written by `tools/oms-env.sh start` (MariaDB and Redis URLs, token file).
///
/// `load()` reads process environment variables first, else the `KEY=VALUE` file named by `OMS_ENV_FILE`,
/// else `<package root>/.oms/env`.
public struct TestEnvironment: Sendable {
    /// Every variable found, by name.
    public let values: [String: String]

    /// Creates an environment from explicit values.
    /// - Parameter values: variables by name.
    public init(values: [String: String]) {
        self.values = values
    }

    /// Loads the environment.
    /// - Throws: `TestEnvironmentError` when no source defines `OMS_MYSQL_ADMIN_URL`.
    public static func load(filePath: String = #filePath) throws -> TestEnvironment {
        let process = ProcessInfo.processInfo.environment
        var values: [String: String] = [:]
        let path: String
        if let file = process["OMS_ENV_FILE"], !file.isEmpty {
            path = file
        } else {
            path = packageRoot(from: filePath) + "/.oms/env"
        }
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            values = SuiteEnvironment.parse(text)
        }
        for (k, v) in process where k.hasPrefix("OMS_") { values[k] = v }
        guard values["OMS_MYSQL_ADMIN_URL"] != nil else {
            throw TestEnvironmentError(
                message: "OMS_MYSQL_ADMIN_URL not set and \(path) not readable; run tools/oms-env.sh start")
        }
        return TestEnvironment(values: values)
    }

    /// The package root: the nearest ancestor of `filePath` holding `Package.swift`.
    /// - Parameter filePath: a source file path (`#filePath`).
    public static func packageRoot(from filePath: String = #filePath) -> String {
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    private func require(_ key: String) throws -> String {
        guard let v = values[key], !v.isEmpty else { throw TestEnvironmentError(message: "\(key) is not set") }
        return v
    }

    /// `OMS_MYSQL_ADMIN_URL` (all privileges).
    public var adminURL: String { values["OMS_MYSQL_ADMIN_URL"] ?? "" }
    /// `OMS_REDIS_URL`.
    public var redisURL: String { values["OMS_REDIS_URL"] ?? "" }
    /// `OMS_AUTH_TOKEN_FILE`.
    public var authTokenFile: String { values["OMS_AUTH_TOKEN_FILE"] ?? "" }

    /// `OMS_<SERVICE>_DB_URL`, the service user's URL for its own schema.
    /// - Parameter service: `checkout`, `inventory`, `orders`, `payments` or `shipments`.
    /// - Throws: `TestEnvironmentError` when unset.
    public func dbURL(service: String) throws -> String {
        try require("OMS_\(service.uppercased())_DB_URL")
    }

    /// Admin configuration (pool of 2).
    /// - Throws: when the URL is malformed.
    public func adminConfiguration() throws -> MySQLConfiguration {
        var c = try MySQLConfiguration(url: adminURL)
        c.poolSize = 2
        return c
    }

    /// Redis configuration.
    /// - Throws: when the URL is malformed.
    public func redisConfiguration() throws -> RedisConfiguration {
        try RedisConfiguration(url: try require("OMS_REDIS_URL"))
    }

    /// Creates an empty schema `oms_<service>_t<random>` (which the service's user may use), runs `body` with a
    /// configuration for it (the service user's credentials), then drops the schema, also when `body` throws.
    /// - Parameters:
    ///   - service: the service whose user owns the schema.
    ///   - poolSize: pool size of the configuration passed in.
    ///   - body: the test.
    /// - Throws: what `body` throws, or setup errors.
    public func withFreshSchema<R>(
        service: String, poolSize: Int = 8, callerIsolation: isolated (any Actor)? = #isolation,
        _ body: (MySQLConfiguration, String) async throws -> R
    ) async throws -> R {
        let schema = try await createSchema(service: service)
        var config = try MySQLConfiguration(url: try dbURL(service: service)).with(database: schema)
        config.poolSize = poolSize
        do {
            let r = try await body(config, schema)
            try await dropSchema(schema)
            return r
        } catch {
            try? await dropSchema(schema)
            throw error
        }
    }

    /// Creates an empty schema `oms_<service>_t<random hex>` through the admin URL.
    /// - Parameter service: service name (lower case letters).
    /// - Returns: the schema name.
    /// - Throws: `MySQLError`.
    public func createSchema(service: String) async throws -> String {
        guard service.allSatisfy({ $0.isLetter && $0.isASCII && $0.isLowercase }) else {
            throw TestEnvironmentError(message: "invalid service name")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let schema = "oms_\(service)_t\(suffix)"
        let admin = MySQLConnectionPool(configuration: try adminConfiguration(), name: "testkit-admin")
        do {
            // Identifier built above from letters and hex digits only: safe to place in the DDL text.
            try await admin.execute("CREATE DATABASE `\(schema)` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            await admin.shutdown()
        } catch {
            await admin.shutdown()
            throw error
        }
        return schema
    }

    /// Drops a schema created by `createSchema`.
    /// - Parameter schema: the name returned by `createSchema`.
    /// - Throws: `MySQLError`, or `TestEnvironmentError` for a name that `createSchema` would not produce.
    public func dropSchema(_ schema: String) async throws {
        guard schema.hasPrefix("oms_"), schema.contains("_t"),
            schema.allSatisfy({ ($0.isLetter && $0.isASCII) || $0.isNumber || $0 == "_" })
        else { throw TestEnvironmentError(message: "refusing to drop \(schema)") }
        let admin = MySQLConnectionPool(configuration: try adminConfiguration(), name: "testkit-admin")
        do {
            // MariaDB can refuse with 1010 ("Directory not empty") while InnoDB is still removing the
            // files of tables it has just dropped, when many suites create and drop schemas at once.
            // The tables are gone by then; dropping again finishes the job.
            var attempt = 1
            while true {
                do {
                    try await admin.execute("DROP DATABASE IF EXISTS `\(schema)`")
                    break
                } catch let error as MySQLError where error.number == 1010 && attempt < 10 {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            await admin.shutdown()
        } catch {
            await admin.shutdown()
            throw error
        }
    }
}

/// The test environment is missing or incomplete.
public struct TestEnvironmentError: Error, CustomStringConvertible, Sendable {
    /// What is missing.
    public var message: String
    public var description: String { message }
}
