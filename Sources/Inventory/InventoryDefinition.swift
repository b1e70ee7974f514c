import Logging
import OMSClient
import OMSMySQL
import OMSRPCCore
import OMSRedis
import OMSServiceKit

/// How the runner builds `oms-inventory`.
///
/// ```swift
/// await ServiceRunner.main(
///     ServiceDescriptor(InventoryDefinition.service, options: InventoryOptions.self, usesRedis: true) { env, options in
///         let parts = try await InventoryDefinition.makeComponents(
///             options: options, database: env.database, redis: env.redis, logger: env.logger)
///         return ServiceComponents(services: parts.services, jobs: parts.jobs)
///     })
/// ```
public enum InventoryDefinition {
    /// The service name (`oms-inventory`, schema `oms_inventory`, settings prefix `OMS_INVENTORY_`).
    public static let service = SuiteService.inventory

    /// The migrations directory under a checkout or deployment root: `services/inventory/migrations`.
    /// - Parameter root: the root directory.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/inventory/migrations"
    }

    /// Builds the RPC service and the background jobs. The database must already be migrated.
    /// - Parameters:
    ///   - options: the service's own settings (see `InventoryConfiguration.init(options:)`).
    ///   - database: the `oms_inventory` database.
    ///   - redis: the gate's Redis, or nil to run MySQL-only (slower, still correct).
    ///   - logger: the service logger.
    /// - Returns: the `oms.inventory.v1.Inventory` service and the jobs `inventory-expiry-sweeper` and
    ///   `inventory-reconciliation` (the latter only with Redis).
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        options: InventoryOptions, database: MySQLDatabase, redis: RedisClient?, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let configuration = try InventoryConfiguration(options: options)
        let service = InventoryService(database: database, redis: redis, configuration: configuration, logger: logger)
        return ([service], jobs(for: service, logger: logger))
    }

    /// The background jobs of a service: the expiry sweeper, and reconciliation when a gate is configured.
    /// - Parameters:
    ///   - service: the service.
    ///   - logger: logger for job failures.
    public static func jobs(for service: InventoryService, logger: Logger) -> [PeriodicJob] {
        var jobs = [
            PeriodicJob(name: "inventory-expiry-sweeper", interval: service.configuration.sweepInterval, logger: logger) {
                try await service.sweepExpired()
            }
        ]
        if service.gate != nil {
            jobs.append(
                PeriodicJob(
                    name: "inventory-reconciliation", interval: service.configuration.reconcileInterval,
                    runAtStart: false, logger: logger
                ) {
                    _ = try await service.reconcile(skus: nil, dryRun: false)
                })
        }
        return jobs
    }
}
