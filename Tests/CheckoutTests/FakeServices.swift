import Checkout
import Foundation
import OMSRPCCore

/// Thrown by the fakes to simulate the coordinator process dying at a step: not a `PortError`, so
/// the coordinator records nothing more and leaves the checkout to recovery.
struct SimulatedCrash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

/// What a fake does on the next call of a step.
enum Fault: Sendable, Hashable {
    /// 14 before sending: nothing happens.
    case unavailable
    /// Timeout before the effect: nothing happens, the caller cannot know.
    case timeoutBeforeEffect
    /// Timeout after the effect: it happened, the caller cannot know.
    case timeoutAfterEffect
    /// The coordinator dies before the call reaches the service.
    case crashBefore
    /// The coordinator dies after the service did it, before the result is recorded.
    case crashAfter
    /// The service refuses definitively.
    case refuse(RPCStatusCode)
}

/// In-memory inventory + orders + payments with failure injection and invariant checks.
///
/// `@unchecked Sendable`: every field is guarded by `lock`.
final class FakeServices: InventoryPort, OrdersPort, PaymentsPort, @unchecked Sendable {
    enum ReservationState: Equatable { case held, committed, released }
    struct Reservation { var lines: [StockRequest]; var state: ReservationState }
    struct Order { var orderID: String; var status: OrderSummary.Status; var subtotal: CheckoutMoney; var total: CheckoutMoney }
    enum PaymentStatus: Equatable { case pending, authorized, declined, voided }
    struct Payment { var paymentID: String; var status: PaymentStatus; var amount: CheckoutMoney; var declines: Bool }

    private let lock = NSLock()
    private var catalog: [String: CatalogItem] = [:]
    private var initialStock: [String: Int64] = [:]
    private var available: [String: Int64] = [:]
    private(set) var reservations: [String: Reservation] = [:]
    private var tombstones: Set<String> = []
    private(set) var orders: [String: Order] = [:]  // by checkout id
    /// Checkouts cancelled before their order existed (orders' fence).
    private(set) var fencedCheckouts: Set<String> = []
    private(set) var payments: [String: Payment] = [:]  // by idempotency key
    private(set) var cancelledAuthorizations: Set<String> = []
    private var faults: [String: [Fault]] = [:]
    private var calls: [String: Int] = [:]
    private var nextID = 1000
    /// Lookups of a pending payment answered `pending` before it settles.
    var pendingLookupsBeforeSettling = 0
    private var pendingLookups: [String: Int] = [:]

    static let decliningCard = "4000000000000002"

    func addProduct(_ sku: String, price: Int64, stock: Int64, currency: String = "USD", active: Bool = true) {
        lock.withLock {
            catalog[sku] = CatalogItem(
                sku: sku, name: "Product \(sku)", unitPrice: CheckoutMoney(amountMinor: price, currency: currency),
                active: active)
            initialStock[sku] = stock
            available[sku] = stock
        }
    }

    /// Queues faults for the next calls of `step` (`prices`, `availability`, `reserve`, `commit`, `release`, `createOrder`,
    /// `confirmOrder`, `cancelOrder`, `findOrder`, `authorize`, `void`, `lookup`).
    func inject(_ step: String, _ list: [Fault]) {
        lock.withLock { faults[step, default: []].append(contentsOf: list) }
    }

    func clearFaults() { lock.withLock { faults = [:] } }

    func callCount(_ step: String) -> Int { lock.withLock { calls[step] ?? 0 } }

    func available(_ sku: String) -> Int64 { lock.withLock { available[sku] ?? 0 } }

    private func take(_ step: String) -> Fault? {
        lock.withLock {
            calls[step, default: 0] += 1
            guard var list = faults[step], !list.isEmpty else { return nil }
            let f = list.removeFirst()
            faults[step] = list
            return f
        }
    }

    /// Runs a step with its injected fault around the effect.
    private func step<T>(_ name: String, _ effect: () throws -> T) throws -> T {
        switch take(name) {
        case nil: return try effect()
        case .unavailable?: throw PortError.unavailable("\(name): injected unavailable")
        case .timeoutBeforeEffect?: throw PortError.unknownOutcome(.deadlineExceeded, "\(name): injected timeout")
        case .timeoutAfterEffect?:
            _ = try effect()
            throw PortError.unknownOutcome(.deadlineExceeded, "\(name): injected timeout after effect")
        case .crashBefore?: throw SimulatedCrash()
        case .crashAfter?:
            _ = try effect()
            throw SimulatedCrash()
        case .refuse(let code)?: throw PortError.definite(code, "\(name): injected refusal")
        }
    }

