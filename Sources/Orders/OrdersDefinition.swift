import ArgumentParser
import Foundation
import Logging
import OMSClient
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the ServiceRunner assembles `oms-orders`.
public enum OrdersDefinition {
    /// The service name (`--…`/`OMS_ORDERS_…` settings prefix, schema `oms_orders`).
    public static let service = SuiteService.orders

    /// `services/orders/migrations` under a checkout or image root.
    /// - Parameter root: the directory holding `services/`.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/orders/migrations"
    }

    /// Builds the RPC service and the background jobs. The database must be migrated already.
    ///
    /// Settings: `OrdersOptions` (`oms-orders --help` lists them with their defaults).
    /// Partitions are ensured once before this returns, so the first order has a partition.
    /// - Parameters:
    ///   - database: primary (and optional replica) of `oms_orders`.
    ///   - options: the service's own settings.
    ///   - receiver: where outbox refunds and restocks go (the lead wires payments + inventory clients).
    ///   - checkouts: where the pending-order sweep asks about checkouts (the coordinator's client).
    ///   - logger: logger.
    /// - Returns: the services to serve and the jobs to run.
    /// - Throws: `ConfigurationError` for bad settings, `MySQLError` when partitions cannot be created.
    public static func makeComponents(
        database: MySQLDatabase, options: OrdersOptions, receiver: any OrdersOutboxReceiver,
        checkouts: any CheckoutLookup, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let maintenance = PartitionMaintenance(
            database: database, monthsAhead: options.partitionMonthsAhead, logger: logger)
        try await maintenance.run()
        let service = OrdersService(
            database: database, nodeID: options.nodeID, recentWriteWindow: options.readYourWritesWindow,
            writeBatchSize: options.writeBatchSize, failpoints: options.failpoint, logger: logger)
        let relay = OrdersOutboxRelay(
            database: database, receiver: receiver, lease: options.outboxLease, maxAttempts: options.outboxMaxAttempts,
            failpoints: options.failpoint, logger: logger)
        let sweeper = PendingOrderSweeper(
            core: service.core, checkouts: checkouts, grace: options.pendingOrderGrace, logger: logger)
        let jobs = [
            PeriodicJob(
                name: "orders-partitions", interval: options.partitionInterval, runAtStart: false, logger: logger
            ) {
                try await maintenance.run()
            },
            PeriodicJob(name: "orders-outbox-relay", interval: options.outboxInterval, logger: logger) {
                try await relay.runOnce()
            },
            PeriodicJob(
                name: "orders-pending-sweep", interval: options.pendingOrderSweepInterval, runAtStart: false,
                logger: logger
            ) {
                try await sweeper.runOnce()
            },
        ]
        return ([service], jobs)
    }
}

/// The TEST-ONLY crash points of `oms-orders` (setting `failpoint`; docs/operations.md, "Failpoints").
public enum OrdersFailpoint: String, FailpointName {
    /// A CreateOrder transaction that created the order has committed; no reply has been sent.
    case afterCreate = "after-create"
    /// The outbox relay delivered a refund or restock; the row is not yet marked delivered.
    case outboxAfterDelivery = "outbox-after-delivery"
}

/// The settings of `oms-orders` beyond the shared ones (`ServiceOptions`): flag `--<key>`, then
/// `OMS_ORDERS_<KEY>`, then `OMS_<KEY>`, then the default.
public struct OrdersOptions: ParsableArguments, Sendable, FailpointSettings {
    @Option(writeBatchSize: OrdersCore.defaultCreateBatch) public var writeBatchSize: Int
    @Option(setting: "node-id", range: 0...1023, help: "Node id of this instance in order ids; one per instance.")
    public var nodeID = 0
    @Option(setting: "read-your-writes-window", help: "How long reads after a write go to the primary.")
    public var readYourWritesWindow: Duration = .seconds(5)
    @Option(setting: "partition-months-ahead", range: 1...60, help: "Monthly partitions kept ahead of today.")
    public var partitionMonthsAhead = 3
    @Option(setting: "partition-interval", help: "Period of the partition maintenance job.")
    public var partitionInterval: Duration = .seconds(3600)
    @Option(setting: "outbox-interval", help: "Period of the outbox relay (refunds, restocks).")
    public var outboxInterval: Duration = .seconds(1)
    @Option(setting: "outbox-lease", help: "How long a relay owns the outbox rows it claimed.")
    public var outboxLease: Duration = .seconds(30)
    @Option(
        setting: "outbox-max-attempts", range: 1...100_000,
        help: "Failed deliveries after which an outbox row is parked for an operator.")
    public var outboxMaxAttempts = 100
    @Option(
        setting: "pending-order-grace",
        help: "Age after which a pending_payment order's checkout is looked up; ended or unknown checkouts cancel it.")
    public var pendingOrderGrace: Duration = .seconds(300)
    @Option(setting: "pending-order-sweep-interval", help: "Period of the pending-order sweep.")
    public var pendingOrderSweepInterval: Duration = .seconds(30)
    @Option(failpoints: OrdersFailpoint.self) public var failpoint: Failpoints<OrdersFailpoint>

    public init() {}
}
