import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

/// Process-level tests of `oms-inventory`: real executables on a fresh schema, the local MariaDB and
/// Redis (issue 6, "Tests"). No assertion is about speed.
@Suite(.serialized) struct InventoryProcessTests {
    /// 1,000 concurrent reserves of one unit each for 100 units of one SKU, split evenly across two
    /// `oms-inventory` processes sharing one schema and one Redis key prefix: exactly 100 succeed,
    /// 900 are answered out of stock, and MySQL (stock, reservations, ledger), the Redis gate and the
    /// reconciliation report agree afterwards.
    @Test func thousandReservesForHundredUnitsAcrossTwoProcesses() async throws {
        try await TestSuite.with(services: ["inventory"]) { suite in
            let first = try #require(suite.processes["inventory"])
            let port = try #require(try FreePorts.take(1).first)
            var environment = first.environment
            environment["OMS_INVENTORY_PORT"] = "\(port)"
            let second = ServiceProcess(
                service: "inventory", executable: first.executable, port: port, metricsPort: 0,
                environment: environment, logDirectory: first.logFile.deletingLastPathComponent())
            let secondClients = OMSClients(
                configuration: OMSClientConfiguration(
                    addresses: ["inventory": ("127.0.0.1", port)], authToken: suite.authToken,
                    defaultTimeout: .seconds(60)))
            do {
                try second.start()
                try await Self.waitHealthy(second, clients: secondClients)
                try await Self.run(suite: suite, first: first, second: second, secondClients: secondClients)
            } catch {
                await secondClients.close()
                await second.stop()
                throw error
            }
            await secondClients.close()
            await second.stop()
        }
    }

