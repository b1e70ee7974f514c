import ArgumentParser
import Foundation
import Logging
import OMSAPI
import OMSClient
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the service runner assembles `oms-shipments`.
public enum ShipmentsDefinition {
    /// The service name: settings prefix `OMS_SHIPMENTS_`, schema `oms_shipments`.
    public static let service = SuiteService.shipments

    /// The migrations directory of the service below a checkout or image root: `<root>/services/shipments/migrations`.
    /// - Parameter root: the package or image root.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/shipments/migrations"
    }

    /// Builds the RPC service and the background jobs over ports.
    ///
    /// Settings: `ShipmentsOptions` (`oms-shipments --help` lists them with their defaults).
    /// - Parameters:
    ///   - database: the migrated `oms_shipments` database.
    ///   - orders: the orders service.
    ///   - payments: the payments service.
    ///   - options: the service's own settings.
    ///   - logger: logger.
    /// - Returns: the `ShipmentsService` and the `shipments-outbox-relay` job.
    public static func makeComponents(
        database: MySQLDatabase, orders: any OrdersPort, payments: any PaymentsPort, options: ShipmentsOptions,
        logger: Logger
    ) -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let service = ShipmentsService(
            database: database, orders: orders, payments: payments, nodeID: options.nodeID, logger: logger)
        let relay = OutboxRelay(
            database: database, orders: orders, payments: payments,
            owner: "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)",
            batchSize: options.outboxBatchSize, maxAttempts: options.outboxMaxAttempts, lease: options.outboxLease,
            maxBackoff: options.outboxMaxBackoff, failpoints: options.failpoint, logger: logger)
        let job = PeriodicJob(name: "shipments-outbox-relay", interval: options.outboxInterval, logger: logger) {
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
    ///   - options: the service's own settings.
    ///   - logger: logger.
    /// - Returns: the service and its jobs.
    public static func makeComponents(
        database: MySQLDatabase, ordersTransport: any RPCClientTransport, paymentsTransport: any RPCClientTransport,
        options: ShipmentsOptions, logger: Logger
    ) -> (services: [any RPCService], jobs: [PeriodicJob]) {
        makeComponents(
            database: database,
            orders: OrdersClientAdapter(client: OrdersV1.OrdersClient(transport: ordersTransport)),
            payments: PaymentsClientAdapter(client: PaymentsV1.PaymentsClient(transport: paymentsTransport)),
            options: options, logger: logger)
    }
}

/// The TEST-ONLY crash points of `oms-shipments` (setting `failpoint`; docs/operations.md, "Failpoints").
public enum ShipmentsFailpoint: String, FailpointName {
    /// The outbox relay delivered a capture or an order record; the row is not yet marked done.
    case outboxAfterDelivery = "outbox-after-delivery"
}

/// The settings of `oms-shipments` beyond the shared ones (`ServiceOptions`): flag `--<key>`, then
/// `OMS_SHIPMENTS_<KEY>`, then `OMS_<KEY>`, then the default.
public struct ShipmentsOptions: ParsableArguments, Sendable, FailpointSettings {
    @Option(
        setting: "node-id", help: "Node id of this instance in shipment ids (0...1023); one per instance.",
        defaultText: "random", parse: { try SettingValue.integer($0, in: 0...1023) })
    public var nodeID: Int?
    @Option(setting: "outbox-interval", help: "Period of the outbox relay (captures, order records).")
    public var outboxInterval: Duration = .milliseconds(500)
    @Option(setting: "outbox-batch-size", range: 1...10_000, help: "Outbox rows the relay claims at once.")
    public var outboxBatchSize = 100
    @Option(setting: "outbox-max-attempts", range: 1...1_000_000, help: "Deliveries of one row before it is parked.")
    public var outboxMaxAttempts = 25
    @Option(setting: "outbox-lease", help: "How long a relay owns the outbox rows it claimed.")
    public var outboxLease: Duration = .seconds(30)
    @Option(setting: "outbox-max-backoff", help: "Longest wait before a failed row is retried.")
    public var outboxMaxBackoff: Duration = .seconds(60)
    @Option(failpoints: ShipmentsFailpoint.self) public var failpoint: Failpoints<ShipmentsFailpoint>

    public init() {}
}
