import Foundation
import Logging
import OMSAPI
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the service runner assembles `oms-shipments`.
public enum ShipmentsDefinition {
    /// The service name: settings prefix `OMS_SHIPMENTS_`, schema `oms_shipments`.
    public static let name = "shipments"

    /// The migrations directory of the service below a checkout or image root: `<root>/services/shipments/migrations`.
    /// - Parameter root: the package or image root.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/shipments/migrations"
    }

    /// Builds the RPC service and the background jobs over ports.
    ///
    /// Settings read (flag / `OMS_SHIPMENTS_*` / `OMS_*`): `node-id` (0...1023, default random),
    /// `outbox-interval` (default 500ms), `outbox-batch-size` (default 100), `outbox-max-attempts`
    /// (default 25), `outbox-lease` (default 30s), `outbox-max-backoff` (default 60s).
    /// - Parameters:
    ///   - database: the migrated `oms_shipments` database.
    ///   - orders: the orders service.
    ///   - payments: the payments service.
    ///   - settings: the service's settings.
    ///   - logger: logger.
    /// - Returns: the `ShipmentsService` and the `shipments-outbox-relay` job.
    /// - Throws: `ConfigurationError` for an unreadable setting.
    public static func makeComponents(
        database: MySQLDatabase, orders: any OrdersPort, payments: any PaymentsPort, settings: Settings,
        logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let service = try ShipmentsService(
            database: database, orders: orders, payments: payments, settings: settings, logger: logger)
        let relay = OutboxRelay(
            database: database, orders: orders, payments: payments,
            owner: "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)",
            batchSize: try settings.int("outbox-batch-size", default: 100, range: 1...10_000),
            maxAttempts: try settings.int("outbox-max-attempts", default: 25, range: 1...1_000_000),
            lease: try settings.duration("outbox-lease", default: .seconds(30)),
            maxBackoff: try settings.duration("outbox-max-backoff", default: .seconds(60)),
            logger: logger)
        let job = PeriodicJob(
            name: "shipments-outbox-relay", interval: try settings.duration("outbox-interval", default: .milliseconds(500)),
            logger: logger
        ) {
            // Drain: keep going while full batches come back.
            while try await relay.runOnce().delivered >= relay.batchSize {}
        }
        return ([service], [job])
    }

    /// Builds the components over RPC transports to the orders and payments services (the typed clients of
    /// OMSAPI wrapped by `OrdersClientAdapter` and `PaymentsClientAdapter`).
    /// - Parameters:
    ///   - database: the migrated `oms_shipments` database.
    ///   - ordersTransport: a transport connected to `oms-orders`.
    ///   - paymentsTransport: a transport connected to `oms-payments`.
    ///   - settings: the service's settings.
    ///   - logger: logger.
    /// - Returns: the service and its jobs.
    /// - Throws: `ConfigurationError` for an unreadable setting.
    public static func makeComponents(
        database: MySQLDatabase, ordersTransport: any RPCClientTransport, paymentsTransport: any RPCClientTransport,
        settings: Settings, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        try await makeComponents(
            database: database,
            orders: OrdersClientAdapter(client: OrdersV1.OrdersClient(transport: ordersTransport)),
            payments: PaymentsClientAdapter(client: PaymentsV1.PaymentsClient(transport: paymentsTransport)),
            settings: settings, logger: logger)
    }
}
