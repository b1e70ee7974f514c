import ArgumentParser
import Foundation
import OMSServiceKit

/// Tunables of the coordinator. Read from settings (`--lease 30s`, `OMS_CHECKOUT_LEASE=30s`) by
/// `init(options:)`; see docs/checkout.md.
public struct CheckoutConfiguration: Sendable {
    /// Node id of this instance for checkout ids (`node-id`, 0…1023).
    public var nodeID: Int = 0
    /// Most saga-log writes of concurrent checkouts committed together (`write-batch-size`; 1: each alone).
    public var logBatch: Int = CheckoutRepository.defaultLogBatch
    /// Lease owner name of this instance (host, pid and a random suffix by default).
    public var instanceName: String = CheckoutConfiguration.defaultInstanceName()
    /// How long an instance owns a checkout after each write (`lease`, default 30 s). Must exceed
    /// `stepTimeout` so that a step sent by a dead instance has ended before recovery asks about it.
    public var lease: Duration = .seconds(30)
    /// Most time one step (including its retries on 14) may take (`step-timeout`, default 8 s).
    public var stepTimeout: Duration = .seconds(8)
    /// Deadline of a PlaceOrder call that sets none (`default-deadline`, default 20 s).
    public var defaultDeadline: Duration = .seconds(20)
    /// How long before the caller's deadline the handler answers "in progress" (default 50 ms).
    public var answerMargin: Duration = .milliseconds(50)
    /// Reservation time to live (`reservation-ttl`, default 15 min); inventory releases it by itself after that.
    public var reservationTTL: Duration = .seconds(900)
    /// Sweeper interval (`recovery-interval`, default 5 s).
    public var recoveryInterval: Duration = .seconds(5)
    /// Checkouts claimed per sweeper pass (`recovery-batch`, default 200).
    public var recoveryBatch: Int = 200
    /// Checkouts driven at once by one sweeper pass (`recovery-concurrency`, default 8).
    public var recoveryConcurrency: Int = 8
    /// First and largest retry delay on 14 UNAVAILABLE (full jitter).
    public var retryInitialDelay: Duration = .milliseconds(20)
    public var retryMaximumDelay: Duration = .seconds(1)
    /// How often a concurrent call with the same key re-reads the checkout while the first runs.
    public var pollInterval: Duration = .milliseconds(20)
    /// Delay before recovery retries a checkout it could not finish: `deferDelay` × 2^(attempts − 1),
    /// at most `maxDeferDelay`, with ±20 % jitter.
    public var deferDelay: Duration = .seconds(1)
    public var maxDeferDelay: Duration = .seconds(60)
    /// Drive passes after which recovery gives up on a checkout and parks it (`max-attempts`): it
    /// stays open, counted and listed (`omsctl checkout parked`) until an operator resumes it. At the
    /// 60 s cap, 200 passes are about three hours of a peer being unreachable.
    public var maxAttempts: Int = 200
    /// Whether a checkout asks the gate for the stock of its SKUs while it prices them, and answers
    /// out of stock at once — one commit, nothing reserved — when a line cannot be covered
    /// (`stock-precheck`, default true). Reserve still decides for every checkout that goes on.
    public var stockPrecheck: Bool = true
    /// How long a finished checkout (and so its idempotency key) is kept before the retention job
    /// deletes it (`retention`, default 30 days; 0 keeps everything). A repeat of a key after that
    /// is a new checkout.
    public var retention: Duration = .seconds(30 * 86_400)
    /// How often the retention job runs (`retention-interval`, default 10 min).
    public var retentionInterval: Duration = .seconds(600)
    /// TEST-ONLY crash injection (`failpoint`, e.g. `OMS_CHECKOUT_FAILPOINT=crash-after:reserve`): the process
    /// kills itself with SIGKILL right after that forward step's call returned and before its result is
    /// recorded. Off by default; production never sets it. See docs/checkout.md.
    public var failpoints: Failpoints<CheckoutFailpoint> = .off

    /// The defaults.
    public init() {}

    /// The settings of `oms-checkout` as parsed.
    /// - Throws: `ConfigurationError` naming a bad setting.
    public init(options: CheckoutOptions) throws {
        self.init()
        nodeID = options.nodeID
        logBatch = options.writeBatchSize
        if let name = options.instanceName { instanceName = name }
        lease = options.lease
        stepTimeout = options.stepTimeout
        defaultDeadline = options.defaultDeadline
        reservationTTL = options.reservationTTL
        recoveryInterval = options.recoveryInterval
        recoveryBatch = options.recoveryBatch
        recoveryConcurrency = options.recoveryConcurrency
        maxAttempts = options.maxAttempts
        stockPrecheck = options.stockPrecheck
        retention = options.retention
        retentionInterval = options.retentionInterval
        failpoints = options.failpoint
        try check()
    }

