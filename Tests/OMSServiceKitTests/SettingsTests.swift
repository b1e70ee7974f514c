import Foundation
import OMSClient
import Testing

@testable import OMSServiceKit

@Suite struct SettingsTests {
    @Test func flagsWinOverServiceEnvironmentWhichWinsOverSuiteEnvironment() throws {
        let env = ["OMS_INVENTORY_RESERVATION_TTL": "60", "OMS_RESERVATION_TTL": "30", "OMS_LOG_LEVEL": "debug"]
        let a = try Settings(service: "inventory", arguments: ["--reservation-ttl", "90"], environment: env)
        #expect(a.string("reservation-ttl") == "90")
        let b = try Settings(service: "inventory", arguments: [], environment: env)
        #expect(b.string("reservation-ttl") == "60")
        let c = try Settings(service: "orders", arguments: [], environment: env)
        #expect(c.string("reservation-ttl") == "30")
        #expect(c.string("log-level") == "debug")
        #expect(c.string("missing") == nil)
    }

    @Test func equalsFormAndBareFlags() throws {
        let s = try Settings(service: "orders", arguments: ["--port=7202", "--probe"], environment: [:])
        #expect(try s.int("port", default: 1) == 7202)
        #expect(try s.bool("probe", default: false))
    }

    @Test func badValuesAreOneClearError() throws {
        let s = try Settings(service: "orders", arguments: ["--port", "http"], environment: [:])
        #expect(throws: ConfigurationError.self) { try s.int("port", default: 1, range: 0...65535) }
        #expect(throws: ConfigurationError.self) {
            try Settings(service: "orders", arguments: ["stray"], environment: [:])
        }
        let d = try Settings(service: "orders", arguments: ["--drain-timeout", "soon"], environment: [:])
        #expect(throws: ConfigurationError.self) { try d.duration("drain-timeout", default: .seconds(1)) }
    }

    @Test func durations() throws {
        let s = try Settings(
            service: "x", arguments: ["--a", "250ms", "--b", "30s", "--c", "5m", "--d", "1500"], environment: [:])
        #expect(try s.duration("a", default: .zero) == .milliseconds(250))
        #expect(try s.duration("b", default: .zero) == .seconds(30))
        #expect(try s.duration("c", default: .zero) == .seconds(300))
        #expect(try s.duration("d", default: .zero) == .milliseconds(1500))
    }

    @Test func addresses() throws {
        #expect(try ServiceAddress(parsing: "127.0.0.1:7101") == ServiceAddress(host: "127.0.0.1", port: 7101))
        #expect(try ServiceAddress(parsing: "[::1]:7101") == ServiceAddress(host: "::1", port: 7101))
        #expect(throws: ConfigurationError.self) { try ServiceAddress(parsing: "localhost") }
        #expect(throws: ConfigurationError.self) { try ServiceAddress(parsing: "localhost:70000") }
    }

    @Test func configurationReadsTokenAndDefaults() throws {
        let token = String(repeating: "a", count: 32)
        let c = try ServiceConfiguration(
            service: "payments", arguments: [], environment: ["OMS_AUTH_TOKEN": token])
        #expect(c.authToken == token)
        #expect(c.listen.port == 7103)
        #expect(c.maxFrameBytes == 4 << 20)
        #expect(try c.peer("orders") == ServiceAddress(host: "127.0.0.1", port: 7102))
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration(service: "payments", arguments: [], environment: ["OMS_AUTH_TOKEN": "short"])
        }
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration(
                service: "payments", arguments: [],
                environment: ["OMS_AUTH_TOKEN_FILE": "/nonexistent/oms-token"])
        }
        // From a file, trimmed, the same for the services and their clients (SuiteToken).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("oms-token-\(UInt32.random(in: 0...UInt32.max))")
        try Data("  \(token)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try ServiceConfiguration(
            service: "orders", arguments: [], environment: ["OMS_AUTH_TOKEN_FILE": file.path])
        #expect(fromFile.authToken == token)
        let client = try OMSClientConfiguration.fromEnvironment(["OMS_AUTH_TOKEN_FILE": file.path])
        #expect(client.authToken == token)
        #expect(throws: OMSClientError.self) { try OMSClientConfiguration.fromEnvironment(["OMS_AUTH_TOKEN": "with space 0123456789"]) }
    }
}
