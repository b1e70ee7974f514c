/// Plain facts read from the suite's databases and Redis, and the result of the audit rules over them.
///
/// No I/O here: `oms-loadgen`'s `AuditCollector` fills an `AuditSnapshot` from MySQL and Redis,
/// `AuditRules.evaluate` judges it. Tests build snapshots by hand (Tests/OMSLoadgenCoreTests).

/// One SKU as MySQL (and Redis) see it.
public struct SkuFacts: Sendable, Hashable, Codable {
    public var sku: String
    public var onHand: Int64
    public var reserved: Int64
    /// Units ever put on the shelf: the sum of the ledger's on-hand deltas except sales (`commit`).
    public var ledgerStocked: Int64
    /// Units the ledger says were sold (minus the on-hand delta of `commit` rows).
    public var ledgerSold: Int64
    /// Units in committed reservations.
    public var committedUnits: Int64
    /// Units in held reservations.
    public var heldUnits: Int64
    /// Units in orders that were paid for (every status but pending_payment and cancelled).
    public var orderedUnits: Int64
    /// What the load generator stocked at setup, when it knows (nil for a standalone audit).
    public var expectedStocked: Int64?
    /// The Redis gate's units (nil: no key, the gate is cold for this SKU).
    public var redisUnits: Int64?
    /// Units of in-flight gate holds in Redis.
    public var redisHeldUnits: Int64
    /// Units of the audited orders' returns (`order_return_lines`): what restocks must put back.
    public var returnedUnits: Int64
    /// Units the ledger put back under the return references (`oms-orders:return:<order>:…`) of those orders.
    public var ledgerRestocked: Int64

    public init(
        sku: String, onHand: Int64, reserved: Int64, ledgerStocked: Int64, ledgerSold: Int64, committedUnits: Int64,
        heldUnits: Int64, orderedUnits: Int64, expectedStocked: Int64? = nil, redisUnits: Int64? = nil,
        redisHeldUnits: Int64 = 0, returnedUnits: Int64 = 0, ledgerRestocked: Int64 = 0
    ) {
        self.sku = sku
        self.onHand = onHand
        self.reserved = reserved
        self.ledgerStocked = ledgerStocked
        self.ledgerSold = ledgerSold
        self.committedUnits = committedUnits
        self.heldUnits = heldUnits
        self.orderedUnits = orderedUnits
        self.expectedStocked = expectedStocked
        self.redisUnits = redisUnits
        self.redisHeldUnits = redisHeldUnits
        self.returnedUnits = returnedUnits
        self.ledgerRestocked = ledgerRestocked
    }
}

/// One checkout of the coordinator's log.
public struct CheckoutFacts: Sendable, Hashable, Codable {
    public var checkoutID: String
    public var idempotencyKey: String
    public var isOpen: Bool
    public var phase: String
    /// `placed`, `out_of_stock`, `payment_declined`, `invalid_request`, `failed`, or nil while open.
    public var outcome: String?
    /// How long ago the checkout was recorded, in seconds.
    public var ageSeconds: Double

    public init(
        checkoutID: String, idempotencyKey: String, isOpen: Bool, phase: String, outcome: String?, ageSeconds: Double
    ) {
        self.checkoutID = checkoutID
        self.idempotencyKey = idempotencyKey
        self.isOpen = isOpen
        self.phase = phase
        self.outcome = outcome
        self.ageSeconds = ageSeconds
    }

    /// Whether the checkout ended with an order.
    public var isPlaced: Bool { outcome == "placed" }
}

/// An order, found through its checkout id.
public struct OrderFacts: Sendable, Hashable, Codable {
    public var orderID: String
    public var checkoutID: String
    /// The stored status text (`pending_payment`, `confirmed`, `cancelled`, …).
    public var status: String
    /// The order's total in minor units (what its authorization must be for).
    public var totalMinor: Int64

    public init(orderID: String, checkoutID: String, status: String, totalMinor: Int64 = 0) {
        self.orderID = orderID
        self.checkoutID = checkoutID
        self.status = status
        self.totalMinor = totalMinor
    }

