import OMSAPI
import OMSMySQL
import OMSRPC
import OMSRPCCore
import Testing

@testable import OMSServiceKit

/// The health service over a real server and client: it needs no token, and what it says about a
/// failing dependency is a fixed reason, never the error's text.
@Suite struct HealthServiceTests {
    struct Slow: Error {}

    private func withHealthServer<T>(
        _ checks: [RPCHealthCheck], checkTimeout: Duration = .seconds(2),
        _ body: (HealthV1.HealthClient) async throws -> T
    ) async throws -> T {
        let health = RPCHealthProvider(
            checks: checks, services: ["oms.inventory.v1.Inventory", HealthV1.Health.name],
            checkTimeout: checkTimeout)
        let server = RPCServer(
            configuration: .init(port: 0, authToken: "secret", publicMethods: RPCHealthProvider.publicMethods),
            services: [health])
        let address = try await server.start()
        let port = try #require(address.port)
        // No token: load balancers and probes hold none.
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: port, authToken: nil))
        do {
            let result = try await body(HealthV1.HealthClient(transport: client))
            await client.close()
            await server.shutdownGracefully()
            return result
        } catch {
            await client.close()
            await server.shutdownGracefully()
            throw error
        }
    }

    @Test("serving without credentials when every dependency answers")
    func serving() async throws {
        try await withHealthServer([RPCHealthCheck(name: "mysql") {}, RPCHealthCheck(name: "redis") {}]) { health in
            let answer = try await health.check(.init())
            #expect(answer.status == .serving)
            #expect(answer.dependencies.map(\.name) == ["mysql", "redis"])
            #expect(answer.dependencies.allSatisfy { $0.detail.isEmpty })
        }
    }

    @Test("a failing dependency reports a fixed reason, never the driver's text")
    func fixedReasons() async throws {
        let checks = [
            RPCHealthCheck(name: "mysql") {
                throw MySQLError(number: 2003, message: "Can't connect to MySQL server on 'db.internal' (111)")
            },
            RPCHealthCheck(name: "auth") {
                throw MySQLError(number: 1045, message: "Access denied for user 'oms_orders'@'10.0.0.7'")
            },
            RPCHealthCheck(name: "slow") { try await Task.sleep(for: .seconds(30)) },
        ]
        try await withHealthServer(checks, checkTimeout: .milliseconds(200)) { health in
            let answer = try await health.check(.init())
            #expect(answer.status == .notServing)
            let details = Dictionary(uniqueKeysWithValues: answer.dependencies.map { ($0.name, $0.detail) })
            #expect(details == ["mysql": "unavailable", "auth": "failed", "slow": "timed out"])
            #expect(answer.dependencies.allSatisfy { $0.status == .notServing })
        }
    }

    @Test("a service the process does not serve is SERVICE_UNKNOWN")
    func unknownService() async throws {
        try await withHealthServer([RPCHealthCheck(name: "mysql") {}]) { health in
            let served = try await health.check(.init(service: "oms.inventory.v1.Inventory"))
            let unknown = try await health.check(.init(service: "oms.nope.v1.Nope"))
            #expect(served.status == .serving)
            #expect(unknown.status == .serviceUnknown)
        }
    }

    @Test("serving(_:) answers for the names of the services it is given")
    func servedNames() {
        let provider = RPCHealthProvider.serving([], checks: [], logger: .init(label: "test"))
        #expect(provider.services == [HealthV1.Health.name])
    }
}
