import Logging
import OMSClient
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the ServiceRunner assembles `oms-checkout`.
public enum CheckoutDefinition {
    /// The service name (settings prefix `OMS_CHECKOUT_…`, schema `oms_checkout`).
    public static let service = SuiteService.checkout

    /// `services/checkout/migrations` under a checkout or image root.
    /// - Parameter root: the directory holding `services/`.
    public static func migrationsDirectory(root: String) -> String {
        root + "/services/checkout/migrations"
    }

    /// Builds the RPC service and the recovery sweeper. The database must be migrated already.
    ///
    /// Settings: `CheckoutOptions` (`oms-checkout --help` lists them with their defaults).
    /// - Parameters:
    ///   - database: the `oms_checkout` database.
    ///   - inventory: inventory port (e.g. `InventoryClientAdapter(client:)`).
    ///   - orders: orders port (e.g. `OrdersClientAdapter(client:)`).
    ///   - payments: payments port (e.g. `PaymentsClientAdapter(client:)`).
    ///   - options: the service's own settings.
    ///   - logger: logger.
    /// - Returns: the service to serve and the sweeper job (it also runs once at start-up).
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        database: MySQLDatabase, inventory: any InventoryPort, orders: any OrdersPort, payments: any PaymentsPort,
        options: CheckoutOptions, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let coordinator = try CheckoutCoordinator(
            database: database, inventory: inventory, orders: orders, payments: payments, options: options,
            logger: logger)
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
    ///   - options: the service's own settings.
    ///   - logger: logger.
    /// - Returns: the service and the sweeper job.
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        database: MySQLDatabase, inventory: any RPCClientTransport, orders: any RPCClientTransport,
        payments: any RPCClientTransport, options: CheckoutOptions, logger: Logger
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        try await makeComponents(
            database: database, inventory: InventoryClientAdapter(transport: inventory),
            orders: OrdersClientAdapter(transport: orders), payments: PaymentsClientAdapter(transport: payments),
            options: options, logger: logger)
    }
}
