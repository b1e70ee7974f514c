import Logging
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the suite's `ServiceRunner` assembles `oms-payments`.
public enum PaymentsDefinition {
    /// The service name: settings prefix `OMS_PAYMENTS_`, schema `oms_payments`, port 7103.
    public static let name = "payments"

    /// Where the migrations live inside a checkout (`<root>/services/payments/migrations`).
    /// - Parameter root: the checkout (or image) root.
    public static func migrationsDirectory(root: String) -> String {
        root.hasSuffix("/") ? "\(root)services/payments/migrations" : "\(root)/services/payments/migrations"
    }

    /// Reads the payments settings (all optional):
    /// - `provider` — `sandbox` (the only built-in provider; default);
    /// - `sandbox-latency` — delay of every sandbox answer (default 0ms);
    /// - `sandbox-slow-latency` — delay of the slow test card 4000 0000 0000 3220 (default 10m);
    /// - `provider-timeout` — longest provider call when the caller's deadline allows more (default 10s);
    /// - `poll-interval` — how often a call waiting on another call with the same key re-reads (default 15ms);
    /// - `resolver-interval` — period of the job settling pending payments (default 5s);
    /// - `abandon-after` — age after which a pending payment the provider never saw is failed (default 15m).
    /// - Throws: `ConfigurationError` naming a bad setting.
    public static func engineSettings(_ settings: Settings) throws -> PaymentsEngineSettings {
        var engine = PaymentsEngineSettings(
            providerTimeout: try settings.duration("provider-timeout", default: .seconds(10)),
            claimMargin: .seconds(2),
            pollInterval: try settings.duration("poll-interval", default: .milliseconds(15)),
            abandonAfter: try settings.duration("abandon-after", default: .seconds(900)),
            resolverInterval: try settings.duration("resolver-interval", default: .seconds(5)))
        engine.nodeID = try settings.int("node-id", default: 0, range: 0...1023)
        return engine
    }

    /// The provider the settings name.
    /// - Throws: `ConfigurationError` for an unknown provider or bad latency.
    public static func makeProvider(_ settings: Settings, database: MySQLDatabase? = nil) throws -> any PaymentProvider {
        let kind = settings.string("provider", default: "sandbox")
        guard kind == "sandbox" else {
            throw ConfigurationError("--provider must be 'sandbox' (the only built-in provider), got '\(kind)'")
        }
        return SandboxPaymentProvider(
            latency: try settings.duration("sandbox-latency", default: .zero),
            slowLatency: try settings.duration("sandbox-slow-latency", default: .seconds(600)), database: database)
    }

    /// Builds the RPC service and the background jobs. The database must already be migrated.
    /// - Parameters:
    ///   - settings: the process settings (see `engineSettings(_:)` and `makeProvider(_:)`).
    ///   - database: the `oms_payments` database.
    ///   - logger: the service logger.
    ///   - provider: a provider to use instead of the one the settings name (tests).
    /// - Returns: the `oms.payments.v1.Payments` service and the `payments-resolver` job.
    /// - Throws: `ConfigurationError` for bad settings.
    public static func makeComponents(
        settings: Settings, database: MySQLDatabase, logger: Logger, provider: (any PaymentProvider)? = nil
    ) async throws -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let engineSettings = try engineSettings(settings)
        let provider = try provider ?? makeProvider(settings, database: database)
        let engine = PaymentsEngine(database: database, provider: provider, settings: engineSettings, logger: logger)
        let service = PaymentsService(engine: engine, logger: logger)
        return ([service], [resolverJob(engine: engine, logger: logger)])
    }

    /// The job that settles pending authorizations (by asking the provider) and re-sends unconfirmed
    /// captures, voids and refunds whose claim expired.
    public static func resolverJob(engine: PaymentsEngine, logger: Logger) -> PeriodicJob {
        PeriodicJob(name: "payments-resolver", interval: engine.settings.resolverInterval, logger: logger) {
            let settled = try await engine.resolvePending()
            if settled.intents + settled.operations > 0 {
                logger.info(
                    "resolver settled pending payments",
                    metadata: ["intents": "\(settled.intents)", "operations": "\(settled.operations)"])
            }
        }
    }
}
