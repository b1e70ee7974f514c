import ArgumentParser
import OMSServiceKit

/// Tunables of the inventory service, read from `InventoryOptions` by `init(options:)`.
public struct InventoryConfiguration: Sendable {
    /// Prefix of every Redis key of the gate (`redis-key-prefix`, default `oms:inv:`). Tests use a prefix of
    /// their own so they can "flush" only their keys.
    public var redisKeyPrefix: String = "oms:inv:"
    /// Time to live of a reservation when the request says 0 (`reservation-ttl`, default 15 min).
    public var defaultReservationTTL: Duration = .seconds(900)
    /// How long a reservation's gate key outlives the reservation (`reservation-key-grace`, default 1 day),
    /// so late retries and releases still find it.
    public var reservationKeyGrace: Duration = .seconds(86_400)
    /// Period of the reconciliation job (`reconcile-interval`, default 60 s).
    public var reconcileInterval: Duration = .seconds(60)
    /// Period of the expiry sweeper (`sweep-interval`, default 5 s).
    public var sweepInterval: Duration = .seconds(5)
    /// Most reservations the sweeper expires per run (`sweep-batch`, default 500).
    public var sweepBatch: Int = 500
    /// Drift (units) above which reconciliation alerts (`drift-threshold`, default 2).
    public var driftAlertThreshold: Int64 = 2
    /// Age after which a gate hold that never settled is resolved against MySQL (`stale-hold-after`, 120 s).
    public var staleHoldAfter: Duration = .seconds(120)
    /// Most reservations in one MySQL transaction (`reserve-batch-size`, default 64).
    public var reserveBatchSize: Int = 64
    /// Most reserve transactions in flight per process (`reserve-batch-concurrency`, default 4).
    public var reserveBatchConcurrency: Int = 4
    /// Timeout of each gate command (`gate-timeout`, default 500 ms); past it the MySQL path is used.
    public var gateTimeout: Duration = .milliseconds(500)
    /// How long GetProduct may answer from this process's product cache (`product-cache-ttl`, default 1 s;
    /// 0 = always read MySQL). Upserts through this process take effect at once.
    public var productCacheTTL: Duration = .seconds(1)
    /// Whether the Redis gate is used at all (`gate-enabled`, default true; false = MySQL only).
    public var gateEnabled: Bool = true
    /// TEST-ONLY crash points (`failpoint`); off unless a test arms them.
    public var failpoints: Failpoints<InventoryFailpoint> = .off

    /// The defaults.
    public init() {}

    /// The settings as parsed.
    /// - Parameter options: `oms-inventory`'s own settings.
    /// - Throws: `ConfigurationError` naming a setting out of range.
    public init(options: InventoryOptions) throws {
        redisKeyPrefix = options.redisKeyPrefix
        guard !redisKeyPrefix.contains("{"), !redisKeyPrefix.contains("}") else {
            throw ConfigurationError("--redis-key-prefix must not contain { or }")
        }
        defaultReservationTTL = options.reservationTTL
        reservationKeyGrace = options.reservationKeyGrace
        reconcileInterval = options.reconcileInterval
        sweepInterval = options.sweepInterval
        sweepBatch = options.sweepBatch
        driftAlertThreshold = Int64(options.driftThreshold)
        staleHoldAfter = options.staleHoldAfter
        reserveBatchSize = options.reserveBatchSize
        reserveBatchConcurrency = options.reserveBatchConcurrency
        gateTimeout = options.gateTimeout
        gateEnabled = options.gateEnabled
        productCacheTTL = options.productCacheTTL
        failpoints = options.failpoint
        guard defaultReservationTTL >= .seconds(1) else { throw ConfigurationError("--reservation-ttl must be at least 1s") }
        guard reconcileInterval >= .milliseconds(100) else { throw ConfigurationError("--reconcile-interval must be at least 100ms") }
    }
}

/// The TEST-ONLY crash points of `oms-inventory` (setting `failpoint`; docs/operations.md, "Failpoints").
public enum InventoryFailpoint: String, FailpointName {
    /// The MySQL transaction of a Reserve batch, a CommitReservation batch or a ReleaseReservation has
    /// committed; no reply has been sent and the Redis gate has not been settled.
    case afterCommit = "after-commit"
}

/// The settings of `oms-inventory` beyond the shared ones (`ServiceOptions`): flag `--<key>`, then
/// `OMS_INVENTORY_<KEY>`, then `OMS_<KEY>`, then the default of `InventoryConfiguration`.
public struct InventoryOptions: ParsableArguments, Sendable, FailpointSettings {
    private static let defaults = InventoryConfiguration()

    @Option(setting: "redis-key-prefix", help: "Prefix of the gate's Redis keys (no { or }).")
    public var redisKeyPrefix = defaults.redisKeyPrefix
    @Option(setting: "reservation-ttl", help: "Time to live of a reservation whose request says 0 (at least 1s).")
    public var reservationTTL = defaults.defaultReservationTTL
    @Option(setting: "reservation-key-grace", help: "How long a reservation's gate key outlives it.")
    public var reservationKeyGrace = defaults.reservationKeyGrace
    @Option(setting: "reconcile-interval", help: "Period of the reconciliation job (at least 100ms).")
    public var reconcileInterval = defaults.reconcileInterval
    @Option(setting: "sweep-interval", help: "Period of the expiry sweeper.")
    public var sweepInterval = defaults.sweepInterval
    @Option(setting: "sweep-batch", range: 1...100_000, help: "Most reservations the sweeper expires per run.")
    public var sweepBatch = defaults.sweepBatch
    @Option(setting: "drift-threshold", range: 0...1_000_000, help: "Drift (units) above which reconciliation alerts.")
    public var driftThreshold = Int(defaults.driftAlertThreshold)
    @Option(setting: "stale-hold-after", help: "Age after which an unsettled gate hold is resolved against MySQL.")
    public var staleHoldAfter = defaults.staleHoldAfter
    @Option(setting: "reserve-batch-size", range: 1...1024, help: "Most reservations in one MySQL transaction.")
    public var reserveBatchSize = defaults.reserveBatchSize
    @Option(setting: "reserve-batch-concurrency", range: 1...256, help: "Most reserve transactions in flight.")
    public var reserveBatchConcurrency = defaults.reserveBatchConcurrency
    @Option(setting: "gate-timeout", help: "Timeout of each gate command; past it the MySQL path is used.")
    public var gateTimeout = defaults.gateTimeout
    @Option(setting: "gate-enabled", help: "Whether the Redis gate is used at all (false: MySQL only).")
    public var gateEnabled = defaults.gateEnabled
    @Option(setting: "product-cache-ttl", help: "How long GetProduct may answer from the process cache (0: never).")
    public var productCacheTTL = defaults.productCacheTTL
    @Option(failpoints: InventoryFailpoint.self) public var failpoint: Failpoints<InventoryFailpoint>

    public init() {}

    public func validate() throws {
        _ = try ConfigurationError.asUsageError { try InventoryConfiguration(options: self) }
    }
}
