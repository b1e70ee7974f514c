import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import OMSRedis
import OMSTestKit
import Testing

@testable import Inventory

@Suite("Inventory concurrency (real MariaDB + Redis)", .serialized)
struct ReserveConcurrencyTests {
    /// Counts finished tasks so the flush can happen mid-run without timing.
    actor Progress {
        var done = 0
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
        func finishOne() {
            done += 1
            let ready = waiters.filter { $0.0 <= done }
            waiters.removeAll { $0.0 <= done }
            for w in ready { w.1.resume() }
        }
        func wait(until n: Int) async {
            if done >= n { return }
            await withCheckedContinuation { waiters.append((n, $0)) }
        }
    }

    @Test("1,000 concurrent reserves for 100 units across two instances: exactly 100 succeed")
    func thousandReservesHundredUnits() async throws {
        try await InventoryHarness.run { h in
            try await h.product("HOT-1", units: 100)
            let progress = Progress()
            let (wins, losses, alerts) = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
                for i in 0..<1000 {
                    group.addTask {
                        let r = try await h.reserve(i % 2 == 0 ? h.a : h.b, id: "hot-\(i)", [("HOT-1", 1)])
                        await progress.finishOne()
                        return r.reservation != nil ? (1, 0, 0) : (0, r.shortages != nil ? 1 : 0, 0)
                    }
                }
                // Reconciliation under load must not raise alarms.
                group.addTask {
                    var alerts = 0
                    for n in [100, 400, 800] {
                        await progress.wait(until: n)
                        let report = try await h.a.reconcile(skus: ["HOT-1"], dryRun: true)
                        alerts += report.drifts.filter(\.alerted).count
                    }
                    return (0, 0, alerts)
                }
                var totals = (0, 0, 0)
                for try await r in group {
                    totals.0 += r.0
                    totals.1 += r.1
                    totals.2 += r.2
                }
                return totals
            }
            #expect(wins == 100)
            #expect(losses == 900)
            #expect(alerts == 0)
            #expect(try await h.stock("HOT-1") == .init(onHand: 100, reserved: 100))
            #expect(try await h.count("SELECT COUNT(*) FROM reservations WHERE state = 'held'") == 100)
            let ledger = try await h.ledger("HOT-1", kind: "reserve")
            #expect(ledger.rows == 100)
            #expect(ledger.reserved == 100)
            #expect(try await h.ledgerTotals("HOT-1") == .init(onHand: 100, reserved: 100))
            #expect(try await h.gateUnits("HOT-1") == 0)
            #expect(try await h.gateHolds("HOT-1") == 0)
            let report = try await h.b.reconcile(skus: ["HOT-1"], dryRun: true)
            #expect(report.drifts.isEmpty)

            // Commit every winner concurrently, twice, through both instances (batched commits).
            let held = try await h.database.write { c in
                try await c.query("SELECT id FROM reservations WHERE state = 'held'").map { try $0.string("id") }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, id) in (held + held).enumerated() {
                    group.addTask {
                        let r = try await (n % 2 == 0 ? h.a : h.b).commitReservation(
                            .init(reservationID: id, orderID: "order-\(id)"), context: InventoryHarness.context())
                        #expect(r.reservation?.state == .committed)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await h.stock("HOT-1") == .init(onHand: 0, reserved: 0))
            #expect(try await h.ledger("HOT-1", kind: "commit").rows == 100)
            #expect(try await h.ledgerTotals("HOT-1") == .init(onHand: 0, reserved: 0))
            #expect(try await h.count("SELECT COUNT(*) FROM reservations WHERE state = 'committed' AND order_id IS NOT NULL") == 100)
            #expect(try await h.gateUnits("HOT-1") == 0)
        }
    }

    @Test("Gate keys deleted (FLUSH of the prefix) mid-run: no oversell, ledger agrees, reconcile repairs")
    func flushMidRun() async throws {
        try await InventoryHarness.run { h in
            try await h.product("FL-1", units: 150)
            try await h.product("FL-2", units: 1000)
            let progress = Progress()
            let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<600 {
                    group.addTask {
                        let sku = i % 3 == 0 ? "FL-2" : "FL-1"
                        let r = try await h.reserve(i % 2 == 0 ? h.a : h.b, id: "fl-\(i)", [(sku, 1)])
                        await progress.finishOne()
                        guard r.reservation != nil else { return 0 }
                        // Release a few (of the plentiful SKU) to mix in gate returns.
                        if i % 30 == 0 {
                            _ = try await h.a.releaseReservation(
                                InventoryV1.ReleaseReservationRequest(reservationID: "fl-\(i)"),
                                context: InventoryHarness.context())
                            return 0
                        }
                        return 1
                    }
                }
                group.addTask {
                    await progress.wait(until: 200)
                    try await h.flushGate()
                    return 0
                }
                var n = 0
                for try await w in group { n += w }
                return n
            }
            let s1 = try #require(try await h.stock("FL-1"))
            let s2 = try #require(try await h.stock("FL-2"))
            #expect(s1.reserved <= s1.onHand)
            #expect(s1.reserved <= 150)
            #expect(Int64(wins) == s1.reserved + s2.reserved)
            #expect(try await h.count("SELECT COUNT(*) FROM reservations WHERE state = 'held'") == Int64(wins))
            #expect(try await h.ledgerTotals("FL-1") == s1)
            #expect(try await h.ledgerTotals("FL-2") == s2)
            // Whatever keys the flush left cold are warmed by the next Reserve (FL-1 answers sold out).
            #expect(try await h.reserve(id: "post-1", [("FL-1", 1)]).shortages != nil)
            #expect(try await h.reserve(id: "post-2", [("FL-2", 1)]).reservation != nil)
            // After one repairing run the gate equals MySQL's available exactly.
            let s2After = try #require(try await h.stock("FL-2"))
            #expect(s2After.reserved == s2.reserved + 1)
            let repair = try await h.a.reconcile(skus: nil, dryRun: false)
            let g1 = try await h.gateUnits("FL-1")
            let g2 = try await h.gateUnits("FL-2")
            let holds = try await h.gateHolds("FL-1") + h.gateHolds("FL-2")
            #expect(g1 == s1.onHand - s1.reserved, "\(s1) \(String(describing: g1)) holds=\(holds) \(repair)")
            #expect(g2 == s2After.onHand - s2After.reserved, "\(s2After) \(String(describing: g2)) holds=\(holds) \(repair)")
            #expect(try await h.b.reconcile(skus: nil, dryRun: true).drifts.isEmpty)
        }
    }

