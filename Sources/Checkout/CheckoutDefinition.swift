import Logging
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the ServiceRunner assembles `oms-checkout`.
public enum CheckoutDefinition {
    /// The service name (settings prefix `OMS_CHECKOUT_…`, schema `oms_checkout`).
    public static let name = "checkout"

    /// `services/checkout/migrations` under a checkout or image root.
    /// - Parameter root: the directory holding `services/`.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/checkout/migrations"
    }

    /// Builds the RPC service and the recovery sweeper. The database must be migrated already.
    ///
    /// Settings read (flag / `OMS_CHECKOUT_*` / `OMS_*`): `node-id`, `instance-name`, `lease` (30s),
    /// `step-timeout` (8s), `default-deadline` (20s), `reservation-ttl` (15m), `recovery-interval`
    /// (5s), `recovery-batch` (200), `recovery-concurrency` (8).
    /// - Parameters:
    ///   - database: the `oms_checkout` database.
    ///   - inventory: inventory port (e.g. `InventoryClientAdapter(client:)`).
    ///   - orders: orders port (e.g. `OrdersClientAdapter(client:)`).
    ///   - payments: payments port (e.g. `PaymentsClientAdapter(client:)`).
    ///   - settings: the service settings.
    ///   - logger: logger.
    /// - Returns: the service to serve and the sweeper job (it also runs once at start-up).
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        database: MySQLDatabase, inventory: any InventoryPort, orders: any OrdersPort, payments: any PaymentsPort,
        settings: Settings, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let coordinator = try CheckoutCoordinator(
            database: database, inventory: inventory, orders: orders, payments: payments, settings: settings,
            logger: logger)
        if let step = coordinator.configuration.crashAfter {
            logger.warning(
                "TEST-ONLY failpoint set: this process kills itself with SIGKILL after every \(step.rawValue); never set it in production",
                metadata: ["failpoint": "crash-after:\(step.rawValue)"])
        }
        return (
            [CheckoutService(coordinator: coordinator)],
            [coordinator.makeRecoveryJob()] + [coordinator.makeRetentionJob()].compactMap { $0 }
        )
    }

    /// Builds the components with adapters over the generated typed clients.
    /// - Parameters:
    ///   - database: the `oms_checkout` database.
    ///   - inventory: transport to oms-inventory.
    ///   - orders: transport to oms-orders.
    ///   - payments: transport to oms-payments.
    ///   - settings: the service settings.
    ///   - logger: logger.
    /// - Returns: the service and the sweeper job.
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        database: MySQLDatabase, inventory: any RPCClientTransport, orders: any RPCClientTransport,
        payments: any RPCClientTransport, settings: Settings, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        try await makeComponents(
            database: database, inventory: InventoryClientAdapter(transport: inventory),
            orders: OrdersClientAdapter(transport: orders), payments: PaymentsClientAdapter(transport: payments),
            settings: settings, logger: logger)
    }
}
