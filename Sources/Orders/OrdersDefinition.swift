import Foundation
import Logging
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the ServiceRunner assembles `oms-orders`.
public enum OrdersDefinition {
    /// The service name (`--…`/`OMS_ORDERS_…` settings prefix, schema `oms_orders`).
    public static let name = "orders"

    /// `services/orders/migrations` under a checkout or image root.
    /// - Parameter root: the directory holding `services/`.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/orders/migrations"
    }

    /// Builds the RPC service and the background jobs. The database must be migrated already.
    ///
    /// Settings read: `node-id` (0…1023, default 0; give every instance its own), `read-your-writes-window`
    /// (default 5s), `partition-months-ahead` (default 3), `partition-interval` (default 1h),
    /// `outbox-interval` (default 1s), `outbox-lease` (default 30s).
    /// Partitions are ensured once before this returns, so the first order has a partition.
    /// - Parameters:
    ///   - database: primary (and optional replica) of `oms_orders`.
    ///   - settings: the service settings.
    ///   - receiver: where outbox refunds and restocks go (the lead wires payments + inventory clients).
    ///   - logger: logger.
    /// - Returns: the services to serve and the jobs to run.
    /// - Throws: `ConfigurationError` for bad settings, `MySQLError` when partitions cannot be created.
    public static func makeComponents(
        database: MySQLDatabase, settings: Settings, receiver: any OrdersOutboxReceiver, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let node = try settings.int("node-id", default: 0, range: 0...1023)
        let window = try settings.duration("read-your-writes-window", default: .seconds(5))
        let ahead = try settings.int("partition-months-ahead", default: 3, range: 1...60)
        let partitionInterval = try settings.duration("partition-interval", default: .seconds(3600))
        let outboxInterval = try settings.duration("outbox-interval", default: .seconds(1))
        let lease = try settings.duration("outbox-lease", default: .seconds(30))

        let maintenance = PartitionMaintenance(database: database, monthsAhead: ahead, logger: logger)
        try await maintenance.run()
        let service = OrdersService(database: database, nodeID: node, recentWriteWindow: window, logger: logger)
        let relay = OrdersOutboxRelay(database: database, receiver: receiver, lease: lease, logger: logger)
        let jobs = [
            PeriodicJob(name: "orders-partitions", interval: partitionInterval, runAtStart: false, logger: logger) {
                try await maintenance.run()
            },
            PeriodicJob(name: "orders-outbox-relay", interval: outboxInterval, logger: logger) {
                try await relay.runOnce()
            },
        ]
        return ([service], jobs)
    }
}