    /// Statuses an order reaches only after it was paid for.
    public static let confirmedStatuses: Set<String> = [
        "confirmed", "partially_shipped", "shipped", "delivered", "partially_returned", "returned",
    ]

    /// Whether the order is confirmed (or further along).
    public var isConfirmed: Bool { Self.confirmedStatuses.contains(status) }
    /// Whether the order is in a live state (anything but cancelled).
    public var isLive: Bool { status != "cancelled" }
}

/// A payment intent.
public struct PaymentFacts: Sendable, Hashable, Codable {
    public var paymentID: String
    /// The Authorize idempotency key (the checkout id).
    public var idempotencyKey: String
    public var orderID: String
    /// The stored status text (`authorized`, `voided`, `failed`, …).
    public var status: String
    public var capturedMinor: Int64
    public var refundedMinor: Int64
    /// The amount requested / authorized, in minor units.
    public var amountMinor: Int64
    /// The idempotency key the intent sent to the provider (`provider_key`), nil when not read.
    public var providerKey: String?
    /// The provider's authorization id, once authorized.
    public var providerReference: String?
    /// Captures, voids and refunds the provider has not confirmed yet (`payment_operations` still pending).
    public var pendingOperations: Int

    public init(
        paymentID: String, idempotencyKey: String, orderID: String, status: String, capturedMinor: Int64,
        refundedMinor: Int64, amountMinor: Int64 = 0, providerKey: String? = nil, providerReference: String? = nil,
        pendingOperations: Int = 0
    ) {
        self.paymentID = paymentID
        self.idempotencyKey = idempotencyKey
        self.orderID = orderID
        self.status = status
        self.capturedMinor = capturedMinor
        self.refundedMinor = refundedMinor
        self.amountMinor = amountMinor
        self.providerKey = providerKey
        self.providerReference = providerReference
        self.pendingOperations = pendingOperations
    }

    /// Statuses that hold or took money.
    public static let authorizedStatuses: Set<String> = [
        "authorized", "partially_captured", "captured", "partially_refunded", "refunded",
    ]

    /// Whether this intent is (or was) an authorization that succeeded.
    public var isAuthorization: Bool { Self.authorizedStatuses.contains(status) }

    /// Whether money is held or kept: an open authorization, or captured minus refunded above zero.
    /// A `pending` intent counts too: its outcome is unknown, so the charge is not known to be absent.
    public var hasNetCharge: Bool {
        switch status {
        case "authorized", "pending": return true
        default: return capturedMinor - refundedMinor > 0
        }
    }
}

/// A reservation.
public struct ReservationFacts: Sendable, Hashable, Codable {
    public var reservationID: String
    /// `held`, `committed`, `released`, `expired`.
    public var state: String
    /// Seconds past its expiry (negative: not expired yet).
    public var secondsPastExpiry: Double

    public init(reservationID: String, state: String, secondsPastExpiry: Double) {
        self.reservationID = reservationID
        self.state = state
        self.secondsPastExpiry = secondsPastExpiry
    }
}

/// One authorization as the payment provider itself recorded it (the sandbox's `sandbox_authorizations`).
public struct ProviderAuthorizationFacts: Sendable, Hashable, Codable {
    /// The idempotency key the provider got (`oms-pay-<payment id>` from the payments service).
    public var providerKey: String
    /// Whether the provider approved it (declines and withdrawals hold no money).
    public var approved: Bool
    public var amountMinor: Int64
    /// The provider's authorization id (nil for a decline).
    public var reference: String?
    public var capturedMinor: Int64
    public var refundedMinor: Int64
    public var voided: Bool

    public init(
        providerKey: String, approved: Bool, amountMinor: Int64, reference: String?, capturedMinor: Int64 = 0,
        refundedMinor: Int64 = 0, voided: Bool = false
    ) {
        self.providerKey = providerKey
        self.approved = approved
        self.amountMinor = amountMinor
        self.reference = reference
        self.capturedMinor = capturedMinor
        self.refundedMinor = refundedMinor
        self.voided = voided
    }

