import Foundation
import OMSAPI
import OMSProto
import OMSRPCCore
import Testing

@testable import Inventory

@Suite("Bad input is refused with 3 and changes nothing (real MariaDB + Redis)", .serialized)
struct InventoryValidationTests {
    let ctx = InventoryHarness.context()

    static func request(_ id: String, _ lines: [(String, Int64)], ttl: UInt32 = 0) -> InventoryV1.ReserveRequest {
        InventoryV1.ReserveRequest(
            reservationID: id, lines: lines.map { InventoryV1.ReservationLine(sku: $0.0, quantity: $0.1) }, ttlMs: ttl)
    }

    static var badReserves: [(String, InventoryV1.ReserveRequest)] {
        [
            ("zero quantity", request("v-1", [("VA", 0)])),
            ("negative quantity", request("v-2", [("VA", -1)])),
            ("quantity over 1,000,000", request("v-3", [("VA", 1_000_001)])),
            ("unknown SKU", request("v-4", [("VA", 1), ("NOPE", 1)])),
            ("duplicate SKU lines", request("v-5", [("VA", 1), ("VB", 1), ("VA", 2)])),
            ("no lines", request("v-6", [])),
            ("more than 100 lines", request("v-7", (0...100).map { ("S\($0)", 1) })),
            ("empty id", request("", [("VA", 1)])),
            ("over-long id", request(String(repeating: "x", count: 129), [("VA", 1)])),
            ("control character in id", request("v\u{7}8", [("VA", 1)])),
            ("empty SKU", request("v-9", [("", 1)])),
            ("over-long SKU", request("v-10", [(String(repeating: "S", count: 65), 1)])),
            ("SKU with braces", request("v-11", [("{VA}", 1)])),
            ("ttl too short", request("v-12", [("VA", 1)], ttl: 5)),
        ]
    }

    @Test("Reserve with bad input")
    func badReserveInput() async throws {
        try await InventoryHarness.run { h in
            try await h.product("VA", units: 5)
            try await h.product("VB", units: 5)
            _ = try await h.reserve(id: "warm", [("VA", 1), ("VB", 1)])  // gate keys exist
            let before = try await h.world(["VA", "VB", "NOPE"])
            for (name, request) in Self.badReserves {
                let code = await statusCode { _ = try await h.call(InventoryV1.Inventory.Method.reserve, request, context: ctx) }
                #expect(code == .invalidArgument, "\(name)")
                // Through the router as well (the path the wire takes).
                var router = RPCRouter()
                h.b.registerMethods(with: &router)
                let handler = try #require(router.handler(for: InventoryV1.Inventory.Method.reserve.path))
                let viaRouter = await statusCode { _ = try await handler.handler(request.serializedBytes(), ctx) }
                #expect(viaRouter == .invalidArgument, "\(name) via router")
            }
            #expect(try await h.world(["VA", "VB", "NOPE"]) == before)
        }
    }

    @Test("Invalid UTF-8 in a string field is refused by the router with 3")
    func invalidUTF8() async throws {
        try await InventoryHarness.run { h in
            try await h.product("VA", units: 5)
            let before = try await h.world(["VA"])
            var router = RPCRouter()
            h.a.registerMethods(with: &router)
            // field 1 (reservation_id), length 2, bytes FF FE; field 2 (lines) with sku "VA", quantity 1.
            let payload: [UInt8] = [0x0a, 0x02, 0xff, 0xfe, 0x12, 0x06, 0x0a, 0x02, 0x56, 0x41, 0x10, 0x01]
            let reserve = try #require(router.handler(for: InventoryV1.Inventory.Method.reserve.path))
            #expect(await statusCode { _ = try await reserve.handler(payload, ctx) } == .invalidArgument)
            // A bad SKU in lines: sku bytes C3 28 (invalid sequence).
            let payload2: [UInt8] = [0x0a, 0x01, 0x78, 0x12, 0x06, 0x0a, 0x02, 0xc3, 0x28, 0x10, 0x01]
            #expect(await statusCode { _ = try await reserve.handler(payload2, ctx) } == .invalidArgument)
            let release = try #require(router.handler(for: InventoryV1.Inventory.Method.releaseReservation.path))
            #expect(await statusCode { _ = try await release.handler([0x0a, 0x01, 0x80], ctx) } == .invalidArgument)
            #expect(try await h.world(["VA"]) == before)
        }
    }

    @Test("Other requests with bad input")
    func otherBadInput() async throws {
        try await InventoryHarness.run { h in
            try await h.product("VA", units: 5)
            let before = try await h.world(["VA"])
            let codes: [(String, RPCStatusCode?)] = [
                ("commit empty id", await statusCode { _ = try await h.call(InventoryV1.Inventory.Method.commitReservation, InventoryV1.CommitReservationRequest(reservationID: ""), context: ctx) }),
                ("release long id", await statusCode {
                    _ = try await h.call(InventoryV1.Inventory.Method.releaseReservation, InventoryV1.ReleaseReservationRequest(reservationID: String(repeating: "r", count: 200)), context: ctx)
                }),
                ("extend zero ttl", await statusCode { _ = try await h.call(InventoryV1.Inventory.Method.extendReservation, InventoryV1.ExtendReservationRequest(reservationID: "x", ttlMs: 0), context: ctx) }),
                ("adjust receive 0", await statusCode {
                    _ = try await h.call(InventoryV1.Inventory.Method.adjustStock, InventoryV1.AdjustStockRequest(sku: "VA", kind: .receive, quantity: 0, reason: "r"), context: ctx)
                }),
                ("adjust no kind", await statusCode {
                    _ = try await h.call(InventoryV1.Inventory.Method.adjustStock, InventoryV1.AdjustStockRequest(sku: "VA", kind: .unspecified, quantity: 1, reason: "r"), context: ctx)
                }),
                // Found by FuzzRequestValidate: abs(Int64.min) trapped and killed the process.
                ("adjust correct by Int64.min", await statusCode {
                    _ = try await h.call(InventoryV1.Inventory.Method.adjustStock, InventoryV1.AdjustStockRequest(sku: "VA", kind: .correct, quantity: .min, reason: "r"), context: ctx)
                }),
                ("adjust no reason", await statusCode {
                    _ = try await h.call(InventoryV1.Inventory.Method.adjustStock, InventoryV1.AdjustStockRequest(sku: "VA", kind: .receive, quantity: 1, reason: ""), context: ctx)
                }),
                ("stock no skus", await statusCode { _ = try await h.call(InventoryV1.Inventory.Method.getStock, InventoryV1.GetStockRequest(skus: []), context: ctx) }),
                ("product bad currency", await statusCode {
                    _ = try await h.call(
                        InventoryV1.Inventory.Method.upsertProduct, InventoryV1.UpsertProductRequest(product: .init(sku: "VA", name: "n", price: .init(amountMinor: 1, currency: "eur"))), context: ctx)
                }),
                ("product attributes not an object", await statusCode {
                    _ = try await h.call(
                        InventoryV1.Inventory.Method.upsertProduct, InventoryV1.UpsertProductRequest(product: .init(sku: "VA", name: "n", price: .init(amountMinor: 1, currency: "EUR"), attributesJson: "[1]")),
                        context: ctx)
                }),
                ("list bad token", await statusCode { _ = try await h.call(InventoryV1.Inventory.Method.listProducts, InventoryV1.ListProductsRequest(pageToken: "!!"), context: ctx) }),
            ]
            for (name, code) in codes { #expect(code == .invalidArgument, "\(name)") }
            #expect(try await h.world(["VA"]) == before)
        }
    }
}
