import OMSServiceKit

/// Settings of the inventory service (flags `--key value`, `OMS_INVENTORY_<KEY>`, then defaults).
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

    /// The defaults.
    public init() {}

    /// Reads the settings.
    /// - Parameter settings: the service's settings.
    /// - Throws: `ConfigurationError` naming a malformed setting.
    public init(settings: Settings) throws {
        self.init()
        redisKeyPrefix = settings.string("redis-key-prefix", default: redisKeyPrefix)
        guard !redisKeyPrefix.contains("{"), !redisKeyPrefix.contains("}") else {
            throw ConfigurationError("--redis-key-prefix must not contain { or }")
        }
        defaultReservationTTL = try settings.duration("reservation-ttl", default: defaultReservationTTL)
        reservationKeyGrace = try settings.duration("reservation-key-grace", default: reservationKeyGrace)
        reconcileInterval = try settings.duration("reconcile-interval", default: reconcileInterval)
        sweepInterval = try settings.duration("sweep-interval", default: sweepInterval)
        sweepBatch = try settings.int("sweep-batch", default: sweepBatch, range: 1...100_000)
        driftAlertThreshold = Int64(try settings.int("drift-threshold", default: Int(driftAlertThreshold), range: 0...1_000_000))
        staleHoldAfter = try settings.duration("stale-hold-after", default: staleHoldAfter)
        reserveBatchSize = try settings.int("reserve-batch-size", default: reserveBatchSize, range: 1...1024)
        reserveBatchConcurrency = try settings.int("reserve-batch-concurrency", default: reserveBatchConcurrency, range: 1...256)
        gateTimeout = try settings.duration("gate-timeout", default: gateTimeout)
        gateEnabled = try settings.bool("gate-enabled", default: gateEnabled)
        productCacheTTL = try settings.duration("product-cache-ttl", default: productCacheTTL)
        guard defaultReservationTTL >= .seconds(1) else { throw ConfigurationError("--reservation-ttl must be at least 1s") }
        guard reconcileInterval >= .milliseconds(100) else { throw ConfigurationError("--reconcile-interval must be at least 100ms") }
    }
}
