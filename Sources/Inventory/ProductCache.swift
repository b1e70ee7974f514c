import Foundation
import NIOConcurrencyHelpers

/// Recently read products, for `GetProduct` (every checkout prices its lines with it, and a sale's
/// popular SKUs are asked for over and over).
///
/// Entries live `ttl` (the `product-cache-ttl` setting, default 1 s; 0 turns the cache off). An
/// `UpsertProduct` through this process drops its SKU at once; another process's upsert is seen
/// after at most `ttl` — the same kind of staleness a read replica already gives `GetProduct`.
/// Unknown SKUs are not cached, so a product created anywhere is found at once. Bounded: past
/// `capacity` entries the cache starts over.
final class ProductCache: Sendable {
    private struct Entry {
        var product: ProductRecord
        var expires: ContinuousClock.Instant
    }

    private let ttl: Duration
    private let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    /// - Parameters:
    ///   - ttl: how long an entry is served; zero disables the cache.
    ///   - capacity: most entries kept.
    init(ttl: Duration, capacity: Int = 100_000) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The product if read within `ttl`.
    func get(_ sku: String, now: ContinuousClock.Instant = .now) -> ProductRecord? {
        guard ttl > .zero else { return nil }
        return entries.withLockedValue { e in
            guard let hit = e[sku] else { return nil }
            if hit.expires <= now {
                e[sku] = nil
                return nil
            }
            return hit.product
        }
    }

    /// Remembers a product just read from MySQL.
    func put(_ product: ProductRecord, now: ContinuousClock.Instant = .now) {
        guard ttl > .zero else { return }
        entries.withLockedValue { e in
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[product.sku] = Entry(product: product, expires: now + ttl)
        }
    }

    /// Forgets a SKU (after this process changed it).
    func invalidate(_ sku: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: sku) }
    }
}