    /// The payment id a provider key names: what follows `oms-pay-` up to the next `-` (the payments service
    /// sends `oms-pay-<payment id>`; a key with more after the id still names that payment), or nil.
    public static func paymentID(fromProviderKey key: String) -> String? {
        guard key.hasPrefix("oms-pay-") else { return nil }
        let id = key.dropFirst("oms-pay-".count).prefix { $0 != "-" }
        return id.isEmpty ? nil : String(id)
    }
}

/// A shipment of an audited order (or one the load generator created).
public struct ShipmentFacts: Sendable, Hashable, Codable {
    public var shipmentID: String
    public var orderID: String
    /// `pending`, `label_created`, `shipped`, `delivered`, `cancelled`.
    public var status: String
    /// The shipped share: Σ quantity × unit price of its lines.
    public var amountMinor: Int64

    public init(shipmentID: String, orderID: String, status: String, amountMinor: Int64) {
        self.shipmentID = shipmentID
        self.orderID = orderID
        self.status = status
        self.amountMinor = amountMinor
    }

    /// Whether the shipment left the warehouse (and so was to be captured).
    public var hasShipped: Bool { status == "shipped" || status == "delivered" }
}

/// A return of an audited order (`order_returns`).
public struct ReturnFacts: Sendable, Hashable, Codable {
    public var returnID: String
    public var orderID: String
    /// What the return refunds, in minor units.
    public var refundMinor: Int64

    public init(returnID: String, orderID: String, refundMinor: Int64) {
        self.returnID = returnID
        self.orderID = orderID
        self.refundMinor = refundMinor
    }
}

/// An outbox row (orders' refunds and restocks, shipments' captures and order records) not delivered yet.
public struct OutboxFacts: Sendable, Hashable, Codable {
    /// `orders` or `shipments`.
    public var service: String
    public var rowID: String
    public var kind: String
    /// `pending`, `parked` (orders) or `failed` (shipments).
    public var state: String

    public init(service: String, rowID: String, kind: String, state: String) {
        self.service = service
        self.rowID = rowID
        self.kind = kind
        self.state = state
    }
}

/// A checkout the load generator sent again after the recovery window, with the same key and request.
public struct ReplayFacts: Sendable, Hashable, Codable {
    public var idempotencyKey: String
    /// The answer of the first call.
    public var first: ClientOutcome
    /// The answer of the replay.
    public var replay: ClientOutcome

    public init(idempotencyKey: String, first: ClientOutcome, replay: ClientOutcome) {
        self.idempotencyKey = idempotencyKey
        self.first = first
        self.replay = replay
    }
}

/// What the load generator itself saw for one checkout.
public enum ClientOutcome: Sendable, Hashable, Codable {
    case placed(orderID: String)
    case rejected(reason: String)
    /// A transport error or an answer still "in progress": the suite must resolve it on its own.
    case unknown(detail: String)
}

/// Everything the rules look at.
public struct AuditSnapshot: Sendable {
    public var skus: [SkuFacts]
    public var checkouts: [CheckoutFacts]
    public var orders: [OrderFacts]
    public var payments: [PaymentFacts]
    public var reservations: [ReservationFacts]
    /// Held reservations (of the audited SKUs) whose expiry has passed, with seconds past it.
    public var lapsedHolds: [ReservationFacts]
    /// The provider's own authorization records behind the payments (and any it has that no intent names).
    public var providerAuthorizations: [ProviderAuthorizationFacts]
    /// Shipments of the audited orders and those the load generator created.
    public var shipments: [ShipmentFacts]
    /// Returns of the audited orders.
    public var returns: [ReturnFacts]
    /// Outbox rows of the audited orders and shipments still undelivered.
    public var undeliveredOutbox: [OutboxFacts]
    /// Idempotency key → what the client saw (empty for a standalone audit).
    public var clientOutcomes: [String: ClientOutcome]
    /// Checkouts sent again after the recovery window (empty when the run replayed none).
    public var replays: [ReplayFacts]
    /// Whether Redis was read (false: the Redis rule is skipped and says so).
    public var redisChecked: Bool
    /// Checkouts may be unfinished for this long before that is a violation.
    public var recoveryWindowSeconds: Double
    /// Held reservations may outlive their expiry by this much (the expiry sweeper's period).
    public var expiryGraceSeconds: Double

