/// Deterministic plans of the load scenarios: which SKUs, quantities, cards and reads each
/// operation uses, derived only from the run seed and the operation's index.
///
/// Pure; no I/O and no RPC types: `oms-loadgen`'s `SuiteDriver` turns a plan into requests.

/// The two sandbox cards of the payments service.
public enum SandboxCards {
    /// Always authorized.
    public static let success = "4242424242424242"
    /// Always declined (generic decline).
    public static let declined = "4000000000000002"
}

/// One line of a planned cart: the SKU's rank in the catalog and the quantity.
public struct PlannedLine: Sendable, Hashable, Codable {
    /// Rank of the SKU in the run's catalog (0: the most popular, or the flash sale's hot SKU).
    public var skuIndex: Int
    /// Units (≥ 1).
    public var quantity: Int64

    /// - Parameters:
    ///   - skuIndex: the SKU's rank in the catalog.
    ///   - quantity: units.
    public init(skuIndex: Int, quantity: Int64) {
        self.skuIndex = skuIndex
        self.quantity = quantity
    }
}

/// One planned checkout.
public struct PlannedCheckout: Sendable, Hashable, Codable {
    /// Operation index (also the idempotency key's suffix).
    public var index: Int
    /// Customer number (0-based).
    public var customer: Int
    /// Distinct SKUs, sorted by index.
    public var lines: [PlannedLine]
    /// Whether the buyer pays with the declining card.
    public var declinedCard: Bool

    /// - Parameters:
    ///   - index: operation index.
    ///   - customer: customer number.
    ///   - lines: the cart.
    ///   - declinedCard: whether the declining sandbox card pays.
    public init(index: Int, customer: Int, lines: [PlannedLine], declinedCard: Bool) {
        self.index = index
        self.customer = customer
        self.lines = lines
        self.declinedCard = declinedCard
    }

    /// Units in the cart.
    public var units: Int64 { lines.reduce(0) { $0 + $1.quantity } }
}

/// The fulfilment of one placed order: one shipment, then perhaps one return.
public struct PlannedFulfilment: Sendable, Hashable, Codable {
    /// Units shipped per cart line, in the cart's order (every line ships at least one unit).
    public var shipped: [Int64]
    /// Units returned per cart line after shipping (≤ shipped; all 0: no return).
    public var returned: [Int64]

    /// - Parameters:
    ///   - shipped: units shipped per cart line.
    ///   - returned: units returned per cart line.
    public init(shipped: [Int64], returned: [Int64]) {
        self.shipped = shipped
        self.returned = returned
    }

    /// Whether the order returns some units.
    public var hasReturn: Bool { returned.contains { $0 > 0 } }
}

/// One operation of a mixed workload.
public enum PlannedOperation: Sendable, Hashable {
    /// Place an order.
    case checkout(PlannedCheckout)
    /// Browse a product page.
    case getProduct(skuIndex: Int)
    /// Check stock of a few SKUs (a product page with variants, a cart).
    case getStock(skuIndices: [Int])
    /// Read a customer's order history.
    case listOrders(customer: Int)

    /// A short label for counters.
    public var kind: String {
        switch self {
        case .checkout: "checkout"
        case .getProduct: "get_product"
        case .getStock: "get_stock"
        case .listOrders: "list_orders"
        }
    }
}

/// The flash sale: `buyers` buyers for one hot SKU (index 0).
public struct FlashSalePlan: Sendable, Hashable {
    /// The run seed.
    public var seed: UInt64
    /// Buyers, one checkout each.
    public var buyers: Int
    /// Share of buyers (0...1) paying with the declining card.
    public var declineRate: Double
    /// Largest cart quantity; quantities 1...max, weighted towards 1 (weights 1/q²).
    public var maxQuantity: Int

    /// - Parameters:
    ///   - seed: the run seed.
    ///   - buyers: buyers (≥ 0).
    ///   - declineRate: share of declined cards (0...1).
    ///   - maxQuantity: largest cart quantity (≥ 1).
    public init(seed: UInt64, buyers: Int, declineRate: Double, maxQuantity: Int) {
        precondition(buyers >= 0 && (0...1).contains(declineRate) && maxQuantity >= 1)
        self.seed = seed
        self.buyers = buyers
        self.declineRate = declineRate
        self.maxQuantity = maxQuantity
    }

    /// The checkout of buyer `index` (0..<buyers); every buyer is a different customer.
    public func checkout(_ index: Int) -> PlannedCheckout {
        var rng = SplitMix64(seed: seed, stream: UInt64(index))
        let declined = rng.nextUnit() < declineRate
        let quantity = Self.quantity(maxQuantity: maxQuantity, unit: rng.nextUnit())
        return PlannedCheckout(
            index: index, customer: index, lines: [PlannedLine(skuIndex: 0, quantity: quantity)], declinedCard: declined)
    }

    /// Draws a quantity in 1...maxQuantity with weights 1/q² from a uniform `unit` in [0, 1).
    public static func quantity(maxQuantity: Int, unit: Double) -> Int64 {
        let weights = (1...maxQuantity).map { 1.0 / Double($0 * $0) }
        let total = weights.reduce(0, +)
        var acc = 0.0
        for (i, w) in weights.enumerated() {
            acc += w / total
            if unit < acc { return Int64(i + 1) }
        }
        return Int64(maxQuantity)
    }
}

