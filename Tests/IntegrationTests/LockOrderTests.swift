import Foundation
import OMSAPI
import OMSClient
import OMSRPCCore
import OMSTestKit
import Testing

/// Stock rows are locked by primary key in sorted order, so carts that name the same SKUs in
/// opposite orders never deadlock. Deadlocks are retried (up to 8 times), so a lost sort would go
/// unnoticed by the results alone: the service's own count of transaction retries must stay 0.
@Suite("Lock order: multi-SKU carts in opposite orders", .serialized)
struct LockOrderTests {
    @Test("240 concurrent reserves, commits and releases of overlapping carts in opposite orders retry no transaction")
    func noDeadlocks() async throws {
        let metricsPort = try FreePorts.take(1)[0]
        try await TestSuite.with(
            services: ["inventory"], settings: ["OMS_INVENTORY_METRICS_PORT": "\(metricsPort)"]
        ) { suite in
            let harness = CheckoutHarness(suite: suite)
            let skus = (0..<6).map { _ in CheckoutHarness.sku("LOCK") }
            for sku in skus { try await harness.addProduct(sku, priceMinor: 100, stock: 100_000) }
            let before = MetricsScrape.sum(
                "oms_mysql_transaction_retries_total", in: try await MetricsScrape.text(port: metricsPort))

            let inventory = suite.clients.inventory
            // A generous deadline: the test is about lock order, not speed, and the box may be loaded.
            let options = CallOptions(timeout: .seconds(120))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<240 {
                    // Carts of 3 to 6 overlapping SKUs, half of them named in descending order.
                    let cart = Array(skus.shuffled().prefix(3 + i % 4))
                    let ordered = i.isMultiple(of: 2) ? cart.sorted() : cart.sorted(by: >)
                    let id = unique("lock")
                    group.addTask {
                        let reserved = try await inventory.reserve(
                            InventoryV1.ReserveRequest(
                                reservationID: id, lines: ordered.map { InventoryV1.ReservationLine(sku: $0, quantity: 1) },
                                ttlMs: 60_000, reference: "lock-order"), options: options)
                        guard case .reserved? = reserved.outcome else {
                            Issue.record("reserve \(id): \(reserved)")
                            return
                        }
                        if i.isMultiple(of: 3) {
                            _ = try await inventory.releaseReservation(
                                InventoryV1.ReleaseReservationRequest(reservationID: id, reason: "lock-order"), options: options)
                        } else {
                            _ = try await inventory.commitReservation(
                                InventoryV1.CommitReservationRequest(reservationID: id, orderID: "\(i + 1)"), options: options)
                        }
                    }
                    if i >= 24 { try await group.next() }
                }
                try await group.waitForAll()
            }
            let after = MetricsScrape.sum(
                "oms_mysql_transaction_retries_total", in: try await MetricsScrape.text(port: metricsPort))
            #expect(after - before == 0, "the inventory retried \(after - before) transactions (deadlocks or lock waits)")
        }
    }
}