    @Test("A private Redis restarted mid-run (keys and scripts gone): no oversell, reconcile repairs")
    func redisRestartMidRun() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        do {
            try await InventoryHarness.run(
                configure: { $0.gateTimeout = .milliseconds(500) }, redisURL: server.url
            ) { h in
                try await h.product("RR-1", units: 200)
                let progress = Progress()
                let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<600 {
                        group.addTask {
                            let r = try await h.reserve(i % 2 == 0 ? h.a : h.b, id: "rr-\(i)", [("RR-1", 1)])
                            await progress.finishOne()
                            return r.reservation != nil ? 1 : 0
                        }
                    }
                    group.addTask {
                        await progress.wait(until: 150)
                        try await server.restart()
                        return 0
                    }
                    var n = 0
                    for try await w in group { n += w }
                    return n
                }
                let s = try #require(try await h.stock("RR-1"))
                #expect(s.reserved <= s.onHand)
                #expect(Int64(wins) == s.reserved)
                #expect(try await h.count("SELECT COUNT(*) FROM reservations WHERE state = 'held'") == Int64(wins))
                #expect(try await h.ledgerTotals("RR-1") == s)
                _ = try await h.reserve(id: "rr-post", [("RR-1", 1)])
                let after = try #require(try await h.stock("RR-1"))
                _ = try await h.a.reconcile(skus: nil, dryRun: false)
                #expect(try await h.gateUnits("RR-1") == after.onHand - after.reserved)
                #expect(try await h.b.reconcile(skus: nil, dryRun: true).drifts.isEmpty)
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("Redis unreachable: MySQL-only path, still exact")
    func redisUnreachable() async throws {
        try await InventoryHarness.run { h in
            try await h.product("NR-1", units: 10)
            var conf = h.a.configuration
            conf.gateTimeout = .milliseconds(300)
            var rc = RedisConfiguration(host: "127.0.0.1", port: 1)
            rc.connectTimeout = .milliseconds(200)
            let dead = RedisClient(configuration: rc, logger: InventoryHarness.logger)
            let service = InventoryService(
                database: h.database, redis: dead, configuration: conf, logger: InventoryHarness.logger)
            let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<40 {
                    group.addTask { try await h.reserve(service, id: "nr-\(i)", [("NR-1", 1)]).reservation != nil ? 1 : 0 }
                }
                var n = 0
                for try await w in group { n += w }
                return n
            }
            #expect(wins == 10)
            #expect(try await h.stock("NR-1") == .init(onHand: 10, reserved: 10))
            let stock = try await service.getStock(
                InventoryV1.GetStockRequest(skus: ["NR-1"]), context: InventoryHarness.context())
            #expect(stock.levels.first?.source == .database)
            #expect(stock.levels.first?.available == 0)
            await dead.shutdown()
        }
    }
}