/// The mixed workload over a catalog with Zipf popularity.
public struct MixedPlan: Sendable {
    /// The run seed.
    public var seed: UInt64
    /// Catalog size.
    public var catalogSize: Int
    /// Customers drawing orders (order histories get longer with fewer customers).
    public var customers: Int
    /// Share of operations (0...1) that are checkouts; the rest are reads.
    public var checkoutShare: Double
    /// Share of checkouts paying with the declining card.
    public var declineRate: Double
    /// Largest number of lines per cart (1...this, uniform).
    public var maxLines: Int
    /// Largest quantity per line.
    public var maxQuantity: Int
    /// Share of placed orders (0...1) that are shipped afterwards (the fulfilment stream; 0: none).
    public var fulfilFraction: Double
    /// Share of shipped orders (0...1) that then return some units.
    public var returnFraction: Double
    /// Popularity of SKUs.
    public let popularity: ZipfSampler

    /// - Parameters:
    ///   - seed: the run seed.
    ///   - catalogSize: SKUs (≥ 1).
    ///   - customers: customers (≥ 1).
    ///   - checkoutShare: share of checkouts (0...1).
    ///   - declineRate: share of declined cards among checkouts (0...1).
    ///   - maxLines: most lines per cart (capped at `catalogSize`).
    ///   - maxQuantity: most units per line.
    ///   - zipfExponent: popularity exponent of the catalog (0: uniform).
    ///   - fulfilFraction: share of placed orders shipped afterwards (0...1).
    ///   - returnFraction: share of shipped orders that return units (0...1).
    public init(
        seed: UInt64, catalogSize: Int, customers: Int, checkoutShare: Double, declineRate: Double, maxLines: Int,
        maxQuantity: Int, zipfExponent: Double, fulfilFraction: Double = 0, returnFraction: Double = 0.5
    ) {
        precondition(catalogSize >= 1 && customers >= 1 && maxLines >= 1 && maxQuantity >= 1)
        precondition((0...1).contains(checkoutShare) && (0...1).contains(declineRate))
        precondition((0...1).contains(fulfilFraction) && (0...1).contains(returnFraction))
        self.fulfilFraction = fulfilFraction
        self.returnFraction = returnFraction
        self.seed = seed
        self.catalogSize = catalogSize
        self.customers = customers
        self.checkoutShare = checkoutShare
        self.declineRate = declineRate
        self.maxLines = min(maxLines, catalogSize)
        self.maxQuantity = maxQuantity
        popularity = ZipfSampler(count: catalogSize, exponent: zipfExponent)
    }

    /// Operation `index` of the run.
    public func operation(_ index: Int) -> PlannedOperation {
        var rng = SplitMix64(seed: seed, stream: UInt64(index))
        let customer = Int(rng.next() % UInt64(customers))
        let pick = rng.nextUnit()
        if pick < checkoutShare {
            return .checkout(cart(index: index, customer: customer, rng: &rng))
        }
        // Reads: half product pages, a quarter stock checks, a quarter order histories.
        let read = (pick - checkoutShare) / max(1e-9, 1 - checkoutShare)
        if read < 0.5 {
            return .getProduct(skuIndex: popularity.sample(using: &rng))
        } else if read < 0.75 {
            let n = 1 + Int(rng.next() % 3)
            return .getStock(skuIndices: distinctSKUs(n, rng: &rng))
        } else {
            return .listOrders(customer: customer)
        }
    }

    /// The checkout a checkout-only run (the baseline, saturation) uses as operation `index`.
    public func checkoutOnly(_ index: Int) -> PlannedCheckout {
        var rng = SplitMix64(seed: seed, stream: UInt64(index))
        let customer = Int(rng.next() % UInt64(customers))
        _ = rng.nextUnit()
        return cart(index: index, customer: customer, rng: &rng)
    }

    /// What happens to checkout `c` once it placed: nil for most orders (all when `fulfilFraction` is 0).
    /// Drawn from a stream of its own, so the operations of a run are the same with and without fulfilment.
    public func fulfilment(of c: PlannedCheckout) -> PlannedFulfilment? {
        guard fulfilFraction > 0, !c.lines.isEmpty else { return nil }
        var rng = SplitMix64(seed: seed ^ 0x00F0_1F11_5EED, stream: UInt64(c.index))
        guard rng.nextUnit() < fulfilFraction else { return nil }
        // Half the shipments take every unit, the others the larger half of each line (a partial capture).
        let whole = rng.nextUnit() < 0.5
        let shipped = c.lines.map { whole ? $0.quantity : ($0.quantity + 1) / 2 }
        var returned = Array(repeating: Int64(0), count: shipped.count)
        if rng.nextUnit() < returnFraction {
            let line = Int(rng.next() % UInt64(shipped.count))
            returned[line] = 1 + Int64(rng.next() % UInt64(shipped[line]))
        }
        return PlannedFulfilment(shipped: shipped, returned: returned)
    }

    private func cart(index: Int, customer: Int, rng: inout SplitMix64) -> PlannedCheckout {
        let declined = rng.nextUnit() < declineRate
        let lineCount = 1 + Int(rng.next() % UInt64(maxLines))
        let skus = distinctSKUs(lineCount, rng: &rng)
        let lines = skus.map { PlannedLine(skuIndex: $0, quantity: 1 + Int64(rng.next() % UInt64(maxQuantity))) }
        return PlannedCheckout(index: index, customer: customer, lines: lines, declinedCard: declined)
    }

    private func distinctSKUs(_ n: Int, rng: inout SplitMix64) -> [Int] {
        var chosen = Set<Int>()
        var attempts = 0
        while chosen.count < n && attempts < n * 20 {
            chosen.insert(popularity.sample(using: &rng))
            attempts += 1
        }
        return chosen.sorted()
    }
}
