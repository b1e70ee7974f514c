import ArgumentParser
import Foundation
import OMSClient
import Testing

@testable import OMSServiceKit

/// Settings of a made-up service, declared the way the service modules declare theirs.
struct SampleOptions: ParsableArguments, Sendable {
    @Option(setting: "reservation-ttl", help: "Time to live of a reservation.")
    var reservationTTL: Duration = .seconds(900)
    @Option(setting: "sweep-batch", range: 1...100, help: "Batch size.")
    var sweepBatch = 10
    @Option(setting: "gate-enabled", help: "Whether the gate is on.")
    var gateEnabled = true

    init() {}
}

/// No settings beyond the shared ones.
struct NoOptions: ParsableArguments, Sendable {
    init() {}
}

@Suite struct SettingsTests {
    typealias Sample = ServiceSettings<SampleOptions>

    /// The message and exit status `parse` ends with.
    func failure<Own>(
        _ type: ServiceSettings<Own>.Type, service: SuiteService = .inventory, _ arguments: [String],
        environment: [String: String] = [:]
    ) -> (message: String, status: Int32) {
        do {
            _ = try type.parse(service: service, arguments: arguments, environment: environment)
            return ("parsed", 0)
        } catch {
            return type.report(error, service: service)
        }
    }

    @Test func flagWinsOverServiceVariableWhichWinsOverSuiteVariableWhichWinsOverDefault() throws {
        let env = ["OMS_INVENTORY_RESERVATION_TTL": "60s", "OMS_RESERVATION_TTL": "30s", "OMS_LOG_LEVEL": "debug"]
        let flag = try Sample.parse(service: .inventory, arguments: ["--reservation-ttl", "90s"], environment: env)
        #expect(flag.own.reservationTTL == .seconds(90))
        let service = try Sample.parse(service: .inventory, arguments: [], environment: env)
        #expect(service.own.reservationTTL == .seconds(60))
        let suite = try Sample.parse(service: .orders, arguments: [], environment: env)
        #expect(suite.own.reservationTTL == .seconds(30))
        #expect(suite.common.logLevel == "debug")
        let defaults = try Sample.parse(service: .orders, arguments: [], environment: ["OMS_RESERVATION_TTL": ""])
        #expect(defaults.own.reservationTTL == .seconds(900))
        #expect(defaults.common.logLevel == "info")
        #expect(defaults.common.port == 7102 && defaults.common.metricsPort == 9102)
        #expect(defaults.own.gateEnabled && !defaults.common.probe)
    }

    @Test func equalsFormBareFlagsAndBooleans() throws {
        let s = try Sample.parse(
            service: .orders, arguments: ["--port=7202", "--probe", "--gate-enabled=false"], environment: [:])
        #expect(s.common.port == 7202)
        #expect(s.common.probe)
        #expect(!s.own.gateEnabled)
        let fromEnvironment = try Sample.parse(
            service: .orders, arguments: [], environment: ["OMS_ORDERS_PROBE": "yes", "OMS_GATE_ENABLED": "off"])
        #expect(fromEnvironment.common.probe && !fromEnvironment.own.gateEnabled)
        let bad = failure(Sample.self, service: .orders, [], environment: ["OMS_ORDERS_PROBE": "maybe"])
        #expect(bad.status == 64 && bad.message.contains("OMS_ORDERS_PROBE"), "\(bad.message)")
    }

    @Test func unknownFlagsAndStrayArgumentsAreUsageErrorsNamingThem() {
        let misspelled = failure(Sample.self, ["--reservaton-ttl", "900"])
        #expect(misspelled.status == 64)
        #expect(misspelled.message.contains("--reservaton-ttl"), "\(misspelled.message)")
        let stray = failure(Sample.self, ["stray"])
        #expect(stray.status == 64 && stray.message.contains("stray"), "\(stray.message)")
        // Another service's setting is unknown here too.
        #expect(failure(ServiceSettings<NoOptions>.self, ["--reservation-ttl", "1s"]).status == 64)
    }

