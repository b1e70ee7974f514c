import Foundation
import OMSAPI
import OMSClient
import OMSLoadgenCore

/// The fulfilment stream of the mixed workload (`--fulfil-fraction`) and the replay pass after the recovery
/// window (`--replay-sample`).
extension SuiteDriver {
    /// Runs operation `index` of a mixed plan, with its fulfilment stream.
    func perform(_ plan: MixedPlan, index: Int, due: ContinuousClock.Instant, stats: LoadStats) async {
        await perform(plan.operation(index), index: index, due: due, stats: stats, fulfilment: plan.fulfilment(of:))
    }

    func shipmentKey(_ index: Int) -> String { "\(prefix)ship\(index)" }
    func returnKey(_ index: Int) -> String { "\(prefix)ret\(index)" }

    /// The operation index of one of this run's checkout keys.
    func index(ofKey key: String) -> Int? {
        key.hasPrefix(prefix + "k") ? Int(key.dropFirst(prefix.count + 1)) : nil
    }

    /// Ships a placed order as planned (CreateShipment → MarkLabelCreated → MarkShipped; the capture and the
    /// order's record follow through the shipments outbox), then requests the planned return through orders
    /// (refund and restock follow through the orders outbox). Every call is idempotent (keyed by the operation
    /// index, or a repeat of the state it asks for), so transient failures are retried; the first other failure
    /// ends this order's fulfilment and is counted by step.
    func fulfil(_ c: PlannedCheckout, orderID: String, plan: PlannedFulfilment, stats: LoadStats) async {
        let clients = client(c.index)
        let options = CallOptions(timeout: timeout)
        stats.recordFulfilment { $0.orders += 1 }
        var step = "get_order"
        do {
            let order = try await Self.retryingTransient {
                try await clients.orders.getOrder(OrdersV1.GetOrderRequest(orderID: orderID), options: options)
            }.order
            // Cart line i is the order line of its SKU.
            let lineIDs = try c.lines.map { line in
                guard let l = order?.lines.first(where: { $0.sku == skus[line.skuIndex] }) else {
                    throw LoadgenError("order \(orderID) has no line of \(skus[line.skuIndex])")
                }
                return l.lineID
            }
            step = "create_shipment"
            let created = try await Self.retryingTransient {
                try await clients.shipments.createShipment(
                    ShipmentsV1.CreateShipmentRequest(
                        idempotencyKey: shipmentKey(c.index), orderID: orderID, warehouse: "wh-1",
                        lines: zip(lineIDs, plan.shipped).map { ShipmentsV1.ShipmentLine(lineID: $0, quantity: $1) }),
                    options: options)
            }
            guard let shipmentID = created.shipment?.shipmentID else { throw LoadgenError("no shipment in the answer") }
            step = "mark_label_created"
            _ = try await Self.retryingTransient {
                try await clients.shipments.markLabelCreated(
                    ShipmentsV1.MarkLabelCreatedRequest(shipmentID: shipmentID), options: options)
            }
            step = "mark_shipped"
            _ = try await Self.retryingTransient {
                try await clients.shipments.markShipped(ShipmentsV1.MarkShippedRequest(shipmentID: shipmentID), options: options)
            }
            stats.recordFulfilment {
                $0.shipped += 1
                $0.unitsShipped += plan.shipped.reduce(0, +)
            }
            guard plan.hasReturn else { return }
            let lines = zip(lineIDs, plan.returned).filter { $0.1 > 0 }.map { OrdersV1.ReturnLine(lineID: $0, quantity: $1) }
            step = "await_shipped"
            try await awaitShipped(orderID: orderID, lines: lines, clients: clients)
            step = "request_return"
            _ = try await Self.retryingTransient {
                try await clients.orders.requestReturn(
                    OrdersV1.RequestReturnRequest(
                        orderID: orderID, returnID: returnKey(c.index), lines: lines, reason: "oms-loadgen return"),
                    options: options)
            }
            stats.recordFulfilment {
                $0.returns += 1
                $0.unitsReturned += plan.returned.reduce(0, +)
            }
        } catch {
            let code = (error as? RPCError).map { "\($0.code)" } ?? "\(type(of: error))"
            stats.recordFulfilment { $0.errors["\(step)/\(code)", default: 0] += 1 }
        }
    }

    /// Orders refuses a return until it has recorded the shipment (RecordShipment from the shipments outbox):
    /// waits up to 60 s for the lines to show the units shipped.
    private func awaitShipped(orderID: String, lines: [OrdersV1.ReturnLine], clients: OMSClients) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let order = try? await clients.orders.getOrder(
                OrdersV1.GetOrderRequest(orderID: orderID), options: CallOptions(timeout: timeout)
            ).order
            let ready = lines.allSatisfy { want in
                (order?.lines.first { $0.lineID == want.lineID }?.shippedQuantity ?? 0) >= want.quantity
            }
            if ready { return }
            guard ContinuousClock.now < deadline else { throw LoadgenError("order \(orderID) never showed the shipment") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Sends the checkouts of `keys` again with the same key and request, 16 at a time, asking again (up to 10
    /// times, 1 s apart) while the answer is not final. The whole pass ends within `replayBudget`: a checkout
    /// still unfinished by then is recorded without a final answer (a violation of `replays-agree`), so a run
    /// against a suite that never finishes a checkout still ends with its audit.
    /// - Parameters:
    ///   - keys: this run's checkout keys.
    ///   - first: what the first calls answered.
    ///   - checkout: the planned checkout of an operation index.
    /// - Returns: one replay per key whose checkout the plan knows.
    /// The longest the replay pass takes.
    static let replayBudget: Duration = .seconds(90)

    func replay(
        keys: [String], first: [String: ClientOutcome], checkout: @escaping @Sendable (Int) -> PlannedCheckout
    ) async -> [ReplayFacts] {
        let scratch = LoadStats()  // the run's counters stay those of the load
        let deadline = ContinuousClock.now + Self.replayBudget
        return await withTaskGroup(of: ReplayFacts?.self) { group in
            var pending = keys[...]
            var out: [ReplayFacts] = []
            func next() {
                guard let key = pending.popFirst() else { return }
                group.addTask {
                    guard let index = index(ofKey: key) else { return nil }
                    var answer = await send(checkout(index), stats: scratch, until: deadline)
                    for _ in 0..<10 where !answer.outcome.isKnown && ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .seconds(1))
                        answer = await send(checkout(index), stats: scratch, until: deadline)
                    }
                    return ReplayFacts(
                        idempotencyKey: key, first: first[key] ?? .unknown(detail: "never answered"), replay: answer.outcome)
                }
            }
            for _ in 0..<16 { next() }
            for await r in group {
                if let r { out.append(r) }
                next()
            }
            return out
        }
    }
}
