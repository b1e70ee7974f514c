import Foundation
import Logging
import NIOConcurrencyHelpers
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSRedis
import OMSServiceKit

/// The inventory and catalog service (`oms.inventory.v1.Inventory`): products, stock, reservations behind
/// the Redis gate, and reconciliation. MySQL is the source of truth; the gate only keeps hopeless requests
/// away from it. Design: docs/inventory.md.
public final class InventoryService: InventoryV1.InventoryService {
    let repository: InventoryRepository
    let gate: StockGate?
    let configuration: InventoryConfiguration
    let logger: Logger
    let metrics = InventoryMetrics()
    let coalescer: BatchCoalescer<ReserveCommand, ReserveDecision>
    let commits: BatchCoalescer<InventoryRepository.CommitCommand, Swift.Result<InventoryRepository.TransitionResult, RPCError>>
    /// SKUs changed in MySQL while the gate was unusable; their gate keys are dropped (and rewarmed) as soon
    /// as Redis answers again.
    let dirtySKUs = NIOLockedValueBox<Set<String>>([])
    /// One warm-up per cold SKU at a time in this process (a flash sale's first second would otherwise send
    /// every request to MySQL to warm the same key).
    let warmer = SingleFlight()
    /// Products recently read for GetProduct (see `ProductCache`).
    let productCache: ProductCache