    private func mint(_ prefix: String) -> String {
        lock.withLock {
            nextID += 1
            return "\(prefix)\(nextID)"
        }
    }

    // MARK: InventoryPort

    func prices(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: CatalogItem] {
        try step("prices") { lock.withLock { catalog.filter { skus.contains($0.key) } } }
    }

    func availability(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: Int64] {
        try step("availability") { lock.withLock { available.filter { skus.contains($0.key) } } }
    }

    func reserve(reservationID: String, lines: [StockRequest], ttl: Duration, deadline: ContinuousClock.Instant)
        async throws -> ReserveOutcome
    {
        try step("reserve") {
            try lock.withLock { () throws -> ReserveOutcome in
                if tombstones.contains(reservationID) {
                    throw PortError.definite(.failedPrecondition, "reservation was released before it was made")
                }
                if reservations[reservationID] != nil { return .reserved }
                let short = lines.filter { (available[$0.sku] ?? 0) < $0.quantity }.map(\.sku)
                if !short.isEmpty { return .outOfStock(skus: short) }
                for l in lines { available[l.sku, default: 0] -= l.quantity }
                reservations[reservationID] = Reservation(lines: lines, state: .held)
                return .reserved
            }
        }
    }

    func commit(reservationID: String, orderID: String, deadline: ContinuousClock.Instant) async throws {
        try step("commit") {
            try lock.withLock {
                guard let r = reservations[reservationID], r.state != .released else {
                    throw PortError.definite(.failedPrecondition, "reservation not held")
                }
                reservations[reservationID]?.state = .committed
            }
        }
    }

    func extend(reservationID: String, ttl: Duration, deadline: ContinuousClock.Instant) async throws {
        try step("extend") {
            try lock.withLock {
                guard let r = reservations[reservationID] else { throw PortError.definite(.notFound, "no reservation") }
                guard r.state == .held else { throw PortError.definite(.failedPrecondition, "not held") }
            }
        }
    }

    func release(reservationID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        try step("release") {
            lock.withLock {
                guard let r = reservations[reservationID] else {
                    tombstones.insert(reservationID)
                    return
                }
                if r.state == .held {
                    for l in r.lines { available[l.sku, default: 0] += l.quantity }
                    reservations[reservationID]?.state = .released
                }
            }
        }
    }

    // MARK: OrdersPort

    func createOrder(_ draft: OrderDraft, deadline: ContinuousClock.Instant) async throws -> OrderSummary {
        let newID = mint("o")
        return try step("createOrder") {
            try lock.withLock {
                if let o = orders[draft.checkoutID] { return summary(o) }
                if fencedCheckouts.contains(draft.checkoutID) {
                    throw PortError.definite(.failedPrecondition, "checkout was cancelled before its order was created")
                }
                let o = Order(orderID: newID, status: .pendingPayment, subtotal: draft.subtotal, total: draft.subtotal)
                orders[draft.checkoutID] = o
                return summary(o)
            }
        }
    }

    private func summary(_ o: Order) -> OrderSummary {
        OrderSummary(orderID: o.orderID, status: o.status, subtotal: o.subtotal, total: o.total)
    }

    func confirmOrder(orderID: String, paymentID: String, paid: CheckoutMoney, deadline: ContinuousClock.Instant)
        async throws
    {
        try step("confirmOrder") {
            try lock.withLock {
                guard let key = orders.first(where: { $0.value.orderID == orderID })?.key else {
                    throw PortError.definite(.notFound, "no order")
                }
                guard orders[key]!.status != .cancelled else { throw PortError.definite(.failedPrecondition, "cancelled") }
                orders[key]!.status = .confirmed
            }
        }
    }

    func cancelOrder(orderID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        try step("cancelOrder") {
            try lock.withLock {
                guard let key = orders.first(where: { $0.value.orderID == orderID })?.key else {
                    throw PortError.definite(.notFound, "no order")
                }
                orders[key]!.status = .cancelled
            }
        }
    }

    func cancelOrder(checkoutID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        try step("cancelOrder") {
            lock.withLock {
                if orders[checkoutID] != nil {
                    orders[checkoutID]!.status = .cancelled
                } else {
                    fencedCheckouts.insert(checkoutID)
                }
            }
        }
    }

