import Foundation
import Logging
import OMSAPI
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSServiceKit
import OMSTestKit
import Testing

@testable import Shipments

/// A migrated fresh `oms_shipments_t…` schema with the service over fakes.
struct Harness: Sendable {
    let database: MySQLDatabase
    let service: ShipmentsService
    let orders: FakeOrders
    let payments: FakePayments
    let clock: TestClock
    let logger: Logger

    static func with(_ body: (Harness) async throws -> Void) async throws {
        let env = try TestEnvironment.load()
        try await env.withFreshSchema(service: "shipments", poolSize: 6) { config, _ in
            var logger = Logger(label: "shipments-test")
            logger.logLevel = .warning
            let database = MySQLDatabase(primary: config, name: "shipments-test", logger: logger)
            do {
                let dir = ShipmentsDefinition.migrationsDirectory(root: TestEnvironment.packageRoot())
                try await MigrationRunner(
                    pool: database.primary, migrations: try MigrationRunner.loadMigrations(directory: dir), logger: logger
                ).run()
                let orders = FakeOrders()
                let payments = FakePayments()
                let service = ShipmentsService(
                    database: database, orders: orders, payments: payments, nodeID: 3, logger: logger)
                try await body(
                    Harness(
                        database: database, service: service, orders: orders, payments: payments, clock: TestClock(),
                        logger: logger))
                await database.shutdown()
            } catch {
                await database.shutdown()
                throw error
            }
        }
    }

    /// A relay over the harness's fakes whose clock is the harness clock.
    func relay(owner: String = "test-relay", maxAttempts: Int = 25) -> OutboxRelay {
        let clock = self.clock
        return OutboxRelay(
            database: database, orders: orders, payments: payments, owner: owner, batchSize: 50,
            maxAttempts: maxAttempts, lease: .seconds(30), maxBackoff: .seconds(60), logger: logger,
            now: { clock.now })
    }

    /// Runs relays until no row is pending, moving the clock past leases and backoffs before each run;
    /// at most `rounds` runs.
    @discardableResult
    func drainOutbox(rounds: Int = 10) async throws -> Int {
        var delivered = 0
        for _ in 0..<rounds {
            clock.advance(seconds: 120)
            delivered += try await relay().runOnce().delivered
            if try await count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0 { break }
        }
        return delivered
    }

    // MARK: Fixtures

    /// Puts a confirmed order into the fake orders service.
    @discardableResult
    func order(
        _ lines: [(String, Int64, Int64)], status: OrderFulfilmentStatus = .confirmed, currency: String = "USD"
    ) async -> OrderSnapshot {
        let id = String(Int64.random(in: 1_000_000...(1 << 60)))
        let o = OrderSnapshot(
            orderID: id, status: status, currency: currency,
            lines: lines.map { OrderLineSnapshot(lineID: $0.0, sku: "SKU-\($0.0)", quantity: $0.1, unitPriceMinor: $0.2) },
            paymentID: "pay-\(id)")
        await orders.put(o)
        return o
    }

    /// Serves one call through the service's router, as the wire does (decode, validate, handle).
    func call<Request: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, context: ServerContext
    ) async throws -> [UInt8] {
        try await service.router.serve(method, request, context: context)
    }

    func context(_ method: MethodDescriptor = ShipmentsV1.Shipments.Method.createShipment, key: String? = nil)
        -> ServerContext
    {
        var md: Metadata = [:]
        if let key { md[Metadata.Keys.idempotencyKey] = key }
        return ServerContext(method: method, metadata: md, deadline: nil, peer: "in-process")
    }

    func createRequest(_ order: OrderSnapshot, _ lines: [(String, Int64)], key: String = "", warehouse: String = "wh-1")
        -> ShipmentsV1.CreateShipmentRequest
    {
        var r = ShipmentsV1.CreateShipmentRequest()
        r.idempotencyKey = key
        r.orderID = order.orderID
        r.warehouse = warehouse
        r.lines = lines.map { ShipmentsV1.ShipmentLine(lineID: $0.0, sku: "", quantity: $0.1) }
        return r
    }

    func create(_ order: OrderSnapshot, _ lines: [(String, Int64)], key: String = "") async throws
        -> ShipmentsV1.Shipment
    {
        let r = try await service.createShipment(createRequest(order, lines, key: key), context: context())
        return try #require(r.shipment)
    }

    func label(_ id: String) async throws -> ShipmentsV1.Shipment {
        var r = ShipmentsV1.MarkLabelCreatedRequest()
        r.shipmentID = id
        return try #require(try await service.markLabelCreated(r, context: context()).shipment)
    }

    func ship(_ id: String) async throws -> ShipmentsV1.Shipment {
        var r = ShipmentsV1.MarkShippedRequest()
        r.shipmentID = id
        return try #require(try await service.markShipped(r, context: context()).shipment)
    }

    func deliver(_ id: String) async throws -> ShipmentsV1.Shipment {
        var r = ShipmentsV1.MarkDeliveredRequest()
        r.shipmentID = id
        return try #require(try await service.markDelivered(r, context: context()).shipment)
    }

    func cancel(_ id: String, reason: String = "") async throws -> ShipmentsV1.Shipment {
        var r = ShipmentsV1.CancelShipmentRequest()
        r.shipmentID = id
        r.reason = reason
        return try #require(try await service.cancelShipment(r, context: context()).shipment)
    }

    func get(_ id: String) async throws -> ShipmentsV1.Shipment {
        var r = ShipmentsV1.GetShipmentRequest()
        r.shipmentID = id
        return try #require(try await service.getShipment(r, context: context()).shipment)
    }

    /// Creates, labels and ships.
    func shipNew(_ order: OrderSnapshot, _ lines: [(String, Int64)]) async throws -> ShipmentsV1.Shipment {
        let s = try await create(order, lines)
        _ = try await label(s.shipmentID)
        return try await ship(s.shipmentID)
    }

    // MARK: Database inspection

    func count(_ sql: String, _ binds: [MySQLValue] = []) async throws -> Int64 {
        try await database.write { c in try await c.queryOne(sql, binds)?.int64(0) ?? 0 }
    }

    /// A fingerprint of every table, to show that a refused request changed nothing.
    func snapshot() async throws -> [Int64] {
        [
            try await count("SELECT COUNT(*) FROM shipments"),
            try await count("SELECT COALESCE(SUM(version), 0) FROM shipments"),
            try await count("SELECT COUNT(*) FROM shipment_lines"),
            try await count("SELECT COUNT(*) FROM shipment_tracking_events"),
            try await count("SELECT COALESCE(SUM(allocated_quantity * 1000000 + shipped_quantity * 1000 + delivered_quantity), 0) FROM order_line_allocations"),
            try await count("SELECT COUNT(*) FROM outbox"),
        ]
    }

    func allocated(_ order: OrderSnapshot, _ line: String) async throws -> Int64 {
        try await count(
            "SELECT allocated_quantity FROM order_line_allocations WHERE order_id = ? AND line_id = ?",
            [.int64(Int64(order.orderID)!), .string(line)])
    }
}

/// The status code of what `body` throws, or nil when it succeeds.
func code(_ body: () async throws -> Void) async -> RPCStatusCode? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e.code
    } catch {
        Issue.record("unexpected non-RPC error: \(error)")
        return .unknown
    }
}