    /// Creates the service.
    /// - Parameters:
    ///   - database: the `oms_inventory` pools (migrated).
    ///   - redis: the Redis client of the gate, or nil to run MySQL-only.
    ///   - configuration: service settings.
    ///   - logger: logger (`service` metadata is added).
    public init(
        database: MySQLDatabase, redis: RedisClient?, configuration: InventoryConfiguration = InventoryConfiguration(),
        logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "service"] = "inventory"
        self.logger = logger
        self.configuration = configuration
        repository = InventoryRepository(database: database)
        productCache = ProductCache(ttl: configuration.productCacheTTL)
        gate = configuration.gateEnabled
            ? redis.map { StockGate(redis: $0, keys: StockGateKeys(prefix: configuration.redisKeyPrefix), timeout: configuration.gateTimeout) }
            : nil
        let repository = self.repository
        let failpoints = configuration.failpoints
        coalescer = BatchCoalescer(
            metricPrefix: "oms_inventory", name: "reserve", maxBatchSize: configuration.reserveBatchSize,
            maxConcurrentBatches: configuration.reserveBatchConcurrency
        ) { [logger] commands in
            let decisions = try await repository.reserveBatch(commands)
            failpoints.reach(.afterCommit, logger: logger)
            return decisions
        }
        commits = BatchCoalescer(
            metricPrefix: "oms_inventory", name: "commit", maxBatchSize: configuration.reserveBatchSize,
            maxConcurrentBatches: configuration.reserveBatchConcurrency
        ) { [logger] commands in
            let results = try await repository.commitBatch(commands)
            failpoints.reach(.afterCommit, logger: logger)
            return results
        }
    }

    // MARK: Gate helpers

    /// Records that the gate could not be used for these SKUs.
    func gateFailed(_ error: any Error, skus: [String], operation: String) {
        metrics.gateUnavailable.increment()
        dirtySKUs.withLockedValue { $0.formUnion(skus) }
        logger.warning(
            "redis gate unavailable; using MySQL only",
            metadata: ["op": "\(operation)", "error": "\(error)", "skus": "\(skus.count)"])
    }

    /// The gate, after dropping the keys of SKUs changed while it was unusable. Nil when there is no gate
    /// or Redis still fails.
    func usableGate() async -> StockGate? {
        guard let gate else { return nil }
        let dirty = dirtySKUs.withLockedValue { d -> [String] in
            let out = Array(d)
            d.removeAll()
            return out
        }
        guard !dirty.isEmpty else { return gate }
        do {
            try await gate.forget(dirty)
            logger.info("redis gate back; dropped keys changed meanwhile", metadata: ["skus": "\(dirty.count)"])
            return gate
        } catch {
            dirtySKUs.withLockedValue { $0.formUnion(dirty) }
            metrics.gateUnavailable.increment()
            return nil
        }
    }

    /// Seconds a reservation's gate key lives.
    func keyTTLSeconds(_ ttl: Duration) -> Int64 {
        max(1, (ttl + configuration.reservationKeyGrace).components.seconds)
    }

    static func newToken() -> String {
        let v = UInt64.random(in: 0...UInt64.max)
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Warms missing gate keys from MySQL without double counting in-flight holds: the holds are read
    /// first (no new hold can appear while the key is missing), then MySQL's available and which of those
    /// holds MySQL already has, in one snapshot; the key is set only if still absent.
    /// - Throws: 3 INVALID_ARGUMENT for SKUs without stock rows; `RedisError`; `MySQLError`.
    func warm(_ gate: StockGate, skus: [String], lines: [StockLine]) async throws {
        let snapshot = try await gate.snapshot(skus)
        let ids = Array(Set(snapshot.flatMap { $0.holds.keys }))
        let measured = try await repository.measure(skus: skus, reservationIDs: ids)
        let unknown = skus.filter { measured.available[$0] == nil }
        if !unknown.isEmpty {
            let field = lines.firstIndex { $0.sku == unknown[0] }.map { "lines[\($0)].sku" } ?? "sku"
            throw RPCError.invalidArgument("\(field): unknown SKU \(unknown[0])")
        }
        for s in snapshot {
            let inFlight = s.holds.reduce(Int64(0)) { sum, h in
                measured.tokens[h.key] == h.value.token ? sum : sum + h.value.quantity
            }
            let units = measured.available[s.sku]! - inFlight
            if try await gate.warm(sku: s.sku, units: units) {
                metrics.gateWarmed.increment()
                logger.debug("gate key warmed", metadata: ["sku": "\(s.sku)", "units": "\(units)", "in_flight": "\(inFlight)"])
            }
        }
    }

    // MARK: Reserve

    /// The outcome of a Reserve.
    enum ReserveOutcome: Sendable {
        case reserved(ReservationRecord)
        case outOfStock([Shortage])
    }

    /// Reserves all lines or none: gate first, then one (coalesced) MySQL transaction.
    func reserveLines(id: String, lines unsorted: [StockLine], ttl: Duration, reference: String) async throws
        -> ReserveOutcome
    {
        let lines = unsorted.sorted { $0.sku < $1.sku }
        let digest = StockLine.digest(lines)
        let skus = lines.map(\.sku)
        var token: String? = nil
        var took = false
        if let gate = await usableGate() {
            let mine = Self.newToken()
            token = mine
            do {
                var attempt = 0
                gateLoop: while true {
                    attempt += 1
                    let result = try await gate.reserve(
                        id: id, token: mine, lines: lines, digest: digest, keyTTLSeconds: keyTTLSeconds(ttl))
                    switch result {
                    case .taken:
                        took = true
                        break gateLoop
                    case .missing(let cold):
                        if attempt >= 3 { throw RedisError(kind: .server, message: "gate keys keep disappearing") }
                        try await warmer.run(Set(cold)) { try await self.warm(gate, skus: cold, lines: lines) }
                    case .short(let units):
                        metrics.reserveOutcome("gate_sold_out")
                        return .outOfStock(
                            lines.compactMap { l in
                                units[l.sku].map { Shortage(sku: l.sku, requested: l.quantity, available: max(0, $0)) }
                            })
                    case .duplicate(let state, let existingToken, let existingDigest):
                        if state == "tomb" {
                            metrics.reserveOutcome("refused")
                            throw RPCError.failedPrecondition(
                                "reservation id was released before it was reserved; use a new id")
                        }
                        if existingDigest != digest && !existingDigest.isEmpty {
                            metrics.reserveOutcome("refused")
                            throw RPCError(.alreadyExists, "reservation id already used with different lines")
                        }
                        // Taken before by this id (maybe by a call still in flight): MySQL decides, and the
                        // units belong to the first take.
                        token = existingToken.isEmpty ? nil : existingToken
                        break gateLoop
                    }
                }
            } catch let e as RedisError {
                gateFailed(e, skus: skus, operation: "reserve")
            }
        }
        let decision: ReserveDecision
        do {
            decision = try await coalescer.submit(
                ReserveCommand(id: id, lines: lines, digest: digest, ttl: ttl, reference: reference, token: token))
        } catch {
            if took, let gate, let mine = token {
                // Most likely nothing was written; if a lost COMMIT did write it, the gate is merely high
                // until the next reconciliation (MySQL still refuses any oversell).
                _ = try? await gate.undo(id: id, token: mine, skus: skus, newState: nil, keyTTLSeconds: keyTTLSeconds(ttl))
            }
            throw error
        }
        if took, let gate, let mine = token {
            await settleTake(gate, id: id, token: mine, skus: skus, ttl: ttl, decision: decision)
        }
        switch decision {
        case .reserved(let r):
            metrics.reserveOutcome("reserved")
            return .reserved(r)
        case .existing(let r):
            metrics.reserveOutcome("existing")
            return .reserved(r)
        case .outOfStock(let s):
            metrics.reserveOutcome("mysql_sold_out")
            return .outOfStock(s)
        case .unknownSKUs(let unknown):
            let field = lines.firstIndex { $0.sku == unknown[0] }
                .flatMap { i in unsorted.firstIndex { $0.sku == lines[i].sku } }
                .map { "lines[\($0)].sku" } ?? "lines"
            throw RPCError.invalidArgument("\(field): unknown SKU \(unknown[0])")
        case .refused(let e):
            metrics.reserveOutcome("refused")
            throw e
        }
    }

    /// After MySQL decided on a take of this call: confirm it, or give the units back.
    private func settleTake(
        _ gate: StockGate, id: String, token: String, skus: [String], ttl: Duration, decision: ReserveDecision
    ) async {
        do {
            switch decision {
            case .reserved(let r), .existing(let r):
                let returned = try await gate.settle(id: id, databaseToken: r.gateToken ?? "", skus: skus)
                if returned == 2 { logger.debug("redundant gate take returned", metadata: ["reservation": "\(id)"]) }
            case .outOfStock, .unknownSKUs:
                metrics.gateDisagreed.increment()
                try await gate.undo(id: id, token: token, skus: skus, newState: nil, keyTTLSeconds: keyTTLSeconds(ttl))
            case .refused(let e):
                let tomb = e.code == .failedPrecondition
                try await gate.undo(
                    id: id, token: token, skus: skus, newState: tomb ? "tomb" : nil, keyTTLSeconds: keyTTLSeconds(ttl))
            }
        } catch {
            // The hold stays in Redis; reconciliation resolves it once it is stale.
            gateFailed(error, skus: skus, operation: "settle")
        }
    }

    // MARK: Release, commit, extend, expire

    /// Releases a reservation (idempotent); an unknown id is recorded as a tombstone.
    func releaseReservation(id: String, reason: String) async throws -> (record: ReservationRecord?, wasKnown: Bool) {
        let result = try await repository.transition(
            id: id, kind: "release", reason: reason.isEmpty ? "released" : reason, tombstoneWhenMissing: true
        ) { m, _ in try m.release() }
        configuration.failpoints.reach(.afterCommit, logger: logger)
        guard let record = result.record else {
            if let gate = await usableGate() {
                do {
                    try await gate.tombstone(id: id, keyTTLSeconds: keyTTLSeconds(configuration.defaultReservationTTL))
                } catch { gateFailed(error, skus: [], operation: "tombstone") }
            }
            logger.info("release before reserve recorded", metadata: ["reservation": "\(id)"])
            return (nil, false)
        }
        if result.effect == .releaseUnits { await returnUnits(record) }
        return (record, !record.isTombstone)
    }

    /// Gives released units back to the gate (once per reservation).
    func returnUnits(_ record: ReservationRecord) async {
        guard let gate = await usableGate() else {
            if self.gate != nil { dirtySKUs.withLockedValue { $0.formUnion(record.lines.map(\.sku)) } }
            return
        }
        do {
            try await gate.release(id: record.id, lines: record.lines, keyTTLSeconds: keyTTLSeconds(.seconds(0)))
        } catch {
            gateFailed(error, skus: record.lines.map(\.sku), operation: "release")
        }
    }

    /// Expires held reservations past their expiry; returns how many were expired.
    @discardableResult
    public func sweepExpired() async throws -> Int {
        let ids = try await repository.lapsedReservations(now: Date(), limit: configuration.sweepBatch)
        var count = 0
        for id in ids {
            let r = try await repository.transition(id: id, kind: "expire", reason: "expired") { m, now in m.expire(now: now) }
            if r.effect == .releaseUnits, let record = r.record {
                count += 1
                metrics.expired.increment()
                await returnUnits(record)
                logger.info("reservation expired", metadata: ["reservation": "\(id)"])
            }
        }
        return count
    }

    // MARK: Conversions

    static func proto(_ r: ReservationRecord) -> InventoryV1.Reservation {
        var p = InventoryV1.Reservation()
        p.reservationID = r.id
        p.lines = r.lines.map { InventoryV1.ReservationLine(sku: $0.sku, quantity: $0.quantity) }
        switch r.status {
        case .held: p.state = .held
        case .committed: p.state = .committed
        case .released: p.state = .released
        case .expired: p.state = .expired
        }
        p.expiresAtUs = r.expiresAt.unixMicroseconds
        p.createdAtUs = r.createdAt.unixMicroseconds
        p.reference = r.reference
        p.orderID = r.orderID ?? ""
        return p
    }

    static func proto(_ p: ProductRecord) -> InventoryV1.Product {
        var out = InventoryV1.Product()
        out.sku = p.sku
        out.name = p.name
        out.price = CommonV1.Money(amountMinor: p.priceMinor, currency: p.currency)
        out.attributesJson = p.attributesJSON
        out.active = p.active
        out.createdAtUs = p.createdAt.unixMicroseconds
        out.updatedAtUs = p.updatedAt.unixMicroseconds
        out.version = p.version
        return out
    }

    static func proto(_ s: StockRecord, source: InventoryV1.StockLevel.Source = .database) -> InventoryV1.StockLevel {
        var l = InventoryV1.StockLevel()
        l.sku = s.sku
        l.onHand = s.onHand
        l.reserved = s.reserved
        l.available = s.available
        l.source = source
        return l
    }

    func ttl(ms: UInt32) -> Duration {
        ms == 0 ? configuration.defaultReservationTTL : .milliseconds(Int64(ms))
    }

    // MARK: InventoryV1.InventoryService

    /// Creates or updates a product (stock untouched; a new product starts with zero units).
    /// - Throws: 3 for invalid fields, 10 when `product.version` is stale.
    public func upsertProduct(_ request: InventoryV1.UpsertProductRequest, context: ServerContext) async throws
        -> InventoryV1.UpsertProductResponse
    {
        let p = request.product!
        let record = ProductRecord(
            sku: p.sku, name: p.name, priceMinor: p.price!.amountMinor, currency: p.price!.currency,
            attributesJSON: p.attributesJson.isEmpty ? "{}" : p.attributesJson, active: p.active, version: p.version,
            createdAt: Date(), updatedAt: Date())
        defer { productCache.invalidate(record.sku) }
        let (stored, created) = try await repository.upsert(record, expectedVersion: p.version)
        return InventoryV1.UpsertProductResponse(product: Self.proto(stored), created: created)
    }

    /// One product, from the short-lived product cache when it was read within `product-cache-ttl`.
    /// - Throws: 5 when unknown.
    public func getProduct(_ request: InventoryV1.GetProductRequest, context: ServerContext) async throws
        -> InventoryV1.GetProductResponse
    {
        if let cached = productCache.get(request.sku) {
            return InventoryV1.GetProductResponse(product: Self.proto(cached))
        }
        guard let p = try await repository.product(sku: request.sku) else {
            throw RPCError.notFound("product \(request.sku) not found")
        }
        productCache.put(p)
        return InventoryV1.GetProductResponse(product: Self.proto(p))
    }

    /// A page of products ordered by SKU (replica when configured).
    public func listProducts(_ request: InventoryV1.ListProductsRequest, context: ServerContext) async throws
        -> InventoryV1.ListProductsResponse
    {
        let size = request.pageSize == 0 ? 100 : Int(request.pageSize)
        let cursor = request.pageToken.isEmpty ? "" : ProductCursor.decode(request.pageToken)!
        let page = try await repository.products(after: cursor, limit: size + 1, includeInactive: request.includeInactive)
        var out = InventoryV1.ListProductsResponse()
        out.products = page.prefix(size).map(Self.proto)
        if page.count > size, let last = page.prefix(size).last { out.nextPageToken = ProductCursor.encode(last.sku) }
        return out
    }

    /// Receive / correct / set on-hand units; writes the ledger and moves the gate by the same delta.
    /// - Throws: 3 invalid, 5 unknown SKU, 9 when on hand would fall below reserved.
    public func adjustStock(_ request: InventoryV1.AdjustStockRequest, context: ServerContext) async throws
        -> InventoryV1.AdjustStockResponse
    {
        let kind: String
        switch request.kind {
        case .receive: kind = "receive"
        case .correct: kind = "correct"
        default: kind = "set"
        }
        // The protocol's idempotency-key applies the adjustment once (the orders outbox delivers
        // restocks at least once, and the client retries AdjustStock as idempotent).
        let key = context.idempotencyKey.map { key in
            var fingerprint = RequestFingerprint("adjust-stock")
            fingerprint.append(request.sku)
            fingerprint.append(kind)
            fingerprint.append(request.quantity)
            fingerprint.append(request.reason)
            fingerprint.append(request.reference)
            return InventoryRepository.AdjustmentKey(key: key, fingerprint: fingerprint.value)
        }
        if let key { try FieldRules.text(key.key, field: "idempotency-key", max: FieldLimits.maxIdempotencyKeyLength) }
        // A concurrent use of the same key on another SKU loses the key's insert: the retry reads
        // the winner's record and answers as the key decided.
        let adjusted = try await retryingOnDuplicateKey(attempts: key == nil ? 1 : 2) {
            try await repository.adjust(
                sku: request.sku, kind: kind, quantity: request.quantity, reason: request.reason,
                reference: request.reference, key: key)
        }
        guard let r = adjusted else { throw RPCError.notFound("no stock for SKU \(request.sku)") }
        if r.replayed {
            logger.debug("stock adjustment replayed", metadata: ["sku": "\(request.sku)", "ledger": "\(r.ledgerID)"])
            return InventoryV1.AdjustStockResponse(stock: Self.proto(r.stock), ledgerEntryID: String(r.ledgerID))
        }
        if r.delta != 0, self.gate != nil {
            if let gate = await usableGate() {
                do { try await gate.adjust(sku: request.sku, delta: r.delta) } catch {
                    gateFailed(error, skus: [request.sku], operation: "adjust")
                }
            } else {
                dirtySKUs.withLockedValue { _ = $0.insert(request.sku) }
            }
        }
        logger.info(
            "stock adjusted",
            metadata: ["sku": "\(request.sku)", "kind": "\(kind)", "delta": "\(r.delta)", "ledger": "\(r.ledgerID)"])
        return InventoryV1.AdjustStockResponse(stock: Self.proto(r.stock), ledgerEntryID: String(r.ledgerID))
    }

    /// Stock of several SKUs: from the gate when warm (available only), else from MySQL.
    public func getStock(_ request: InventoryV1.GetStockRequest, context: ServerContext) async throws
        -> InventoryV1.GetStockResponse
    {
        var cached: [String: Int64] = [:]
        if !request.consistent, let gate = await usableGate() {
            do {
                for (sku, units) in zip(request.skus, try await gate.units(request.skus)) {
                    if let units { cached[sku] = units }
                }
            } catch { gateFailed(error, skus: [], operation: "getStock") }
        }
        let rest = request.skus.filter { cached[$0] == nil }
        let rows = try await repository.stock(skus: rest)
        var out = InventoryV1.GetStockResponse()
        for sku in request.skus {
            if let units = cached[sku] {
                var l = InventoryV1.StockLevel()
                l.sku = sku
                l.available = max(0, units)
                l.source = .cache
                out.levels.append(l)
            } else if let row = rows[sku] {
                out.levels.append(Self.proto(row))
            } else if !out.unknownSkus.contains(sku) {
                out.unknownSkus.append(sku)
            }
        }
        return out
    }

    /// Reserves all lines or none. Out of stock is a result naming the SKUs, not an error.
    /// - Throws: 3 invalid or unknown SKU, 6 id reused with other lines, 9 id released before reserved.
    public func reserve(_ request: InventoryV1.ReserveRequest, context: ServerContext) async throws
        -> InventoryV1.ReserveResponse
    {
        let started = ContinuousClock.now
        defer { metrics.reserveDuration.record(duration: ContinuousClock.now - started) }
        let outcome = try await reserveLines(
            id: request.reservationID, lines: request.lines.map { StockLine(sku: $0.sku, quantity: $0.quantity) },
            ttl: ttl(ms: request.ttlMs), reference: request.reference)
        var out = InventoryV1.ReserveResponse()
        switch outcome {
        case .reserved(let r):
            out.outcome = .reserved(Self.proto(r))
        case .outOfStock(let shortages):
            var oos = InventoryV1.ReserveResponse.OutOfStock()
            oos.shortages = shortages.map {
                InventoryV1.StockShortage(sku: $0.sku, requested: $0.requested, available: $0.available)
            }
            out.outcome = .outOfStock(oos)
        }
        return out
    }

    /// Sells the held units (idempotent).
    /// - Throws: 5 unknown id, 9 released/expired.
    public func commitReservation(_ request: InventoryV1.CommitReservationRequest, context: ServerContext) async throws
        -> InventoryV1.CommitReservationResponse
    {
        let r = try await commits.submit(
            .init(id: request.reservationID, orderID: request.orderID.isEmpty ? nil : request.orderID)
        ).get()
        guard let record = r.record else { throw RPCError.notFound("reservation \(request.reservationID) not found") }
        return InventoryV1.CommitReservationResponse(reservation: Self.proto(record))
    }

    /// Returns held units to stock and to the gate (idempotent); an unknown id is recorded so a later
    /// Reserve with it is refused.
    /// - Throws: 9 when the reservation was committed.
    public func releaseReservation(_ request: InventoryV1.ReleaseReservationRequest, context: ServerContext) async throws
        -> InventoryV1.ReleaseReservationResponse
    {
        let (record, known) = try await releaseReservation(id: request.reservationID, reason: request.reason)
        var out = InventoryV1.ReleaseReservationResponse()
        out.wasKnown = known
        if let record {
            out.reservation = Self.proto(record)
        } else {
            var p = InventoryV1.Reservation()
            p.reservationID = request.reservationID
            p.state = .released
            out.reservation = p
        }
        return out
    }

    /// Moves the expiry of a held reservation to now + ttl.
    /// - Throws: 5 unknown id, 9 not held or already lapsed.
    public func extendReservation(_ request: InventoryV1.ExtendReservationRequest, context: ServerContext) async throws
        -> InventoryV1.ExtendReservationResponse
    {
        let ttl = ttl(ms: request.ttlMs)
        let r = try await repository.transition(id: request.reservationID, kind: "extend") { m, now in
            try m.extend(until: now.adding(ttl), now: now)
        }
        guard let record = r.record else { throw RPCError.notFound("reservation \(request.reservationID) not found") }
        if let gate = await usableGate() {
            _ = try? await gate.redis.send(
                RedisCommand("EXPIRE", gate.keys.reservation(record.id), keyTTLSeconds(ttl)), timeout: gate.timeout)
        }
        return InventoryV1.ExtendReservationResponse(reservation: Self.proto(record))
    }

    /// Runs reconciliation now and returns its report.
    /// - Throws: 14 when Redis is unreachable, 9 when the service runs without a gate.
    public func reconcile(_ request: InventoryV1.ReconcileRequest, context: ServerContext) async throws
        -> InventoryV1.ReconcileResponse
    {
        let report = try await reconcile(skus: request.skus.isEmpty ? nil : request.skus, dryRun: request.dryRun)
        return InventoryV1.ReconcileResponse(report: report)
    }
}
