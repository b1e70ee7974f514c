import Foundation
import Logging
import NIOCore
import NIOPosix
@_exported import OMSAPI
import OMSProto
import OMSRPC
import OMSRPCCore

/// Where the suite's services listen and how to authenticate to them.
public struct OMSClientConfiguration: Sendable {
    /// `service → (host, port)`, keyed by `SuiteService.rawValue`; every service has an entry.
    public var addresses: [String: (host: String, port: Int)]
    /// The suite's bearer token.
    public var authToken: String
    /// Deadline for calls that set none themselves.
    public var defaultTimeout: Duration
    /// Attempts for idempotent calls answered 14 UNAVAILABLE.
    public var maximumAttempts: Int

    public init(
        addresses: [String: (host: String, port: Int)] = [:], authToken: String,
        defaultTimeout: Duration = .seconds(10), maximumAttempts: Int = 3
    ) {
        var all = addresses
        for service in SuiteService.allCases where all[service.rawValue] == nil {
            all[service.rawValue] = ("127.0.0.1", service.port)
        }
        self.addresses = all
        self.authToken = authToken
        self.defaultTimeout = defaultTimeout
        self.maximumAttempts = maximumAttempts
    }

    /// Reads `OMS_<SERVICE>_ADDR` (`host:port`) and the token from `OMS_AUTH_TOKEN`, or the file in
    /// `OMS_AUTH_TOKEN_FILE`, or `.oms/auth-token` under `workingDirectory`.
    /// - Throws: `OMSClientError` naming what is missing or malformed.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> OMSClientConfiguration {
        var addresses: [String: (host: String, port: Int)] = [:]
        for service in SuiteService.allCases {
            guard let raw = environment[service.addressVariable], !raw.isEmpty else { continue }
            addresses[service.rawValue] = try parseAddress(raw)
        }
        let token = try SuiteToken.load(
            token: environment["OMS_AUTH_TOKEN"], file: environment["OMS_AUTH_TOKEN_FILE"],
            workingDirectory: workingDirectory)
        return OMSClientConfiguration(addresses: addresses, authToken: token)
    }

    /// Parses `host:port` or `[v6]:port`.
    /// - Throws: `OMSClientError`.
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(after: close)...].drop(while: { $0 == ":" })
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw OMSClientError("address '\(text)' must be host:port")
        }
        guard !host.isEmpty, let p = Int(port), (1...65535).contains(p) else {
            throw OMSClientError("address '\(text)' must be host:port with a port in 1...65535")
        }
        return (String(host), p)
    }
}

/// A configuration or connection problem of the SDK itself.
public struct OMSClientError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Typed clients for every service of the suite, each over one multiplexed connection that is
/// reused across calls (reconnected with jittered backoff when it drops).
///
/// ```swift
/// let oms = try OMSClients(configuration: .fromEnvironment())
/// let result = try await oms.checkout.placeOrder(request)
/// await oms.close()
/// ```
public final class OMSClients: Sendable {
    public let configuration: OMSClientConfiguration
    public let checkout: CheckoutV1.CheckoutClient
    public let inventory: InventoryV1.InventoryClient
    public let orders: OrdersV1.OrdersClient
    public let payments: PaymentsV1.PaymentsClient
    public let shipments: ShipmentsV1.ShipmentsClient
    /// The transport per service (`checkout`, `inventory`, …), for health checks and raw calls.
    public let transports: [String: RPCClient]

    /// - Parameters:
    ///   - configuration: addresses and token.
    ///   - logger: client-side log.
    public init(configuration: OMSClientConfiguration, logger: Logger = Logger(label: "oms.client")) {
        self.configuration = configuration
        var transports: [String: RPCClient] = [:]
        func transport(_ service: SuiteService) -> RPCClient {
            let address = configuration.addresses[service.rawValue] ?? ("127.0.0.1", service.port)
            let client = RPCClient(
                configuration: RPCClient.Configuration(
                    host: address.host, port: address.port, authToken: configuration.authToken,
                    defaultTimeout: configuration.defaultTimeout, maximumAttempts: configuration.maximumAttempts),
                logger: logger)
            transports[service.rawValue] = client
            return client
        }
        checkout = CheckoutV1.CheckoutClient(transport: transport(.checkout))
        inventory = InventoryV1.InventoryClient(transport: transport(.inventory))
        orders = OrdersV1.OrdersClient(transport: transport(.orders))
        payments = PaymentsV1.PaymentsClient(transport: transport(.payments))
        shipments = ShipmentsV1.ShipmentsClient(transport: transport(.shipments))
        self.transports = transports
    }

    /// The health client of one service.
    /// - Throws: `OMSClientError` for an unknown service name.
    public func health(_ service: String) throws -> HealthV1.HealthClient {
        guard let transport = transports[service] else {
            throw OMSClientError("unknown service '\(service)'; one of \(SuiteService.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return HealthV1.HealthClient(transport: transport)
    }

    /// Asks every service (or the named ones) for its health, concurrently.
    /// - Returns: `service → response or error`.
    public func checkHealth(
        _ services: [String] = SuiteService.allCases.map(\.rawValue), timeout: Duration = .seconds(2)
    ) async -> [String: Result<HealthV1.HealthCheckResponse, any Error>] {
        await withTaskGroup(of: (String, Result<HealthV1.HealthCheckResponse, any Error>).self) { group in
            for service in services {
                group.addTask {
                    do {
                        let response = try await self.health(service).check(
                            HealthV1.HealthCheckRequest(), options: CallOptions(timeout: timeout, idempotent: false))
                        return (service, .success(response))
                    } catch {
                        return (service, .failure(error))
                    }
                }
            }
            var results: [String: Result<HealthV1.HealthCheckResponse, any Error>] = [:]
            for await (service, result) in group { results[service] = result }
            return results
        }
    }

    /// Closes every connection.
    public func close() async {
        for transport in transports.values { await transport.close() }
    }
}