    func findOrder(checkoutID: String, deadline: ContinuousClock.Instant) async throws -> OrderSummary? {
        try step("findOrder") { lock.withLock { orders[checkoutID].map(summary) } }
    }

    // MARK: PaymentsPort

    private func state(_ p: Payment) -> PaymentState {
        switch p.status {
        case .pending: .pending(paymentID: p.paymentID)
        case .authorized: .authorized(paymentID: p.paymentID)
        case .declined: .declined(paymentID: p.paymentID, code: 1, reason: "generic decline")
        case .voided: .voided(paymentID: p.paymentID)
        }
    }

    /// Makes the next new authorization answer `pending` (provider outcome unknown).
    var nextAuthorizationPending = false

    func authorize(
        idempotencyKey: String, orderID: String, amount: CheckoutMoney, card: CardDetails, checkoutID: String,
        deadline: ContinuousClock.Instant
    ) async throws -> PaymentState {
        let newID = mint("p")
        return try step("authorize") {
            try lock.withLock {
                if let p = payments[idempotencyKey] { return state(p) }
                if cancelledAuthorizations.contains(idempotencyKey) {
                    throw PortError.definite(.failedPrecondition, "authorization cancelled by the merchant")
                }
                let declines = card.number == Self.decliningCard
                let pending = nextAuthorizationPending
                nextAuthorizationPending = false
                let p = Payment(
                    paymentID: newID, status: pending ? .pending : (declines ? .declined : .authorized), amount: amount,
                    declines: declines)
                payments[idempotencyKey] = p
                return state(p)
            }
        }
    }

    func void(paymentID: String, idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        try step("void") {
            try lock.withLock {
                guard let key = payments.first(where: { $0.value.paymentID == paymentID })?.key else {
                    throw PortError.definite(.notFound, "no payment")
                }
                if payments[key]!.status == .authorized { payments[key]!.status = .voided }
            }
        }
    }

    func cancelAuthorization(idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant)
        async throws -> PaymentState?
    {
        try step("cancelAuthorization") {
            lock.withLock {
                cancelledAuthorizations.insert(idempotencyKey)
                return payments[idempotencyKey].map(state)
            }
        }
    }

    func lookup(idempotencyKey: String, deadline: ContinuousClock.Instant) async throws -> PaymentState? {
        try step("lookup") {
            lock.withLock {
                guard var p = payments[idempotencyKey] else { return nil }
                if p.status == .pending {
                    let seen = pendingLookups[idempotencyKey, default: 0]
                    if seen >= pendingLookupsBeforeSettling {
                        p.status = p.declines ? .declined : .authorized
                        payments[idempotencyKey] = p
                    } else {
                        pendingLookups[idempotencyKey] = seen + 1
                    }
                }
                return state(p)
            }
        }
    }

    // MARK: Invariants

    /// Nothing is left of a rejected checkout: no held stock, no live order, no held funds.
    func nothingLeft(checkoutID: String) -> [String] {
        lock.withLock {
            var problems: [String] = []
            if let r = reservations[checkoutID], r.state != .released { problems.append("reservation \(r.state)") }
            if let o = orders[checkoutID], o.status != .cancelled { problems.append("order \(o.status)") }
            if let p = payments[checkoutID], p.status == .authorized || p.status == .pending {
                problems.append("payment \(p.status)")
            }
            return problems
        }
    }

    /// A placed checkout is whole: reservation committed, order confirmed, payment authorized.
    func whole(checkoutID: String) -> [String] {
        lock.withLock {
            var problems: [String] = []
            if reservations[checkoutID]?.state != .committed { problems.append("reservation not committed") }
            if orders[checkoutID]?.status != .confirmed { problems.append("order not confirmed") }
            if payments[checkoutID]?.status != .authorized { problems.append("payment not authorized") }
            return problems
        }
    }

    /// Units are conserved: stock = available + held + committed for every SKU, and nothing negative.
    func stockConserved() -> Bool {
        lock.withLock {
            for (sku, initial) in initialStock {
                var used: Int64 = 0
                for r in reservations.values where r.state != .released {
                    used += r.lines.filter { $0.sku == sku }.reduce(0) { $0 + $1.quantity }
                }
                let a = available[sku] ?? 0
                if a < 0 || a + used != initial { return false }
            }
            return true
        }
    }

    func committedUnits(_ sku: String) -> Int64 {
        lock.withLock {
            reservations.values.filter { $0.state == .committed }
                .flatMap(\.lines).filter { $0.sku == sku }.reduce(0) { $0 + $1.quantity }
        }
    }
}
