import Foundation
import OMSClient
import Testing

@Suite("Client configuration, token and environment file")
struct ConfigurationTests {
    static let token = "0123456789abcdef-token"

    /// A fresh directory under the temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "oms-client-tests-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("addresses: host:port, [v6]:port; bad input is refused")
    func addresses() throws {
        let v4 = try OMSClientConfiguration.parseAddress("db.internal:7101")
        #expect(v4.host == "db.internal" && v4.port == 7101)
        let v6 = try OMSClientConfiguration.parseAddress("[::1]:7101")
        #expect(v6.host == "::1" && v6.port == 7101)
        for bad in ["", "localhost", "localhost:", ":7101", "host:0", "host:65536", "host:port", "[::1]", "[]:7101"] {
            #expect(throws: OMSClientError.self, "\(bad)") { try OMSClientConfiguration.parseAddress(bad) }
        }
    }

    @Test("from the environment: given addresses override the defaults, the rest stay on loopback")
    func fromEnvironment() throws {
        let configuration = try OMSClientConfiguration.fromEnvironment(
            ["OMS_ORDERS_ADDR": "[::1]:8102", "OMS_CHECKOUT_ADDR": "", "OMS_AUTH_TOKEN": Self.token],
            workingDirectory: "/nonexistent")
        #expect(configuration.authToken == Self.token)
        #expect(configuration.addresses["orders"]?.host == "::1")
        #expect(configuration.addresses["orders"]?.port == 8102)
        for service in SuiteService.allCases where service != .orders {
            #expect(configuration.addresses[service.rawValue]?.host == "127.0.0.1")
            #expect(configuration.addresses[service.rawValue]?.port == service.port)
        }
        #expect(throws: OMSClientError.self) {
            try OMSClientConfiguration.fromEnvironment(
                ["OMS_ORDERS_ADDR": "orders", "OMS_AUTH_TOKEN": Self.token], workingDirectory: "/nonexistent")
        }
    }

    @Test("token: the variable first, then the file (trimmed), then .oms/auth-token; a missing file is named")
    func tokenLoading() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try SuiteToken.load(token: Self.token, file: "/nonexistent/token") == Self.token)

        let file = dir + "/token"
        try Data("  \(Self.token)\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try SuiteToken.load(token: "", file: file) == Self.token)
        #expect(try SuiteToken.load(token: nil, file: file) == Self.token)

        try FileManager.default.createDirectory(atPath: dir + "/.oms", withIntermediateDirectories: true)
        try Data("\(Self.token)-home".utf8).write(to: URL(fileURLWithPath: dir + "/.oms/auth-token"))
        #expect(try SuiteToken.load(token: nil, file: nil, workingDirectory: dir) == Self.token + "-home")

        do {
            _ = try SuiteToken.load(token: nil, file: dir + "/missing")
            Issue.record("a missing token file was accepted")
        } catch let error as OMSClientError {
            #expect(error.description.contains("OMS_AUTH_TOKEN"))
            #expect(error.description.contains(dir + "/missing"))
        }
        #expect(throws: OMSClientError.self) { try SuiteToken.load(token: "short", file: nil) }
        #expect(throws: OMSClientError.self) { try SuiteToken.load(token: "has a space in it!!", file: nil) }
    }

    @Test("environment file: comments, blank lines, export, quotes, later lines win")
    func environmentParse() {
        let text = """
            # suite settings
            OMS_AUTH_TOKEN=abc

            export OMS_ORDERS_ADDR = 127.0.0.1:7102
              OMS_QUOTED="a b=c"
            OMS_SINGLE='x'
            OMS_HALF="y
            not a setting
            OMS_AUTH_TOKEN=def
            OMS_EMPTY=
            """
        let values = SuiteEnvironment.parse(text)
        #expect(values["OMS_AUTH_TOKEN"] == "def")
        #expect(values["OMS_ORDERS_ADDR"] == " 127.0.0.1:7102")
        #expect(values["OMS_QUOTED"] == "a b=c")
        #expect(values["OMS_SINGLE"] == "x")
        #expect(values["OMS_HALF"] == "\"y")
        #expect(values["OMS_EMPTY"] == "")
        #expect(values.count == 6)
        #expect(SuiteEnvironment(values: values)["OMS_EMPTY"] == nil)
        #expect(SuiteEnvironment(values: values)["OMS_SINGLE"] == "x")
    }
}
