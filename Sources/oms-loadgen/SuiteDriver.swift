import Foundation
import NIOConcurrencyHelpers
import OMSAPI
import OMSClient
import OMSLoadgenCore

/// Sends the load's RPCs through the SDK (several connections, round-robin) and classifies the answers.
struct SuiteDriver: Sendable {
    let clients: [OMSClients]
    /// Prefix of this run's SKUs, customers and idempotency keys (unique per run).
    let prefix: String
    /// Catalog: SKU index → SKU.
    let skus: [String]
    let timeout: Duration

    func client(_ index: Int) -> OMSClients { clients[index % clients.count] }

    func idempotencyKey(_ index: Int) -> String { "\(prefix)k\(index)" }
    func customerID(_ n: Int) -> String { "\(prefix)c\(n)" }

    /// One product to create at setup.
    struct Product: Sendable {
        var sku: String
        var name: String
        var priceMinor: Int64
        var stock: Int64
        var attributesJSON: String
    }

    /// Creates products and receives their stock through the inventory API.
    /// - Returns: SKU → units received.
    /// - Throws: the first RPC error.
    func setUp(_ products: [Product], concurrency: Int) async throws -> [String: Int64] {
        let next = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<max(1, min(concurrency, products.count)) {
                group.addTask {
                    let inventory = client(worker).inventory
                    let options = CallOptions(timeout: .seconds(30))
                    while true {
                        let i = next.withLockedValue { n -> Int in
                            defer { n += 1 }
                            return n
                        }
                        guard i < products.count else { return }
                        let p = products[i]
                        _ = try await Self.retryingTransient {
                          try await inventory.upsertProduct(
                            InventoryV1.UpsertProductRequest(
                                product: InventoryV1.Product(
                                    sku: p.sku, name: p.name,
                                    price: CommonV1.Money(amountMinor: p.priceMinor, currency: "USD"),
                                    attributesJson: p.attributesJSON, active: true)),
                            options: options)
                        }
                        if p.stock > 0 {
                            // SET (on hand = N) of a SKU nobody has bought yet has the same effect however often it
                            // runs, so a call whose outcome is unknown (deadline, unavailable) may be repeated.
                            _ = try await Self.retryingTransient {
                              try await inventory.adjustStock(
                                InventoryV1.AdjustStockRequest(
                                    sku: p.sku, kind: .set, quantity: p.stock, reason: "oms-loadgen setup",
                                    reference: prefix),
                                options: options)
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return Dictionary(products.map { ($0.sku, $0.stock) }, uniquingKeysWith: { a, b in a + b })
    }

    /// Whether the first and last product of a catalog exist already (a shared catalog was set up before).
    func catalogExists(_ products: [Product]) async throws -> Bool {
        guard let first = products.first, let last = products.last else { return true }
        for p in [first, last] {
            do {
                _ = try await client(0).inventory.getProduct(InventoryV1.GetProductRequest(sku: p.sku), options: CallOptions(timeout: timeout))
            } catch let e as RPCError where e.code == .notFound {
                return false
            }
        }
        return true
    }

    /// Runs an idempotent `body` again (up to 25 times, jittered backoff) while it fails with 10 ABORTED (a
    /// deadlock or a concurrent update that was rolled back), 14 UNAVAILABLE or 4 DEADLINE_EXCEEDED.
    static func retryingTransient<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let e as RPCError
                where [.aborted, .unavailable, .deadlineExceeded].contains(e.code) && attempt < 25
            {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(20 << min(attempt, 6)))))
            }
        }
    }

    /// Builds the PlaceOrder request of a planned checkout.
    func request(for c: PlannedCheckout) -> CheckoutV1.PlaceOrderRequest {
        let customer = customerID(c.customer)
        let colours = ["red", "blue", "black", "white"]
        let sizes = ["S", "M", "L", "XL"]
        return CheckoutV1.PlaceOrderRequest(
            idempotencyKey: idempotencyKey(c.index),
            customer: CommonV1.Customer(customerID: customer, name: "Buyer \(c.customer)", email: "buyer\(c.customer)@example.test"),
            lines: c.lines.map {
                CheckoutV1.PlaceOrderRequest.Line(
                    sku: skus[$0.skuIndex], quantity: $0.quantity,
                    attributesJson: "{\"colour\":\"\(colours[$0.skuIndex % 4])\",\"size\":\"\(sizes[($0.skuIndex / 4) % 4])\"}")
            },
            paymentMethod: PaymentsV1.PaymentMethod(
                kind: .card(
                    PaymentsV1.Card(
                        number: c.declinedCard ? SandboxCards.declined : SandboxCards.success, expMonth: 12,
                        expYear: 2034, cvc: "123", holderName: "Buyer \(c.customer)"))),
            shippingAddress: CommonV1.Address(
                name: "Buyer \(c.customer)", line1: "\(1 + c.customer % 999) Load Street", city: "Testville",
                region: "CA", postalCode: "94000", country: "US"),
            metadataJson: c.index % 10 == 0 ? "{\"gift\":true,\"delivery_preference\":\"express\"}" : "{}")
    }