    @Test func unknownServiceVariablesAreRefusedOthersAreLeftAlone() throws {
        let refused = failure(
            Sample.self, [], environment: ["OMS_INVENTORY_RESERVATON_TTL": "secret-900", "OMS_INVENTORY_SWEEP": "1"])
        #expect(refused.status == 64)
        #expect(refused.message.contains("OMS_INVENTORY_RESERVATON_TTL, OMS_INVENTORY_SWEEP"), "\(refused.message)")
        #expect(!refused.message.contains("secret-900"))
        // Suite-wide names, peers' addresses (this service's own too), other services' variables, the Compose
        // secret: used by other processes, not refused.
        var env = [
            "OMS_HOME": "/tmp", "OMS_MYSQL_ADMIN_URL": "x", "OMS_ORDERS_NODE_ID": "5", "OMS_BENCH_SECONDS": "1",
            "OMS_INVENTORY_DB_PASSWORD": "x", "OMS_EXIT_WITH_PARENT": "1", "OMS_HOST": "0.0.0.0",
        ]
        for service in SuiteService.allCases { env[service.addressVariable] = "127.0.0.1:\(service.port)" }
        let s = try Sample.parse(service: .inventory, arguments: [], environment: env)
        #expect(s.common.host == "0.0.0.0" && s.common.exitWithParent == 1)
        #expect(s.common.address(of: .orders) == ServiceAddress(host: "127.0.0.1", port: 7102))
    }

    @Test func whatTheToolsSetForAServiceIsAccepted() throws {
        // tools/oms-env.sh (.oms/env), OMSTestKit's TestSuite and ServiceProcess, docker-compose.yml.
        for service in SuiteService.allCases {
            let up = service.rawValue.uppercased()
            var env = [
                "OMS_AUTH_TOKEN": "t", "OMS_AUTH_TOKEN_FILE": "/x", "OMS_REDIS_URL": "redis://x", "OMS_HOME": "/x",
                "OMS_MIGRATIONS_DIR": "/srv", "OMS_\(up)_HOST": "127.0.0.1", "OMS_\(up)_PORT": "1",
                "OMS_\(up)_METRICS_PORT": "0", "OMS_\(up)_DB_URL": "mysql://u:p@h:1/d", "OMS_\(up)_DRAIN_TIMEOUT": "5s",
                "OMS_\(up)_MIGRATIONS_DIR": "/m", "OMS_EXIT_WITH_PARENT": "1", "OMS_MYSQL_ADMIN_URL": "x",
            ]
            for peer in SuiteService.allCases { env[peer.addressVariable] = "127.0.0.1:1" }
            let s = try ServiceSettings<NoOptions>.parse(service: service, arguments: [], environment: env)
            #expect(s.common.port == 1 && s.common.drainTimeout == .seconds(5) && s.common.migrationsDir == "/m")
        }
    }

    @Test func durations() throws {
        for (text, expected) in [
            ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
            ("1500", .milliseconds(1500)),
        ] {
            let s = try Sample.parse(service: .inventory, arguments: ["--drain-timeout", text], environment: [:])
            #expect(s.common.drainTimeout == expected, "\(text)")
        }
        for bad in ["soon", "-5s", "5d"] {
            let f = failure(Sample.self, ["--drain-timeout=\(bad)"])
            #expect(f.status == 64 && f.message.contains("--drain-timeout"), "\(f.message)")
            #expect(f.message.contains("must be a duration such as 500ms, 30s or 5m"), "\(f.message)")
        }
        #expect(SettingValue.format(.seconds(900)) == "15m" && SettingValue.format(.milliseconds(500)) == "500ms")
        #expect(SettingValue.format(.zero) == "0ms" && SettingValue.format(.seconds(7200)) == "2h")
    }

    @Test func rangesAreChecked() {
        for (arguments, range) in [
            (["--port", "http"], "0...65535"), (["--port=70000"], "0...65535"), (["--sweep-batch", "0"], "1...100"),
            (["--max-frame-bytes", "100"], "1024...67108864"),
        ] {
            let f = failure(Sample.self, arguments)
            #expect(f.status == 64 && f.message.contains("must be an integer in \(range)"), "\(f.message)")
        }
        let env = failure(Sample.self, [], environment: ["OMS_INVENTORY_SWEEP_BATCH": "1000"])
        #expect(env.status == 64 && env.message.contains("--sweep-batch"), "\(env.message)")
        let peer = failure(Sample.self, ["--orders-addr", "localhost"])
        #expect(peer.status == 64 && peer.message.contains("host:port"), "\(peer.message)")
    }

