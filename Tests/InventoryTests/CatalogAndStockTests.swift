import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Inventory

@Suite("Catalog and stock adjustments (real MariaDB + Redis)", .serialized)
struct CatalogAndStockTests {
    let ctx = InventoryHarness.context()

    @Test func productsUpsertGetListWithVersions() async throws {
        try await InventoryHarness.run { h in
            for i in 0..<5 { try await h.product("P-\(i)", units: 0, price: 100 + Int64(i)) }
            let got = try await h.b.getProduct(.init(sku: "P-3"), context: ctx).product
            #expect(got?.price == CommonV1.Money(amountMinor: 103, currency: "EUR"))
            #expect(got?.version == 1)
            var p = try #require(got)
            p.name = "Renamed"
            let up = try await h.a.upsertProduct(.init(product: p), context: ctx)
            #expect(up.created == false)
            #expect(up.product?.version == 2)
            // Stale version: 10 ABORTED, nothing changes.
            #expect(await statusCode { _ = try await h.a.upsertProduct(.init(product: p), context: ctx) } == .aborted)
            #expect(try await h.a.getProduct(.init(sku: "P-3"), context: ctx).product?.name == "Renamed")
            #expect(await statusCode { _ = try await h.a.getProduct(.init(sku: "P-404"), context: ctx) } == .notFound)
            var seen: [String] = []
            var token = ""
            repeat {
                let page = try await h.a.listProducts(.init(pageSize: 2, pageToken: token), context: ctx)
                seen += page.products.map(\.sku)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen == (0..<5).map { "P-\($0)" })
            // Generated JSON columns are indexed and usable.
            #expect(try await h.count("SELECT COUNT(*) FROM products WHERE brand = 'Acme'") == 5)
        }
    }

    @Test func concurrentCreationsOfNewSKUsAllSucceed() async throws {
        try await InventoryHarness.run { h in
            // 24 new SKUs created at once through two services, each SKU twice: every call succeeds
            // (no deadlock surfacing as ABORTED), each SKU exists once with one stock row and one
            // `create` ledger row.
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<48 {
                    let service = i % 2 == 0 ? h.a : h.b
                    let sku = "NEW-\(i / 2)"
                    group.addTask {
                        var p = InventoryV1.Product()
                        p.sku = sku
                        p.name = "New \(sku)"
                        p.price = CommonV1.Money(amountMinor: 100, currency: "EUR")
                        p.attributesJson = "{}"
                        p.active = true
                        return try await service.upsertProduct(.init(product: p), context: InventoryHarness.context()).created
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.count == 48)
            #expect(results.filter { $0 }.count == 24, "each SKU created exactly once")
            #expect(try await h.count("SELECT COUNT(*) FROM products WHERE sku LIKE 'NEW-%'") == 24)
            #expect(try await h.count("SELECT COUNT(*) FROM stock WHERE sku LIKE 'NEW-%'") == 24)
            #expect(try await h.count("SELECT COUNT(*) FROM stock_ledger WHERE sku LIKE 'NEW-%' AND kind = 'create'") == 24)
        }
    }

    @Test func adjustmentsWriteLedgerAndMoveTheGate() async throws {
        try await InventoryHarness.run { h in
            try await h.product("AD-1", units: 10)
            _ = try await h.reserve(id: "ad-r", [("AD-1", 4)])
            #expect(try await h.gateUnits("AD-1") == 6)
            let r = try await h.a.adjustStock(.init(sku: "AD-1", kind: .receive, quantity: 5, reason: "PO-7"), context: ctx)
            #expect(r.stock?.onHand == 15)
            #expect(!r.ledgerEntryID.isEmpty)
            #expect(try await h.gateUnits("AD-1") == 11)
            _ = try await h.b.adjustStock(.init(sku: "AD-1", kind: .correct, quantity: -3, reason: "count"), context: ctx)
            #expect(try await h.gateUnits("AD-1") == 8)
            // Below the reserved units: 9, nothing changes.
            #expect(await statusCode {
                _ = try await h.a.adjustStock(.init(sku: "AD-1", kind: .set, quantity: 3, reason: "count"), context: ctx)
            } == .failedPrecondition)
            _ = try await h.a.adjustStock(.init(sku: "AD-1", kind: .set, quantity: 4, reason: "count"), context: ctx)
            #expect(try await h.stock("AD-1") == .init(onHand: 4, reserved: 4))
            #expect(try await h.gateUnits("AD-1") == 0)
            #expect(await statusCode {
                _ = try await h.a.adjustStock(.init(sku: "NOPE", kind: .receive, quantity: 1, reason: "x"), context: ctx)
            } == .notFound)
            #expect(try await h.ledgerTotals("AD-1") == .init(onHand: 4, reserved: 4))
            let stock = try await h.a.getStock(.init(skus: ["AD-1", "NOPE"]), context: ctx)
            #expect(stock.levels.map(\.available) == [0])
            #expect(stock.levels.first?.source == .cache)
            #expect(stock.unknownSkus == ["NOPE"])
            let consistent = try await h.a.getStock(.init(skus: ["AD-1"], consistent: true), context: ctx)
            #expect(consistent.levels.first?.onHand == 4 && consistent.levels.first?.source == .database)
            // The ledger is append-only.
            await #expect(throws: (any Error).self) {
                try await h.database.write { c in _ = try await c.execute("DELETE FROM stock_ledger") }
            }
        }
    }
}