    public init(
        skus: [SkuFacts] = [], checkouts: [CheckoutFacts] = [], orders: [OrderFacts] = [],
        payments: [PaymentFacts] = [], reservations: [ReservationFacts] = [], lapsedHolds: [ReservationFacts] = [],
        providerAuthorizations: [ProviderAuthorizationFacts] = [], shipments: [ShipmentFacts] = [],
        returns: [ReturnFacts] = [], undeliveredOutbox: [OutboxFacts] = [],
        clientOutcomes: [String: ClientOutcome] = [:], replays: [ReplayFacts] = [], redisChecked: Bool = true,
        recoveryWindowSeconds: Double = 60, expiryGraceSeconds: Double = 30
    ) {
        self.skus = skus
        self.checkouts = checkouts
        self.orders = orders
        self.payments = payments
        self.reservations = reservations
        self.lapsedHolds = lapsedHolds
        self.providerAuthorizations = providerAuthorizations
        self.shipments = shipments
        self.returns = returns
        self.undeliveredOutbox = undeliveredOutbox
        self.clientOutcomes = clientOutcomes
        self.replays = replays
        self.redisChecked = redisChecked
        self.recoveryWindowSeconds = recoveryWindowSeconds
        self.expiryGraceSeconds = expiryGraceSeconds
    }
}

/// The verdict of one rule.
public struct AuditCheck: Sendable, Hashable, Codable {
    /// Stable name, e.g. `stock-conserved`.
    public var name: String
    /// What the rule asserts.
    public var summary: String
    /// How many items the rule looked at.
    public var examined: Int
    /// One line per violation (at most `AuditRules.maxListedViolations` are kept).
    public var violations: [String]
    /// Total number of violations (may exceed `violations.count`).
    public var violationCount: Int
    /// Set when the rule could not run (e.g. Redis not reachable); a skipped rule does not fail the audit.
    public var skipped: String?

    /// Whether the rule found nothing (a skipped rule passes).
    public var passed: Bool { violationCount == 0 }

    /// - Parameters:
    ///   - name: stable rule name.
    ///   - summary: what the rule asserts.
    ///   - examined: items looked at.
    ///   - violations: the listed violations.
    ///   - violationCount: all violations (at least `violations.count`).
    ///   - skipped: why the rule did not run, or nil.
    public init(
        name: String, summary: String, examined: Int, violations: [String], violationCount: Int, skipped: String? = nil
    ) {
        self.name = name
        self.summary = summary
        self.examined = examined
        self.violations = violations
        self.violationCount = violationCount
        self.skipped = skipped
    }
}

/// All verdicts.
public struct AuditReport: Sendable, Hashable, Codable {
    /// One verdict per rule, in the order of `AuditRules.evaluate`.
    public var checks: [AuditCheck]

    /// - Parameter checks: the verdicts.
    public init(checks: [AuditCheck]) {
        self.checks = checks
    }

    /// Whether every rule that ran found nothing.
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

extension ClientOutcome: CustomStringConvertible {
    /// `placed <order>`, `rejected <reason>` or `unknown (<detail>)`, for violation lines.
    public var description: String {
        switch self {
        case .placed(let orderID): "placed \(orderID)"
        case .rejected(let reason): "rejected \(reason)"
        case .unknown(let detail): "unknown (\(detail))"
        }
    }

    /// Whether this is a final answer (placed or rejected).
    public var isKnown: Bool {
        if case .unknown = self { return false }
        return true
    }
}
