import Foundation
import OMSAPI
import Testing

@testable import Inventory

@Suite("Product cache")
struct ProductCacheTests {
    static func product(_ sku: String, price: Int64 = 100) -> ProductRecord {
        ProductRecord(
            sku: sku, name: "N", priceMinor: price, currency: "EUR", attributesJSON: "{}", active: true, version: 1,
            createdAt: Date(), updatedAt: Date())
    }

    @Test func servesWithinTheTTLOnly() {
        let cache = ProductCache(ttl: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(cache.get("A", now: t0) == nil)
        cache.put(Self.product("A"), now: t0)
        #expect(cache.get("A", now: t0 + .milliseconds(999))?.sku == "A")
        #expect(cache.get("A", now: t0 + .seconds(1)) == nil)
        #expect(cache.get("A", now: t0) == nil, "an expired entry is dropped")
    }

    @Test func invalidateAndCapacityAndOff() {
        let cache = ProductCache(ttl: .seconds(60), capacity: 2)
        cache.put(Self.product("A"))
        cache.put(Self.product("B"))
        cache.invalidate("A")
        #expect(cache.get("A") == nil && cache.get("B") != nil)
        cache.put(Self.product("C"))
        cache.put(Self.product("D"))  // full: starts over
        #expect(cache.get("B") == nil && cache.get("C") == nil && cache.get("D") != nil)
        let off = ProductCache(ttl: .zero)
        off.put(Self.product("A"))
        #expect(off.get("A") == nil)
    }

    @Test func anUpsertThroughTheSameProcessIsSeenAtOnce() async throws {
        let ctx = InventoryHarness.context()
        try await InventoryHarness.run { h in
            try await h.product("PC-1", units: 0, price: 100)
            var p = try #require(try await h.a.getProduct(.init(sku: "PC-1"), context: ctx).product)
            p.price = CommonV1.Money(amountMinor: 250, currency: "EUR")
            _ = try await h.a.upsertProduct(.init(product: p), context: ctx)
            #expect(try await h.a.getProduct(.init(sku: "PC-1"), context: ctx).product?.price?.amountMinor == 250)
            // Unknown SKUs are not cached: a product created elsewhere is found at once.
            #expect(await statusCode { _ = try await h.a.getProduct(.init(sku: "PC-2"), context: ctx) } == .notFound)
            try await h.product("PC-2", units: 0, price: 7)
            #expect(try await h.b.getProduct(.init(sku: "PC-2"), context: ctx).product?.price?.amountMinor == 7)
        }
    }
}
