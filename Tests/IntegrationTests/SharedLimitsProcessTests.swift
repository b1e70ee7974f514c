import Foundation
import OMSAPI
import OMSClient
import OMSProto
import OMSRPCCore
import OMSServiceKit
import OMSTestKit
import Testing

/// Checkout and the services it calls apply one set of field limits (`FieldLimits`): a PlaceOrder
/// whose fields are each at their limit is placed end to end, and one field past its limit is
/// refused by checkout (3, nothing recorded, nothing reserved) exactly as orders refuses it.
@Suite("Shared field limits through the real processes", .serialized)
struct SharedLimitsProcessTests {
    /// A string of `count` characters, multi-byte ones included (limits count characters).
    static func text(_ count: Int) -> String {
        String(String(repeating: "é", count: count / 2) + String(repeating: "a", count: count - count / 2))
    }

    static func addressAtLimits() -> CommonV1.Address {
        var a = CommonV1.Address()
        a.name = text(FieldLimits.maxNameLength)
        a.line1 = text(FieldLimits.maxNameLength)
        a.line2 = text(FieldLimits.maxNameLength)
        a.city = text(FieldLimits.maxCityLength)
        a.region = text(FieldLimits.maxRegionLength)
        a.postalCode = String(repeating: "9", count: FieldLimits.maxPostalCodeLength)
        a.country = "DE"
        a.phone = String(repeating: "5", count: FieldLimits.maxPhoneLength)
        return a
    }

    /// Each address field one character past its limit.
    static let overLimit: [(String, @Sendable (inout CommonV1.Address) -> Void)] = [
        ("name", { $0.name += "x" }),
        ("line1", { $0.line1 += "x" }),
        ("line2", { $0.line2 += "x" }),
        ("city", { $0.city += "x" }),
        ("region", { $0.region += "x" }),
        ("postal_code", { $0.postalCode += "9" }),
        ("phone", { $0.phone += "5" }),
    ]

    @Test("an address and customer at every limit pass checkout and orders alike; one past any limit is refused by both")
    func addressLimits() async throws {
        try await TestSuite.with(services: ["inventory", "orders", "payments", "checkout"]) { suite in
            let harness = CheckoutHarness(suite: suite)
            let sku = CheckoutHarness.sku("LIM")
            try await harness.addProduct(sku, priceMinor: 700, stock: 20)

            var request = CheckoutHarness.request(key: CheckoutHarness.key("limits"), lines: [.init(sku, 1)])
            request.shippingAddress = Self.addressAtLimits()
            request.customer?.customerID = String(repeating: "c", count: FieldLimits.maxCustomerIDLength)
            request.customer?.name = Self.text(FieldLimits.maxNameLength)
            let response = try await harness.place(request)
            guard case .placed(let placed)? = response.outcome else {
                Issue.record("at the limits: \(response)\n\(harness.logs(["checkout", "orders"]))")
                return
            }
            let order = try #require(try await getOrder(suite, placed.orderID).order)
            #expect(order.shippingAddress == Self.addressAtLimits())

            for (field, grow) in Self.overLimit {
                var address = Self.addressAtLimits()
                grow(&address)
                var over = CheckoutHarness.request(key: CheckoutHarness.key("over-\(field)"), lines: [.init(sku, 1)])
                over.shippingAddress = address
                let message = await expectCode([3], "checkout, \(field) past its limit") {
                    try await harness.place(over)
                }
                #expect(message.hasPrefix("shipping_address.\(field):"), "\(field): \(message)")
                #expect(try await harness.checkout(key: over.idempotencyKey) == nil, "\(field): nothing recorded")
                // Orders refuses the same address with the same field named.
                var create = orderRequest()
                create.shippingAddress = address
                let ordersMessage = await expectCode([3], "orders, \(field) past its limit") {
                    try await suite.clients.orders.createOrder(create)
                }
                #expect(ordersMessage == message, "\(field): checkout said '\(message)', orders '\(ordersMessage)'")
            }
            // Nothing was reserved by the refused checkouts: only the placed unit left the shelf.
            let level = try #require(try await harness.stock([sku])[sku])
            #expect(level.available == 19)
        }
    }
}
