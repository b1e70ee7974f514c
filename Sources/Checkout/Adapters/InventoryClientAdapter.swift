import OMSAPI
import OMSCore

/// `InventoryPort` over the generated `InventoryV1.InventoryClient`.
public struct InventoryClientAdapter: InventoryPort {
    /// The typed client.
    public let client: InventoryV1.InventoryClient
    /// GetProduct calls in flight, shared by concurrent carts holding the same SKU.
    let products = SharedLookups<String, CatalogItem?>()

    /// Creates the adapter.
    /// - Parameter transport: a transport to oms-inventory.
    public init(transport: any RPCClientTransport) {
        self.client = InventoryV1.InventoryClient(transport: transport)
    }

    /// Looks each SKU up with GetProduct (concurrently); NOT_FOUND leaves it out. A lookup of a SKU already in
    /// flight for another cart is shared (with that call's deadline), so a popular SKU is asked for once per
    /// round trip, however many carts hold it.
    public func prices(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: CatalogItem] {
        let client = self.client
        let products = self.products
        return try await withThrowingTaskGroup(of: CatalogItem?.self) { group in
            for sku in skus {
                group.addTask {
                    do {
                        // A lookup of this SKU already in flight for another cart answers this one too.
                        return try await products.value(sku) {
                            do {
                                let r = try await client.getProduct(
                                    InventoryV1.GetProductRequest(sku: sku), options: options(deadline))
                                guard let p = r.product else { return nil }
                                return CatalogItem(sku: p.sku, name: p.name, unitPrice: CheckoutMoney(p.price), active: p.active)
                            } catch let e as RPCError where e.code == .notFound {
                                return nil
                            }
                        }
                    } catch {
                        throw PortError.from(error, effectful: false)
                    }
                }
            }
            var out: [String: CatalogItem] = [:]
            for try await item in group {
                if let item { out[item.sku] = item }
            }
            return out
        }
    }

    /// One GetStock of every SKU from the gate (`consistent = false`: Redis when warm, MySQL otherwise).
    public func availability(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: Int64] {
        var request = InventoryV1.GetStockRequest()
        request.skus = skus
        let response = try await mapped(effectful: false) { try await client.getStock(request, options: options(deadline)) }
        var out: [String: Int64] = [:]
        for level in response.levels { out[level.sku] = level.available }
        return out
    }

    public func reserve(reservationID: String, lines: [StockRequest], ttl: Duration, deadline: ContinuousClock.Instant)
        async throws -> ReserveOutcome
    {
        var request = InventoryV1.ReserveRequest()
        request.reservationID = reservationID
        request.lines = lines.map { InventoryV1.ReservationLine(sku: $0.sku, quantity: $0.quantity) }
        request.ttlMs = UInt32(clamping: ttl.wholeMilliseconds)
        request.reference = "checkout:\(reservationID)"
        let response = try await mapped(effectful: true) {
            try await client.reserve(request, options: options(deadline, idempotencyKey: reservationID))
        }
        switch response.outcome {
        case .reserved?: return .reserved
        case .outOfStock(let o)?: return .outOfStock(skus: o.shortages.map(\.sku))
        case nil: throw PortError.unknownOutcome(.internalError, "reserve answered without an outcome")
        }
    }

    public func commit(reservationID: String, orderID: String, deadline: ContinuousClock.Instant) async throws {
        var request = InventoryV1.CommitReservationRequest()
        request.reservationID = reservationID
        request.orderID = orderID
        _ = try await mapped(effectful: true) { try await client.commitReservation(request, options: options(deadline)) }
    }

    public func release(reservationID: String, reason: String, deadline: ContinuousClock.Instant) async throws {
        var request = InventoryV1.ReleaseReservationRequest()
        request.reservationID = reservationID
        request.reason = String(reason.prefix(255))
        _ = try await mapped(effectful: true) { try await client.releaseReservation(request, options: options(deadline)) }
    }

    public func extend(reservationID: String, ttl: Duration, deadline: ContinuousClock.Instant) async throws {
        var request = InventoryV1.ExtendReservationRequest()
        request.reservationID = reservationID
        request.ttlMs = UInt32(clamping: ttl.wholeMilliseconds)
        _ = try await mapped(effectful: false) { try await client.extendReservation(request, options: options(deadline)) }
    }
}
