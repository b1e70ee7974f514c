import Foundation
import Logging
import OMSAPI
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSRedis
import OMSTestKit

@testable import Inventory

/// One fresh `oms_inventory_t…` schema, migrated, with two service instances ("two processes": separate
/// MySQL pools and Redis clients) sharing it and a Redis key prefix of their own. Only keys under that
/// prefix are ever deleted, so other tests using the same Redis are not disturbed.
struct InventoryHarness {
    let a: InventoryService
    let b: InventoryService
    let database: MySQLDatabase
    let redis: RedisClient
    let keys: StockGateKeys
    let schema: String

    static let logger: Logger = {
        var l = Logger(label: "inventory-tests")
        l.logLevel = ProcessInfo.processInfo.environment["OMS_TEST_LOG"] == "1" ? .debug : .critical
        return l
    }()

    static func context(_ method: MethodDescriptor = InventoryV1.Inventory.Method.reserve) -> ServerContext {
        ServerContext(method: method, metadata: [:], deadline: nil, peer: "test")
    }

    /// Serves one call to service `a` through its router, as the wire does (decode, validate,
    /// handle); the encoded answer is returned.
    func call<Request: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, context: ServerContext
    ) async throws -> [UInt8] {
        try await a.router.serve(method, request, context: context)
    }

    /// Runs `body` with a fresh harness; drops the schema and the prefix's keys afterwards.
    static func run(
        configure: (inout InventoryConfiguration) -> Void = { _ in },
        poolSize: Int = 12,
        redisURL: String? = nil,
        _ body: (InventoryHarness) async throws -> Void
    ) async throws {
        let env = try TestEnvironment.load()
        try await env.withFreshSchema(service: "inventory", poolSize: poolSize) { config, schema in
            let migrations = try MigrationRunner.loadMigrations(
                directory: InventoryDefinition.migrationsDirectory(root: TestEnvironment.packageRoot()))
            let dbA = MySQLDatabase(primary: config, name: "inventory-test-a", logger: logger)
            let dbB = MySQLDatabase(primary: config, name: "inventory-test-b", logger: logger)
            var redisConfig = try redisURL.map { try RedisConfiguration(url: $0) } ?? env.redisConfiguration()
            redisConfig.poolSize = 16
            let redisA = RedisClient(configuration: redisConfig, logger: logger)
            let redisB = RedisClient(configuration: redisConfig, logger: logger)
            var conf = InventoryConfiguration()
            conf.redisKeyPrefix = "oms:test:\(schema):"
            conf.gateTimeout = .seconds(5)
            configure(&conf)
            let h = InventoryHarness(
                a: InventoryService(database: dbA, redis: redisA, configuration: conf, logger: logger),
                b: InventoryService(database: dbB, redis: redisB, configuration: conf, logger: logger),
                database: dbA, redis: redisA, keys: StockGateKeys(prefix: conf.redisKeyPrefix), schema: schema)
            do {
                try await MigrationRunner(pool: dbA.primary, migrations: migrations, logger: logger).run()
                try await body(h)
            } catch {
                _ = try? await h.flushGate()
                await dbA.shutdown()
                await dbB.shutdown()
                await redisA.shutdown()
                await redisB.shutdown()
                throw error
            }
            _ = try await h.flushGate()
            await dbA.shutdown()
            await dbB.shutdown()
            await redisA.shutdown()
            await redisB.shutdown()
        }
    }

    /// Deletes every gate key of this harness (the test's FLUSHALL).
    @discardableResult
    func flushGate() async throws -> Int {
        try await StockGate(redis: redis, keys: keys, timeout: .seconds(5)).deleteAllKeys()
    }

    // MARK: Setup helpers

    func product(_ sku: String, units: Int64, price: Int64 = 1999) async throws {
        let p = InventoryV1.Product(
            sku: sku, name: "Product \(sku)", price: CommonV1.Money(amountMinor: price, currency: "EUR"),
            attributesJson: #"{"brand":"Acme","category":"tools"}"#, active: true)
        _ = try await a.upsertProduct(InventoryV1.UpsertProductRequest(product: p), context: Self.context())
        if units > 0 {
            _ = try await a.adjustStock(
                InventoryV1.AdjustStockRequest(sku: sku, kind: .receive, quantity: units, reason: "test stock"),
                context: Self.context())
        }
    }

    func reserve(
        _ service: InventoryService? = nil, id: String, _ lines: [(String, Int64)], ttlMs: UInt32 = 0
    ) async throws -> InventoryV1.ReserveResponse {
        try await (service ?? a).reserve(
            InventoryV1.ReserveRequest(
                reservationID: id, lines: lines.map { InventoryV1.ReservationLine(sku: $0.0, quantity: $0.1) },
                ttlMs: ttlMs),
            context: Self.context())
    }

    // MARK: Observations

    struct StockRow: Equatable {
        var onHand: Int64
        var reserved: Int64
    }

    func stock(_ sku: String) async throws -> StockRow? {
        try await database.write { c in
            try await c.queryOne("SELECT on_hand, reserved FROM stock WHERE sku = ?", [.string(sku)]).map {
                StockRow(onHand: try $0.int64("on_hand"), reserved: try $0.int64("reserved"))
            }
        }
    }

    /// Sums of the ledger for one SKU and kind.
    func ledger(_ sku: String, kind: String) async throws -> (rows: Int64, onHand: Int64, reserved: Int64) {
        try await database.write { c in
            let r = try await c.queryOne(
                "SELECT COUNT(*) AS n, COALESCE(SUM(delta_on_hand), 0) AS oh, COALESCE(SUM(delta_reserved), 0) AS rs "
                    + "FROM stock_ledger WHERE sku = ? AND kind = ?", [.string(sku), .string(kind)])!
            return (try r.int64("n"), try r.int64("oh"), try r.int64("rs"))
        }
    }

    /// The whole ledger replayed for a SKU must equal its stock row.
    func ledgerTotals(_ sku: String) async throws -> StockRow {
        try await database.write { c in
            let r = try await c.queryOne(
                "SELECT COALESCE(SUM(delta_on_hand), 0) AS oh, COALESCE(SUM(delta_reserved), 0) AS rs "
                    + "FROM stock_ledger WHERE sku = ?", [.string(sku)])!
            return StockRow(onHand: try r.int64("oh"), reserved: try r.int64("rs"))
        }
    }

    func count(_ sql: String, _ binds: [MySQLValue] = []) async throws -> Int64 {
        try await database.write { c in try await c.queryOne(sql, binds)!.int64(0) }
    }

    /// The gate's units for a SKU (nil when the key is missing).
    func gateUnits(_ sku: String) async throws -> Int64? {
        try await redis.send(RedisCommand("GET", keys.available(sku))).int
    }

    func gateHolds(_ sku: String) async throws -> Int64 {
        try await redis.send(RedisCommand("HLEN", keys.holds(sku))).int ?? 0
    }

    /// Everything observable about a set of SKUs, for "nothing changed" checks.
    struct World: Equatable {
        var stock: [String: StockRow?]
        var gate: [String: Int64?]
        var reservations: Int64
        var ledgerRows: Int64
        var gateKeys: Int
    }

    func world(_ skus: [String]) async throws -> World {
        var stock: [String: StockRow?] = [:]
        var gate: [String: Int64?] = [:]
        for s in skus {
            stock[s] = try await self.stock(s)
            gate[s] = try await gateUnits(s)
        }
        let scan = try await redis.send(
            RedisCommand("SCAN", "0", "MATCH", StockGate.globEscaped(keys.prefix) + "*", "COUNT", 100_000))
        return World(
            stock: stock, gate: gate, reservations: try await count("SELECT COUNT(*) FROM reservations"),
            ledgerRows: try await count("SELECT COUNT(*) FROM stock_ledger"),
            gateKeys: scan.array?.last?.array?.count ?? -1)
    }
}

extension InventoryV1.ReserveResponse {
    var reservation: InventoryV1.Reservation? {
        if case .reserved(let r) = outcome { return r }
        return nil
    }

    var shortages: [InventoryV1.StockShortage]? {
        if case .outOfStock(let o) = outcome { return o.shortages }
        return nil
    }
}

/// The status code an async call threw, or nil when it succeeded.
func statusCode(_ body: () async throws -> Void) async -> RPCStatusCode? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e.code
    } catch {
        return .unknown
    }
}
