import OMSAPI
import OMSRPCCore
import Testing

@testable import Inventory

/// AdjustStock honours the `idempotency-key` metadata (real MariaDB and Redis): a repeat applies
/// nothing and returns the first result, a different request under the key is refused with 6,
/// and two services delivering the same key at once add the stock once.
@Suite("AdjustStock is idempotent on its key", .serialized)
struct AdjustStockIdempotencyTests {
    static func context(key: String) -> ServerContext {
        ServerContext(
            method: InventoryV1.Inventory.Method.adjustStock, metadata: [Metadata.Keys.idempotencyKey: key],
            deadline: nil, peer: "test")
    }

    static func receive(_ sku: String, _ units: Int64) -> InventoryV1.AdjustStockRequest {
        InventoryV1.AdjustStockRequest(sku: sku, kind: .receive, quantity: units, reason: "return", reference: "ret-1:\(sku)")
    }

    @Test("a repeated restock adds the units once and answers the first result")
    func repeatAppliesOnce() async throws {
        try await InventoryHarness.run { h in
            try await h.product("IA", units: 10)
            let first = try await h.a.adjustStock(Self.receive("IA", 3), context: Self.context(key: "ret-1:IA"))
            let again = try await h.a.adjustStock(Self.receive("IA", 3), context: Self.context(key: "ret-1:IA"))
            let other = try await h.b.adjustStock(Self.receive("IA", 3), context: Self.context(key: "ret-1:IA"))
            #expect(first == again)
            #expect(first == other)
            #expect(first.stock?.onHand == 13)
            #expect(try await h.stock("IA") == .init(onHand: 13, reserved: 0))
            #expect(try await h.ledger("IA", kind: "receive").rows == 2)  // the set-up's and this one
            // Without a key every call applies (operators' receipts), as before.
            _ = try await h.a.adjustStock(Self.receive("IA", 1), context: InventoryHarness.context())
            _ = try await h.a.adjustStock(Self.receive("IA", 1), context: InventoryHarness.context())
            #expect(try await h.stock("IA") == .init(onHand: 15, reserved: 0))
        }
    }

    @Test("the same key with a different request is refused with 6 and changes nothing")
    func differentRequestRefused() async throws {
        try await InventoryHarness.run { h in
            try await h.product("IB", units: 10)
            try await h.product("IC", units: 10)
            _ = try await h.a.adjustStock(Self.receive("IB", 2), context: Self.context(key: "k-1"))
            let before = try await h.world(["IB", "IC"])
            for request in [Self.receive("IB", 5), Self.receive("IC", 2)] {
                let code = await statusCode { _ = try await h.a.adjustStock(request, context: Self.context(key: "k-1")) }
                #expect(code == .alreadyExists)
            }
            #expect(try await h.world(["IB", "IC"]) == before)
        }
    }

    @Test("concurrent deliveries of one key through two instances add the stock once")
    func concurrentDeliveries() async throws {
        try await InventoryHarness.run { h in
            try await h.product("ID", units: 0)
            try await withThrowingTaskGroup(of: InventoryV1.AdjustStockResponse.self) { group in
                for i in 0..<16 {
                    let service = i.isMultiple(of: 2) ? h.a : h.b
                    group.addTask { try await service.adjustStock(Self.receive("ID", 4), context: Self.context(key: "dup")) }
                }
                var answers: [InventoryV1.AdjustStockResponse] = []
                for try await answer in group { answers.append(answer) }
                #expect(Set(answers.map(\.ledgerEntryID)).count == 1)
            }
            #expect(try await h.stock("ID") == .init(onHand: 4, reserved: 0))
        }
    }
}