    /// What one PlaceOrder answered, classified.
    struct Answer: Sendable {
        var kind: CheckoutResultKind
        var outcome: ClientOutcome
        var errorCode: String?
    }

    /// Sends the PlaceOrder of a planned checkout (polling while another call with the key runs) and classifies
    /// the answer.
    func send(_ c: PlannedCheckout, stats: LoadStats, until deadline: ContinuousClock.Instant? = nil) async -> Answer {
        let checkout = client(c.index).checkout
        do {
            var response = try await checkout.placeOrder(request(for: c), options: CallOptions(timeout: timeout))
            // Another call with this key is running (a retry after a lost reply): ask until it ends.
            var polls = 0
            while case .inProgress = response.outcome, polls < 100, deadline.map({ ContinuousClock.now < $0 }) ?? true {
                polls += 1
                try await Task.sleep(for: .milliseconds(100))
                response = try await checkout.placeOrder(request(for: c), options: CallOptions(timeout: timeout))
            }
            switch response.outcome {
            case .placed(let p):
                return Answer(kind: .placed, outcome: .placed(orderID: p.orderID))
            case .rejected(let r):
                let kind: CheckoutResultKind
                switch r.reason {
                case .outOfStock: kind = .outOfStock
                case .paymentDeclined: kind = .declined
                case .invalidRequest(let i):
                    kind = .invalid
                    if stats.snapshotInvalidCount() < 3 {
                        FileHandle.standardError.write(Data("oms-loadgen: invalid request: \(i.reason) \(i.violations.map { "\($0.field): \($0.description)" })\n".utf8))
                    }
                case .failed(let f):
                    kind = .failed
                    stats.noteFailure("\(f.step):\(RPCStatusCode(rawValue: f.code))")
                case nil: kind = .failed
                }
                return Answer(kind: kind, outcome: .rejected(reason: kind.rawValue))
            case .inProgress:
                return Answer(kind: .inProgress, outcome: .unknown(detail: "in progress"))
            case nil:
                return Answer(kind: .error, outcome: .unknown(detail: "empty outcome"), errorCode: "EMPTY_OUTCOME")
            }
        } catch {
            let code = (error as? RPCError).map { "\($0.code)" } ?? "TRANSPORT"
            return Answer(kind: .error, outcome: .unknown(detail: "\(error)"), errorCode: code)
        }
    }

    /// Places one checkout and records the answer.
    @discardableResult
    func placeOrder(_ c: PlannedCheckout, due: ContinuousClock.Instant, stats: LoadStats) async -> Answer {
        let a = await send(c, stats: stats)
        stats.recordCheckout(
            key: idempotencyKey(c.index), kind: a.kind, outcome: a.outcome, units: c.units,
            latency: ContinuousClock.now - due, errorCode: a.errorCode)
        return a
    }

    /// Runs one mixed-workload operation; a placed checkout the plan fulfils is then shipped (and perhaps
    /// returned), after its answer was recorded, so checkout latencies do not include it.
    func perform(
        _ op: PlannedOperation, index: Int, due: ContinuousClock.Instant, stats: LoadStats,
        fulfilment: (PlannedCheckout) -> PlannedFulfilment? = { _ in nil }
    ) async {
        let options = CallOptions(timeout: timeout)
        let c = client(index)
        do {
            switch op {
            case .checkout(let checkout):
                let answer = await placeOrder(checkout, due: due, stats: stats)
                if case .placed(let orderID) = answer.outcome, let plan = fulfilment(checkout) {
                    await fulfil(checkout, orderID: orderID, plan: plan, stats: stats)
                }
                return
            case .getProduct(let i):
                _ = try await c.inventory.getProduct(InventoryV1.GetProductRequest(sku: skus[i]), options: options)
            case .getStock(let indices):
                _ = try await c.inventory.getStock(InventoryV1.GetStockRequest(skus: indices.map { skus[$0] }), options: options)
            case .listOrders(let customer):
                _ = try await c.orders.listOrders(
                    OrdersV1.ListOrdersRequest(customerID: customerID(customer), pageSize: 10), options: options)
            }
            stats.recordRead(kind: op.kind, ok: true, latency: ContinuousClock.now - due)
        } catch {
            let code = (error as? RPCError).map { "\($0.code)" } ?? "TRANSPORT"
            stats.recordRead(kind: op.kind, ok: false, latency: ContinuousClock.now - due, errorCode: code)
        }
    }
}

extension LoadStats {
    func snapshotInvalidCount() -> Int { state.withLockedValue { $0.results[.invalid] ?? 0 } }

    /// Counts a compensated step failure by step and code (shown with the error codes).
    func noteFailure(_ label: String) { state.withLockedValue { $0.errorCodes["failed/" + label, default: 0] += 1 } }
}
