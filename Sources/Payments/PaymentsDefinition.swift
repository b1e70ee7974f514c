import ArgumentParser
import Logging
import OMSClient
import OMSMySQL
import OMSRPCCore
import OMSServiceKit

/// How the suite's `ServiceRunner` assembles `oms-payments`.
public enum PaymentsDefinition {
    /// The service: settings prefix `OMS_PAYMENTS_`, schema `oms_payments`.
    public static let service = SuiteService.payments

    /// Where the migrations live inside a checkout (`<root>/services/payments/migrations`).
    /// - Parameter root: the checkout (or image) root.
    public static func migrationsDirectory(root: String) -> String {
        root.hasSuffix("/") ? "\(root)services/payments/migrations" : "\(root)/services/payments/migrations"
    }

    /// The engine's tunables from the settings.
    public static func engineSettings(_ options: PaymentsOptions) -> PaymentsEngineSettings {
        var engine = PaymentsEngineSettings(
            providerTimeout: options.providerTimeout, claimMargin: .seconds(2), pollInterval: options.pollInterval,
            resolverInterval: options.resolverInterval)
        engine.nodeID = options.nodeID
        engine.failpoints = options.failpoint
        engine.intentBatch = options.writeBatchSize
        return engine
    }

    /// The provider the settings name (`sandbox`, the only one; `PaymentsOptions` checks it).
    public static func makeProvider(_ options: PaymentsOptions, database: MySQLDatabase? = nil) -> any PaymentProvider {
        SandboxPaymentProvider(
            latency: options.sandboxLatency, slowLatency: options.sandboxSlowLatency, database: database)
    }

    /// Builds the RPC service and the background jobs. The database must already be migrated.
    /// - Parameters:
    ///   - options: the service's own settings.
    ///   - database: the `oms_payments` database.
    ///   - logger: the service logger.
    ///   - provider: a provider to use instead of the one the settings name (tests).
    /// - Returns: the `oms.payments.v1.Payments` service and the `payments-resolver` job.
    public static func makeComponents(
        options: PaymentsOptions, database: MySQLDatabase, logger: Logger, provider: (any PaymentProvider)? = nil
    ) async -> (services: [any RPCService], jobs: [PeriodicJob]) {
        let engineSettings = engineSettings(options)
        let provider = provider ?? makeProvider(options, database: database)
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

/// The TEST-ONLY crash points of `oms-payments` (setting `failpoint`; docs/operations.md, "Failpoints").
public enum PaymentsFailpoint: String, FailpointName {
    /// A new payment intent is committed (pending, claimed) and the provider has not been called.
    case afterIntent = "after-intent"
}

/// The settings of `oms-payments` beyond the shared ones (`ServiceOptions`): flag `--<key>`, then
/// `OMS_PAYMENTS_<KEY>`, then `OMS_<KEY>`, then the default.
public struct PaymentsOptions: ParsableArguments, Sendable, FailpointSettings {
    @Option(writeBatchSize: PaymentsEngineSettings.defaultIntentBatch) public var writeBatchSize: Int
    @Option(setting: "provider", help: "The payment provider: sandbox (the only built-in one).")
    public var provider = "sandbox"
    @Option(setting: "sandbox-latency", help: "Delay of every sandbox answer.")
    public var sandboxLatency: Duration = .zero
    @Option(setting: "sandbox-slow-latency", help: "Delay of the slow test card 4000 0000 0000 3220.")
    public var sandboxSlowLatency: Duration = .seconds(600)
    @Option(setting: "provider-timeout", help: "Longest provider call when the caller's deadline allows more.")
    public var providerTimeout: Duration = .seconds(10)
    @Option(setting: "poll-interval", help: "How often a call waiting on another with the same key re-reads.")
    public var pollInterval: Duration = .milliseconds(15)
    @Option(setting: "resolver-interval", help: "Period of the job settling pending payments.")
    public var resolverInterval: Duration = .seconds(5)
    @Option(setting: "node-id", range: 0...1023, help: "Node id of this instance in payment ids; one per instance.")
    public var nodeID = 0
    @Option(failpoints: PaymentsFailpoint.self) public var failpoint: Failpoints<PaymentsFailpoint>

    public init() {}

    public func validate() throws {
        guard provider == "sandbox" else {
            throw ValidationError("--provider must be 'sandbox' (the only built-in provider), got '\(provider)'")
        }
    }
}
