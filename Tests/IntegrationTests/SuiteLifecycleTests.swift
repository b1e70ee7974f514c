import Foundation
import OMSAPI
import OMSClient
import OMSTestKit
import Testing

/// The suite as a deployer sees it: every executable starts, reports its dependencies, refuses
/// calls without the token, and stops gracefully on SIGTERM with exit status 0.
@Suite(.serialized) struct SuiteLifecycleTests {
    @Test func everyServiceStartsHealthyAndStopsGracefully() async throws {
        try await TestSuite.with { suite in
        let health = await suite.clients.checkHealth()
        for service in TestSuite.allServices {
            let response = try #require(try health[service]?.get(), "no health answer from \(service)")
            #expect(response.status == .serving, "\(service) is \(response.status)")
            let names = Set(response.dependencies.map(\.name))
            #expect(names.contains("mysql"), "\(service) does not report its database")
            if service == "inventory" { #expect(names.contains("redis")) }
        }
        for service in TestSuite.allServices.reversed() {
            let status = await suite.stopProcess(service)
            #expect(status == 0, "oms-\(service) exited with \(String(describing: status)) on SIGTERM")
        }
        }
    }

    @Test func callsWithoutTheSuiteTokenAreRefused() async throws {
        try await TestSuite.with(services: ["payments"]) { suite in
        let port = try #require(suite.processes["payments"]?.port)
        let stranger = OMSClients(
            configuration: OMSClientConfiguration(
                addresses: ["payments": ("127.0.0.1", port)], authToken: "not-the-suite-token-0123456789"))
        var request = PaymentsV1.GetPaymentRequest()
        request.lookup = .paymentID("1")
        do {
            _ = try await stranger.payments.getPayment(request)
            Issue.record("a call with a wrong token was answered")
        } catch let error as RPCError {
            #expect(error.code == .unauthenticated)
        }
        // Health stays open to probes without a token.
        let health = await stranger.checkHealth(["payments"])
        #expect((try? health["payments"]?.get())?.status == .serving)
        await stranger.close()
        }
    }

    @Test func aServiceWhoseParentDiesShutsItselfDown() async throws {
        let env = try TestEnvironment.load()
        let exe = try ToolProcess.executable("oms-payments")
        // A shell starts the service with exit-with-parent set to the shell's pid, prints the
        // service's pid and exits: the service is re-parented and must stop on its own.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("oms-parent-watch-\(getpid()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        shell.arguments = ["-c", "OMS_EXIT_WITH_PARENT=$$ \"$0\" >\"$1\" 2>&1 & echo $!", exe.path, log.path]
        shell.environment = [
            "OMS_AUTH_TOKEN": String(repeating: "t", count: 32), "OMS_PAYMENTS_DB_URL": try env.dbURL(service: "payments"),
            "OMS_PAYMENTS_METRICS_PORT": "0", "OMS_PAYMENTS_PORT": "0",
        ]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        let pid = try #require(Int32(out.trimmingCharacters(in: .whitespacesAndNewlines)), "no pid in \(out)")
        // Generous: start-up (migrations) plus one watch interval; nothing else is timed.
        let deadline = ContinuousClock.now + .seconds(60)
        while kill(pid, 0) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let gone = kill(pid, 0) != 0
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "oms-payments (pid \(pid)) kept running after its parent exited")
        // It was serving, noticed, and stopped the graceful way (not a start-up failure).
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(text.contains("serving") && text.contains("exit-with-parent") && text.contains("stopped"), "\(text)")
    }

    @Test func badConfigurationStopsWithOneClearLine() async throws {
        let env = try TestEnvironment.load()
        let exe = try ToolProcess.executable("oms-payments")
        let url = try env.dbURL(service: "payments")
        let cases: [(String, [String: String], String)] = [
            ("wrong password", ["OMS_PAYMENTS_DB_URL": url.replacingOccurrences(of: "://oms_payments:", with: "://oms_payments:x")], "access denied"),
            ("unreachable database", ["OMS_PAYMENTS_DB_URL": "mysql://oms_payments:pw@127.0.0.1:1/oms_payments"], "unreachable"),
            ("bad port", ["OMS_PAYMENTS_PORT": "http"], "--port"),
        ]
        for (name, overrides, expected) in cases {
            let p = Process()
            p.executableURL = exe
            var environment = ["OMS_AUTH_TOKEN": String(repeating: "t", count: 32), "OMS_PAYMENTS_DB_URL": url,
                               "OMS_PAYMENTS_METRICS_PORT": "0", "OMS_PAYMENTS_PORT": "0"]
            for (k, v) in overrides { environment[k] = v }
            p.environment = environment
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { $0.contains("error:") }
            #expect(p.terminationStatus != 0, "\(name): exit status 0")
            #expect(lines.count == 1, "\(name): expected one error line, got \(lines)")
            #expect(lines.first?.contains(expected) == true, "\(name): \(lines)")
        }
    }
}
