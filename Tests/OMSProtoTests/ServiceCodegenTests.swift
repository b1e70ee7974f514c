import Testing
import OMSAPI

/// The generated service protocol, router registration and client, over an in-process transport.
@Suite struct ServiceCodegenTests {
    struct FakeInventory: InventoryV1.InventoryService {
        func upsertProduct(_ request: InventoryV1.UpsertProductRequest, context: ServerContext) async throws
            -> InventoryV1.UpsertProductResponse { .init(product: request.product, created: true) }
        func getProduct(_ request: InventoryV1.GetProductRequest, context: ServerContext) async throws
            -> InventoryV1.GetProductResponse { throw RPCError.notFound("no product \(request.sku)") }
        func listProducts(_ request: InventoryV1.ListProductsRequest, context: ServerContext) async throws
            -> InventoryV1.ListProductsResponse { .init() }
        func adjustStock(_ request: InventoryV1.AdjustStockRequest, context: ServerContext) async throws
            -> InventoryV1.AdjustStockResponse { .init() }
        func getStock(_ request: InventoryV1.GetStockRequest, context: ServerContext) async throws
            -> InventoryV1.GetStockResponse { .init() }
        func reserve(_ request: InventoryV1.ReserveRequest, context: ServerContext) async throws
            -> InventoryV1.ReserveResponse {
            if request.lines.contains(where: { $0.quantity > 10 }) {
                return .init(outcome: .outOfStock(.init(shortages: [.init(sku: request.lines[0].sku, requested: 11)])))
            }
            return .init(outcome: .reserved(.init(reservationID: request.reservationID, lines: request.lines, state: .held)))
        }
        func commitReservation(_ request: InventoryV1.CommitReservationRequest, context: ServerContext) async throws
            -> InventoryV1.CommitReservationResponse { .init() }
        func releaseReservation(_ request: InventoryV1.ReleaseReservationRequest, context: ServerContext) async throws
            -> InventoryV1.ReleaseReservationResponse { .init() }
        func extendReservation(_ request: InventoryV1.ExtendReservationRequest, context: ServerContext) async throws
            -> InventoryV1.ExtendReservationResponse { .init() }
        func reconcile(_ request: InventoryV1.ReconcileRequest, context: ServerContext) async throws
            -> InventoryV1.ReconcileResponse { .init() }
    }

    /// Calls straight into a router, as the real transport does after framing.
    struct InProcessTransport: RPCClientTransport {
        let router: RPCRouter
        func unary(method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> [UInt8] {
            guard let entry = router.handler(for: method.path) else { throw RPCError(.unimplemented, method.path) }
            let context = ServerContext(method: entry.descriptor, metadata: options.metadata, deadline: nil, peer: "test")
            return try await entry.handler(request, context)
        }
    }

    @Test func descriptors() {
        #expect(InventoryV1.Inventory.Method.reserve.path == "/oms.inventory.v1.Inventory/Reserve")
        #expect(InventoryV1.Inventory.Method.reserve.idempotent)
        #expect(InventoryV1.Inventory.Method.getProduct.idempotent)
        #expect(!InventoryV1.Inventory.Method.adjustStock.idempotent)
        #expect(InventoryV1.Inventory.Method.all.count == 10)
        #expect(HealthV1.Health.Method.check.path == "/oms.health.v1.Health/Check")
        #expect(PaymentsV1.Payments.Method.voidAuthorization.method == "VoidAuthorization")
        #expect(CheckoutV1.Checkout.Method.placeOrder.idempotent)
        #expect(OrdersV1.Orders.name == "oms.orders.v1.Orders")
        #expect(ShipmentsV1.Shipments.Method.all.allSatisfy { $0.service == "oms.shipments.v1.Shipments" })
    }

    @Test func clientAndServerThroughRouter() async throws {
        var router = RPCRouter()
        FakeInventory().registerMethods(with: &router)
        #expect(router.handlers.count == InventoryV1.Inventory.Method.all.count)
        let client = InventoryV1.InventoryClient(transport: InProcessTransport(router: router))

        let reserved = try await client.reserve(.init(reservationID: "r1", lines: [.init(sku: "A", quantity: 2)]))
        #expect(reserved.outcome == .reserved(.init(reservationID: "r1", lines: [.init(sku: "A", quantity: 2)], state: .held)))
        let short = try await client.reserve(.init(reservationID: "r2", lines: [.init(sku: "B", quantity: 11)]))
        guard case .outOfStock(let out) = short.outcome else {
            Issue.record("expected out of stock")
            return
        }
        #expect(out.shortages.map(\.sku) == ["B"])

        await #expect(throws: RPCError.self) { try await client.getProduct(.init(sku: "X")) }
    }

    @Test func undecodablePayloadIsInvalidArgument() async throws {
        var router = RPCRouter()
        FakeInventory().registerMethods(with: &router)
        let handler = try #require(router.handler(for: "/oms.inventory.v1.Inventory/Reserve"))
        let context = ServerContext(method: handler.descriptor, metadata: [:], deadline: nil, peer: "test")
        do {
            _ = try await handler.handler([0x0a, 0x05], context)
            Issue.record("expected an error")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
        }
    }
}