    @Test func helpListsEverySettingWithItsEnvironmentNamesAndDefault() throws {
        // Words as they read, whatever the line breaks of the help layout.
        let help = Sample.helpText(service: .inventory).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for expected in [
            "oms-inventory", "--reservation-ttl", "OMS_INVENTORY_RESERVATION_TTL, OMS_RESERVATION_TTL", "default: 15m",
            "--sweep-batch", "default: 10", "--port", "OMS_INVENTORY_PORT", "default: 7101", "default: 9101",
            "--db-url", "OMS_INVENTORY_DB_URL", "--orders-addr", "OMS_INVENTORY_ORDERS_ADDR, OMS_ORDERS_ADDR",
            "default: 127.0.0.1:7102", "--probe", "default: off", "--drain-timeout", "default: 10s",
        ] {
            #expect(help.contains(expected), "\(expected)")
        }
        let asked = failure(Sample.self, ["--help"])
        #expect(asked.status == 0 && asked.message.contains("OMS_INVENTORY_RESERVATION_TTL"))
    }

    @Test func suiteTable() {
        #expect(SuiteService.allCases.map(\.port) == [7100, 7101, 7102, 7103, 7104])
        #expect(SuiteService.allCases.map(\.metricsPort) == [9100, 9101, 9102, 9103, 9104])
        #expect(Set(SuiteService.startOrder) == Set(SuiteService.allCases))
        #expect(SuiteService.orders.addressVariable == "OMS_ORDERS_ADDR")
    }

    @Test func addresses() throws {
        #expect(try ServiceAddress(parsing: "127.0.0.1:7101") == ServiceAddress(host: "127.0.0.1", port: 7101))
        #expect(try ServiceAddress(parsing: "[::1]:7101") == ServiceAddress(host: "::1", port: 7101))
        #expect(throws: ConfigurationError.self) { try ServiceAddress(parsing: "localhost") }
        #expect(throws: ConfigurationError.self) { try ServiceAddress(parsing: "localhost:70000") }
    }

    func configuration(_ service: SuiteService, _ environment: [String: String]) throws -> ServiceConfiguration {
        let s = try ServiceSettings<NoOptions>.parse(service: service, arguments: [], environment: environment)
        return try ServiceConfiguration(service: service, options: s.common)
    }

    @Test func configurationReadsTokenAndDefaults() throws {
        let token = String(repeating: "a", count: 32)
        let c = try configuration(.payments, ["OMS_AUTH_TOKEN": token])
        #expect(c.authToken == token)
        #expect(c.listen.port == 7103)
        #expect(c.metricsPort == 9103)
        #expect(c.maxFrameBytes == 4 << 20)
        #expect(c.peer(.orders) == ServiceAddress(host: "127.0.0.1", port: 7102))
        #expect(throws: ConfigurationError.self) { try configuration(.payments, ["OMS_AUTH_TOKEN": "short"]) }
        #expect(throws: ConfigurationError.self) {
            try configuration(.payments, ["OMS_AUTH_TOKEN_FILE": "/nonexistent/oms-token"])
        }
        // From a file, trimmed, the same for the services and their clients (SuiteToken).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("oms-token-\(UInt32.random(in: 0...UInt32.max))")
        try Data("  \(token)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try configuration(.orders, ["OMS_AUTH_TOKEN_FILE": file.path, "OMS_ORDERS_METRICS_PORT": "0"])
        #expect(fromFile.authToken == token)
        #expect(fromFile.metricsPort == nil)
        let client = try OMSClientConfiguration.fromEnvironment(["OMS_AUTH_TOKEN_FILE": file.path])
        #expect(client.authToken == token)
        #expect(throws: OMSClientError.self) { try OMSClientConfiguration.fromEnvironment(["OMS_AUTH_TOKEN": "with space 0123456789"]) }
    }
}