    /// Polls the second process's health check until SERVING (or it exits, or 60 s pass).
    static func waitHealthy(_ process: ServiceProcess, clients: OMSClients) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestKitError("second oms-inventory exited during start:\n\(process.logTail())")
            }
            if case .success(let r) = await clients.checkHealth(["inventory"], timeout: .seconds(1))["inventory"],
                r.status == .serving
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestKitError("second oms-inventory not healthy after 60 s:\n\(process.logTail())")
    }

    /// What one Reserve call ended as.
    enum Outcome: Sendable {
        case reserved
        case outOfStock
        case failed(String)
    }

    static func run(
        suite: TestSuite, first: ServiceProcess, second: ServiceProcess, secondClients: OMSClients
    ) async throws {
        let sku = "hot-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let units: Int64 = 100
        let attempts = 1_000
        let inFlight = 200

        // Catalog and stock through the API (the first process).
        var product = InventoryV1.Product()
        product.sku = sku
        product.name = "Flash sale \(sku)"
        product.price = CommonV1.Money(amountMinor: 1_999, currency: "USD")
        product.attributesJson = "{}"
        product.active = true
        var upsert = InventoryV1.UpsertProductRequest()
        upsert.product = product
        _ = try await suite.clients.inventory.upsertProduct(upsert)
        var adjust = InventoryV1.AdjustStockRequest()
        adjust.sku = sku
        adjust.kind = .receive
        adjust.quantity = units
        adjust.reason = "inventory process test"
        adjust.reference = "receive-\(sku)"
        _ = try await suite.clients.inventory.adjustStock(adjust)

        // 1,000 reserves of one unit, even ones to the first process, odd ones to the second,
        // at most `inFlight` at once.
        let clients = [suite.clients.inventory, secondClients.inventory]
        let runID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        let outcomes = await withTaskGroup(of: Outcome.self, returning: [Outcome].self) { group in
            @Sendable func reserve(_ i: Int) async -> Outcome {
                var line = InventoryV1.ReservationLine()
                line.sku = sku
                line.quantity = 1
                var request = InventoryV1.ReserveRequest()
                request.reservationID = "r-\(runID)-\(i)"
                request.lines = [line]
                request.ttlMs = 600_000
                request.reference = "inventory-process-test"
                do {
                    let response = try await clients[i % 2].reserve(request, options: CallOptions(timeout: .seconds(60)))
                    switch response.outcome {
                    case .reserved?: return .reserved
                    case .outOfStock?: return .outOfStock
                    case nil: return .failed("reserve \(i): no outcome")
                    }
                } catch {
                    return .failed("reserve \(i) (process \(i % 2 + 1)): \(error)")
                }
            }
            var results: [Outcome] = []
            var next = 0
            while next < min(inFlight, attempts) {
                let i = next
                group.addTask { await reserve(i) }
                next += 1
            }
            for await outcome in group {
                results.append(outcome)
                if next < attempts {
                    let i = next
                    group.addTask { await reserve(i) }
                    next += 1
                }
            }
            return results
        }

        var reserved = 0
        var outOfStock = 0
        var failures: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .reserved: reserved += 1
            case .outOfStock: outOfStock += 1
            case .failed(let message): failures.append(message)
            }
        }
        let logs = "--- first ---\n\(first.logTail(lines: 20))\n--- second ---\n\(second.logTail(lines: 20))"
        #expect(outcomes.count == attempts)
        #expect(failures.isEmpty, "\(failures.count) reserves failed, e.g. \(failures.prefix(5))\n\(logs)")
        #expect(reserved == Int(units), "\(reserved) reserved, expected \(units)")
        #expect(outOfStock == attempts - Int(units), "\(outOfStock) out of stock, expected \(attempts - Int(units))")
        #expect(first.isRunning && second.isRunning, "a process exited:\n\(logs)")

        // MySQL: the stock row, the reservations and the ledger.
        let pool = try suite.database("inventory")
        do {
            let stock = try await pool.queryOne("SELECT on_hand, reserved FROM stock WHERE sku = ?", [.string(sku)])
            #expect(try stock?.int64("on_hand") == units, "stock on_hand \(String(describing: stock))")
            #expect(try stock?.int64("reserved") == units, "stock reserved \(String(describing: stock))")

            let held = try await pool.queryOne(
                """
                SELECT COUNT(*) AS n, COALESCE(SUM(l.quantity), 0) AS q
                FROM reservations r JOIN reservation_lines l ON l.reservation_id = r.id
                WHERE r.state = 'held' AND r.tombstone = 0 AND l.sku = ?
                """, [.string(sku)])
            #expect(try held?.int64("n") == units, "held reservations \(String(describing: held))")
            #expect(try held?.int64("q") == units, "held units \(String(describing: held))")
            let allReservations = try await pool.queryOne("SELECT COUNT(*) AS n FROM reservations", [])
            #expect(try allReservations?.int64("n") == units, "reservation rows \(String(describing: allReservations))")

            let ledger = try await pool.queryOne(
                """
                SELECT COALESCE(SUM(delta_on_hand), 0) AS on_hand, COALESCE(SUM(delta_reserved), 0) AS reserved,
                       COALESCE(SUM(CASE WHEN kind = 'reserve' THEN delta_reserved ELSE 0 END), 0) AS reserve_delta,
                       COALESCE(SUM(CASE WHEN kind = 'reserve' THEN 1 ELSE 0 END), 0) AS reserve_rows
                FROM stock_ledger WHERE sku = ?
                """, [.string(sku)])
            #expect(try ledger?.int64("on_hand") == units, "ledger on-hand total \(String(describing: ledger))")
            #expect(try ledger?.int64("reserved") == units, "ledger reserved total \(String(describing: ledger))")
            #expect(try ledger?.int64("reserve_delta") == units, "ledger reserve deltas \(String(describing: ledger))")
            #expect(try ledger?.int64("reserve_rows") == units, "ledger reserve rows \(String(describing: ledger))")
            let last = try await pool.queryOne(
                "SELECT on_hand_after, reserved_after FROM stock_ledger WHERE sku = ? ORDER BY id DESC LIMIT 1",
                [.string(sku)])
            #expect(try last?.int64("on_hand_after") == units, "last ledger row \(String(describing: last))")
            #expect(try last?.int64("reserved_after") == units, "last ledger row \(String(describing: last))")
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            throw error
        }

        // Both processes' view through GetStock: MySQL, and the warm Redis gate.
        for (name, client) in [("first", clients[0]), ("second", clients[1])] {
            var consistent = InventoryV1.GetStockRequest()
            consistent.skus = [sku]
            consistent.consistent = true
            let database = try await client.getStock(consistent).levels.first { $0.sku == sku }
            #expect(database?.source == .database, "\(name): \(String(describing: database))")
            #expect(database?.onHand == units && database?.reserved == units && database?.available == 0,
                    "\(name): MySQL level \(String(describing: database))")

            var cached = InventoryV1.GetStockRequest()
            cached.skus = [sku]
            let gate = try await client.getStock(cached).levels.first { $0.sku == sku }
            #expect(gate?.source == .cache, "\(name): gate not warm: \(String(describing: gate))")
            #expect(gate?.available == 0, "\(name): gate level \(String(describing: gate))")
        }

        // Reconciliation (measure only, so nothing is repaired behind the test's back): no drift.
        var reconcile = InventoryV1.ReconcileRequest()
        reconcile.skus = [sku]
        reconcile.dryRun = true
        let report = try #require(try await suite.clients.inventory.reconcile(reconcile).report)
        #expect(report.skusChecked == 1, "report \(report)")
        #expect(report.drifts.isEmpty, "drift reported: \(report.drifts)")
        let events = try await suite.database("inventory").queryAndClose(
            "SELECT COUNT(*) AS n FROM reconciliation_events WHERE sku = ?", [.string(sku)])
        #expect(events == 0, "\(events) reconciliation events for \(sku)")
    }
}

extension MySQLConnectionPool {
    /// One `n` column of one row, then shuts the pool down.
    fileprivate func queryAndClose(_ sql: String, _ binds: [MySQLValue]) async throws -> Int64 {
        do {
            let n = try await queryOne(sql, binds)?.int64("n") ?? -1
            await shutdown()
            return n
        } catch {
            await shutdown()
            throw error
        }
    }
}