    /// - Throws: `ConfigurationError` when the lease does not exceed the step timeout.
    public func check() throws {
        guard lease > stepTimeout + .seconds(1) else {
            throw ConfigurationError("--lease must exceed --step-timeout by at least 1s (lease \(lease), step \(stepTimeout))")
        }
        guard recoveryInterval > .zero else { throw ConfigurationError("--recovery-interval must be positive") }
    }

    /// `<host>:<pid>:<random>`.
    public static func defaultInstanceName() -> String {
        let host = ProcessInfo.processInfo.hostName.prefix(64)
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}

/// The TEST-ONLY crash points of `oms-checkout` (setting `failpoint`; docs/checkout.md, "Test hook"): right
/// after a forward step's call returned and before its result is written to the checkout log.
/// `crash-after:<step>` is `crash-at:after-<step>`.
public enum CheckoutFailpoint: String, FailpointName {
    case afterReserve = "after-reserve"
    case afterCreateOrder = "after-create-order"
    case afterAuthorize = "after-authorize"
    case afterConfirmOrder = "after-confirm-order"
    case afterCommitReservation = "after-commit-reservation"

    /// The point after a forward step; nil for a compensation.
    public init?(after step: CheckoutStep) {
        switch step {
        case .reserve: self = .afterReserve
        case .createOrder: self = .afterCreateOrder
        case .authorize: self = .afterAuthorize
        case .confirmOrder: self = .afterConfirmOrder
        case .commitReservation: self = .afterCommitReservation
        case .voidPayment, .cancelOrder, .releaseReservation: return nil
        }
    }
}

/// The settings of `oms-checkout` beyond the shared ones (`ServiceOptions`): flag `--<key>`, then
/// `OMS_CHECKOUT_<KEY>`, then `OMS_<KEY>`, then the default of `CheckoutConfiguration`.
public struct CheckoutOptions: ParsableArguments, Sendable, FailpointSettings {
    private static let defaults = CheckoutConfiguration()

    @Option(writeBatchSize: CheckoutRepository.defaultLogBatch) public var writeBatchSize: Int
    @Option(setting: "node-id", range: 0...1023, help: "Node id of this instance in checkout ids; one per instance.")
    public var nodeID = defaults.nodeID
    @Option(setting: "instance-name", help: "Lease owner name of this instance.", defaultText: "<host>:<pid>:<random>")
    public var instanceName: String?
    @Option(setting: "lease", help: "How long an instance owns a checkout after each write (> step-timeout + 1s).")
    public var lease = defaults.lease
    @Option(setting: "step-timeout", help: "Most time one step, with its retries, may take.")
    public var stepTimeout = defaults.stepTimeout
    @Option(setting: "default-deadline", help: "Deadline of a PlaceOrder call that sets none.")
    public var defaultDeadline = defaults.defaultDeadline
    @Option(setting: "reservation-ttl", help: "Time to live of the reservations a checkout asks for.")
    public var reservationTTL = defaults.reservationTTL
    @Option(setting: "recovery-interval", help: "Period of the recovery sweeper (positive).")
    public var recoveryInterval = defaults.recoveryInterval
    @Option(setting: "recovery-batch", range: 1...10_000, help: "Checkouts claimed per sweeper pass.")
    public var recoveryBatch = defaults.recoveryBatch
    @Option(setting: "recovery-concurrency", range: 1...256, help: "Checkouts driven at once by one sweeper pass.")
    public var recoveryConcurrency = defaults.recoveryConcurrency
    @Option(
        setting: "max-attempts", range: 1...100_000,
        help: "Drive passes after which recovery parks a checkout for an operator.")
    public var maxAttempts = defaults.maxAttempts
    @Option(setting: "stock-precheck", help: "Whether pricing also asks the gate for stock and answers out of stock early.")
    public var stockPrecheck = defaults.stockPrecheck
    @Option(setting: "retention", help: "How long a finished checkout and its key are kept (0 keeps everything).")
    public var retention = defaults.retention
    @Option(setting: "retention-interval", help: "Period of the retention job.")
    public var retentionInterval = defaults.retentionInterval
    @Option(failpoints: CheckoutFailpoint.self) public var failpoint: Failpoints<CheckoutFailpoint>

    public init() {}

    public func validate() throws {
        _ = try ConfigurationError.asUsageError { try CheckoutConfiguration(options: self) }
    }
}
