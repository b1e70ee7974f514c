import Foundation
import NIOConcurrencyHelpers
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore
import Testing

@testable import Inventory

/// Throughput figures for docs/benchmarks.md. Runs only with OMS_BENCH=1:
/// `OMS_BENCH=1 swift test --skip-build --filter InventoryBenchmark`.
@Suite("Inventory benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["OMS_BENCH"] == "1"))
struct InventoryBenchmark {
    static let concurrency = Int(ProcessInfo.processInfo.environment["OMS_BENCH_CONCURRENCY"] ?? "") ?? 32
    static let operations = Int(ProcessInfo.processInfo.environment["OMS_BENCH_OPS"] ?? "") ?? 4000
    static let skuCount = 10_000

    /// Runs `total` operations with `concurrency` workers; returns operations per second.
    static func measure(total: Int, concurrency: Int, _ op: @escaping @Sendable (Int) async throws -> Void) async throws
        -> Double
    {
        let next = NIOLockedValueBox(0)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let i = next.withLockedValue { n -> Int in
                            n += 1
                            return n - 1
                        }
                        if i >= total { return }
                        try await op(i)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - started).inSeconds
        return Double(total) / seconds
    }

    static func seed(_ h: InventoryHarness, skus: Int, units: Int64) async throws {
        try await h.database.batchedTransaction { tx in
            let now = Date()
            var rows: [[MySQLValue]] = []
            var stock: [[MySQLValue]] = []
            for i in 0..<skus {
                let sku = String(format: "B-%05d", i)
                rows.append([.string(sku), .string("Bench \(i)"), .int64(500), .string("EUR"), .json("{}"), .datetime(now), .datetime(now)])
                stock.append([.string(sku), .int64(units), .datetime(now)])
            }
            try InventoryRepository.insertRows(
                tx, "INSERT INTO products (sku, name, price_minor, currency, attributes, created_at, updated_at) VALUES ",
                columns: 7, rows: rows)
            try InventoryRepository.insertRows(
                tx, "INSERT INTO stock (sku, on_hand, updated_at) VALUES ", columns: 3, rows: stock)
        }
    }

    static func reserveCommit(_ h: InventoryHarness, _ s: InventoryService, id: String, sku: String) async throws {
        let r = try await h.reserve(s, id: id, [(sku, 1)])
        guard r.reservation != nil else { throw RPCError(.internalError, "unexpected out of stock") }
        _ = try await s.commitReservation(.init(reservationID: id, orderID: "o-\(id)"), context: InventoryHarness.context())
    }

    func run(label: String, batchSize: Int) async throws {
        let c = Self.concurrency
        let n = Self.operations
        try await InventoryHarness.run(configure: { $0.reserveBatchSize = batchSize }, poolSize: c) { h in
            try await Self.seed(h, skus: Self.skuCount, units: 1_000_000)
            let svc = [h.a, h.b]
            // Warm the gate keys outside the measurement.
            _ = try await Self.measure(total: Self.skuCount, concurrency: c) { i in
                let sku = String(format: "B-%05d", i)
                _ = try await h.a.reserve(.init(reservationID: "warm-\(i)", lines: [.init(sku: sku, quantity: 1)]), context: InventoryHarness.context())
            }
            let spread = try await Self.measure(total: n, concurrency: c) { i in
                let sku = String(format: "B-%05d", Int.random(in: 0..<Self.skuCount))
                try await Self.reserveCommit(h, svc[i % 2], id: "s-\(i)", sku: sku)
            }
            let hot = try await Self.measure(total: n, concurrency: c) { i in
                try await Self.reserveCommit(h, svc[i % 2], id: "h-\(i)", sku: "B-00000")
            }
            let hotReserve = try await Self.measure(total: n, concurrency: c) { i in
                let r = try await h.reserve(svc[i % 2], id: "hr-\(i)", [("B-00003", 1)])
                guard r.reservation != nil else { throw RPCError(.internalError, "unexpected out of stock") }
            }
            let spreadReserve = try await Self.measure(total: n, concurrency: c) { i in
                let sku = String(format: "B-%05d", Int.random(in: 4..<Self.skuCount))
                let r = try await h.reserve(svc[i % 2], id: "sr-\(i)", [(sku, 1)])
                guard r.reservation != nil else { throw RPCError(.internalError, "unexpected out of stock") }
            }
            let bareHot = try await Self.measure(total: n, concurrency: c) { _ in
                try await h.database.write { conn in
                    _ = try await conn.execute(
                        "UPDATE stock SET reserved = reserved + 1 WHERE sku = ? AND on_hand - reserved >= ?",
                        [.string("B-00001"), .int64(1)])
                }
            }
            let bareSpread = try await Self.measure(total: n, concurrency: c) { _ in
                let sku = String(format: "B-%05d", Int.random(in: 2..<Self.skuCount))
                try await h.database.write { conn in
                    _ = try await conn.execute(
                        "UPDATE stock SET reserved = reserved + 1 WHERE sku = ? AND on_hand - reserved >= ?",
                        [.string(sku), .int64(1)])
                }
            }
            // Sold out: SET the hot SKU to 0 available, then hammer it.
            try await h.product("SOLDOUT", units: 0)
            _ = try await h.reserve(id: "x-warm", [("SOLDOUT", 1)])
            let rejections = try await Self.measure(total: n * 4, concurrency: c) { i in
                let r = try await h.reserve(svc[i % 2], id: "x-\(i)", [("SOLDOUT", 1)])
                guard r.shortages != nil else { throw RPCError(.internalError, "sold-out SKU reserved") }
            }
            let line = String(
                format: "BENCH %@ concurrency=%d ops=%d | reserve+commit 10k SKUs: %.0f/s | hot SKU: %.0f/s | "
                    + "reserve only hot SKU: %.0f/s | reserve only 10k SKUs: %.0f/s | "
                    + "bare UPDATE hot row: %.0f/s | bare UPDATE 10k SKUs: %.0f/s | sold-out rejections: %.0f/s",
                label, c, n, spread, hot, hotReserve, spreadReserve, bareHot, bareSpread, rejections)
            print(line)
        }
    }

    @Test func coalescingOn() async throws { try await run(label: "batch=64", batchSize: 64) }
    @Test func coalescingOff() async throws { try await run(label: "batch=1", batchSize: 1) }
}
