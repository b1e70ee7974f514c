import Foundation
import Logging
import OMSCore
import OMSMySQL
import Testing

@testable import Orders

/// Rows of `order_checkouts` written before versioned fingerprints still answer their repeats.
@Suite("Orders: stored legacy fingerprints", .serialized)
struct OrdersLegacyFingerprintTests {
    private func order(checkout: String, quantity: Int32 = 2) -> NewOrder {
        var o = NewOrder(
            checkoutID: checkout, customer: OrderCustomer(id: "cust-1", name: "Ann Lee", email: "ann@example.org"),
            currency: "EUR",
            lines: [
                NewOrderLine(
                    sku: "SKU-1", productName: "Blue Teapot", quantity: quantity, unitPriceMinor: 1500,
                    attributesJSON: "{}")
            ],
            shippingAddressJSON: #"{"city":"Paris","country":"FR","line1":"1 Rue de Rivoli","name":"Ann Lee"}"#,
            metadataJSON: "{}")
        o.reservationID = "res-1"
        return o
    }

    @Test func newRowsStoreTheVersionedForm() async throws {
        let db = try await OrdersTestDatabase.make()
        do {
            let core = OrdersCore(database: db.database, ids: OrderIDGenerator(node: 1), logger: Logger(label: "t"))
            let o = order(checkout: "co-new")
            _ = try await core.create(o)
            let stored = try await db.database.primary.queryOne(
                "SELECT request_hash FROM order_checkouts WHERE checkout_id = ?", [.string("co-new")])?
                .string("request_hash")
            #expect(stored == OrdersCore.fingerprint(o).value)
            #expect(stored.map(RequestFingerprint.isCurrent) == true)
        } catch {
            await db.drop()
            throw error
        }
        await db.drop()
    }

    @Test func legacyRowReplaysTheSameRequestAndRefusesAnother() async throws {
        let db = try await OrdersTestDatabase.make()
        do {
            let core = OrdersCore(database: db.database, ids: OrderIDGenerator(node: 1), logger: Logger(label: "t"))
            let o = order(checkout: "co-legacy")
            let first = try await core.create(o)
            // Rewrite the row as the old code stored it.
            let legacy = LegacyFingerprint.orders(o)
            #expect(!RequestFingerprint.isCurrent(legacy) && legacy.count == 64)
            try await db.database.primary.withConnection { c in
                try await c.execute(
                    "UPDATE order_checkouts SET request_hash = ? WHERE checkout_id = ?",
                    [.string(legacy), .string("co-legacy")])
            }
            let again = try await core.create(o)
            #expect(!again.created)
            #expect(again.order.id == first.order.id)
            await expectCode(.alreadyExists) { _ = try await core.create(order(checkout: "co-legacy", quantity: 3)) }
            #expect(try await db.count("SELECT COUNT(*) FROM orders") == 1)
        } catch {
            await db.drop()
            throw error
        }
        await db.drop()
    }

    @Test func legacyDigestIsUnchanged() {
        // The old computation, pinned: a drift would stop old rows from matching their repeats.
        #expect(LegacyFingerprint.orders(order(checkout: "co-1")) == Self.legacyVector)
    }

    /// Computed independently of the Swift code (FNV-1a-64 over the `|`-joined text, both seeds).
    private static let legacyVector = "08c45677a9a006002ead9d9540332c4b00000000000000000000000000000000"
}
