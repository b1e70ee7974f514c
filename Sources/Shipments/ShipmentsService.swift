import Foundation
import Logging
import Metrics
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSServiceKit

/// The shipments service (`oms.shipments.v1.Shipments`): creates shipments from confirmed orders, moves them
/// through their lifecycle, and hands the cross-service effects (capture on shipment, order records) to the
/// transactional outbox relayed by `OutboxRelay`.
///
/// Every state change runs in one transaction that updates the shipment under its `version`, writes a
/// tracking event, adjusts the per-order-line allocation rows (locked by primary key in ascending order) and
/// writes the outbox rows. See docs/shipments.md.
public final class ShipmentsService: ShipmentsV1.ShipmentsService {
    let database: MySQLDatabase
    let orders: any OrdersPort
    let payments: any PaymentsPort
    let logger: Logger
    let carrier: any Carrier
    let ids: ShipmentIDGenerator
    let repository = ShipmentsRepository()
    /// Reruns of a state change after an optimistic-lock conflict before answering 10 ABORTED.
    let maxVersionRetries = 8

    /// Creates the service.
    /// - Parameters:
    ///   - database: the `oms_shipments` database (migrated).
    ///   - orders: the orders service.
    ///   - payments: the payments service.
    ///   - nodeID: node id for shipment ids (0...1023); nil picks one at random.
    ///   - logger: logger.
    ///   - carrier: issues tracking numbers when MarkLabelCreated names no other carrier.
    public init(
        database: MySQLDatabase, orders: any OrdersPort, payments: any PaymentsPort, nodeID: Int?,
        logger: Logger, carrier: any Carrier = SandboxCarrier()
    ) {
        self.database = database
        self.orders = orders
        self.payments = payments
        self.logger = logger
        self.carrier = carrier
        ids = ShipmentIDGenerator(node: nodeID ?? Int.random(in: 0..<1024))
    }

    // MARK: CreateShipment

    /// Creates a pending shipment of some of an order's lines. Idempotent on `idempotency_key` (or the
    /// `idempotency-key` metadata): the same key and request answer the first shipment; the same key with a
    /// different request is 6 ALREADY_EXISTS.
    /// - Throws: `RPCError`: 3 bad input or a line the order does not have; 5 unknown order; 9 order not
    ///   shippable or more units than are left to ship; 14 orders unavailable.
    public func createShipment(
        _ request: ShipmentsV1.CreateShipmentRequest, context: ServerContext
    ) async throws -> ShipmentsV1.CreateShipmentResponse {
        let orderID = try ShipmentsValidation.id(request.orderID, field: "order_id")
        let key: String? = {
            if !request.idempotencyKey.isEmpty { return request.idempotencyKey }
            if let k = context.idempotencyKey, !k.isEmpty { return k }
            return nil
        }()
        if let key, key != request.idempotencyKey {
            try ShipmentsValidation.identifier(
                key, field: "idempotency-key metadata", max: ShipmentsValidation.maxIdempotencyKeyLength)
        }
        let fingerprint = Self.fingerprint(request)
        var log = logger
        log[metadataKey: "order_id"] = "\(orderID)"
        if let rid = context.requestID { log[metadataKey: "request_id"] = "\(rid)" }

        if let key, let existing = try await existingShipment(key: key, fingerprint: fingerprint) {
            return ShipmentsV1.CreateShipmentResponse(shipment: existing.proto)
        }

        let order = try await fetchOrder(request.orderID)
        guard order.status.acceptsShipments else {
            throw RPCError.failedPrecondition(
                "order \(request.orderID) is \(order.status.rawValue); only confirmed or partially shipped orders ship")
        }
        guard !order.paymentID.isEmpty else {
            throw RPCError.failedPrecondition("order \(request.orderID) has no payment to capture from")
        }
        let orderLines = Dictionary(order.lines.map { ($0.lineID, $0) }, uniquingKeysWith: { a, _ in a })
        var lines: [StoredShipmentLine] = []
        var amount: Int64 = 0
        for (i, line) in request.lines.enumerated() {
            guard let ordered = orderLines[line.lineID] else {
                throw RPCError.invalidArgument("lines[\(i)].line_id: order \(request.orderID) has no line \(line.lineID)")
            }
            if !line.sku.isEmpty, line.sku != ordered.sku {
                throw RPCError.invalidArgument("lines[\(i)].sku: line \(line.lineID) is \(ordered.sku), not \(line.sku)")
            }
            guard line.quantity <= ordered.quantity else {
                throw RPCError.failedPrecondition(
                    "lines[\(i)].quantity: line \(line.lineID) has only \(ordered.quantity) units ordered")
            }
            let (share, o1) = line.quantity.multipliedReportingOverflow(by: ordered.unitPriceMinor)
            let (sum, o2) = amount.addingReportingOverflow(share)
            guard !o1, !o2, ordered.unitPriceMinor >= 0 else {
                throw RPCError.invalidArgument("lines[\(i)]: the shipped amount is out of range")
            }
            amount = sum
            lines.append(
                StoredShipmentLine(
                    lineID: line.lineID, sku: ordered.sku, quantity: line.quantity, unitPriceMinor: ordered.unitPriceMinor))
        }

        let shipmentID = ids.next()
        let now = Date()
        do {
            try await self.database.write { c in
                try await self.repository.seedAllocations(c, order: order, orderID: orderID, now: now)
            }
            let created = try await self.database.transaction(isolation: .readCommitted, retryable: true) { tx in
                // Lock the requested lines' allocation rows by primary key in ascending byte order.
                let sorted = lines.enumerated().sorted { $0.element.lineID.utf8.lexicographicallyPrecedes($1.element.lineID.utf8) }
                for (i, line) in sorted {
                    guard
                        let a = try await self.repository.lockAllocation(tx, orderID: orderID, lineID: line.lineID)
                    else {
                        throw RPCError(.internalError, "allocation of line \(line.lineID) is missing")
                    }
                    let left = a.ordered - a.allocated
                    guard line.quantity <= left else {
                        throw RPCError.failedPrecondition(
                            "lines[\(i)].quantity: only \(left) of \(a.ordered) units of line \(line.lineID) are left to ship")
                    }
                    try await self.repository.adjustAllocation(
                        tx, orderID: orderID, lineID: line.lineID, column: .allocated, delta: line.quantity, now: now)
                }
                try await self.repository.insertShipment(
                    tx, id: shipmentID, orderID: orderID, warehouse: request.warehouse, paymentID: order.paymentID,
                    currency: order.currency, amountMinor: amount, idempotencyKey: key,
                    fingerprint: key == nil ? nil : fingerprint.value, lines: lines, now: now)
                guard let s = try await self.repository.load(tx, id: shipmentID) else {
                    throw RPCError(.internalError, "created shipment vanished")
                }
                return s
            }
            Counter(label: "oms_shipments_created_total").increment()
            log.info(
                "shipment created",
                metadata: ["shipment_id": "\(shipmentID)", "lines": "\(lines.count)", "amount_minor": "\(amount)"])
            return ShipmentsV1.CreateShipmentResponse(shipment: created.proto)
        } catch let e as MySQLError where e.kind == .duplicateKey && key != nil {
            // A concurrent create with the same key won the unique index: answer its shipment.
            if let key, let existing = try await existingShipment(key: key, fingerprint: fingerprint) {
                return ShipmentsV1.CreateShipmentResponse(shipment: existing.proto)
            }
            throw e
        }
    }

    private func existingShipment(key: String, fingerprint: FingerprintVerifier) async throws -> StoredShipment? {
        try await self.database.write { c -> StoredShipment? in
            guard let found = try await self.repository.findByIdempotencyKey(c, key: key) else { return nil }
            guard fingerprint.matches(found.requestHash) else {
                throw RPCError(
                    .alreadyExists, "idempotency key \(key) was used for a different shipment request")
            }
            return try await self.repository.load(c, id: found.id)
        }
    }

    private func fetchOrder(_ orderID: String) async throws -> OrderSnapshot {
        let order: OrderSnapshot?
        do {
            order = try await orders.fetchOrder(orderID: orderID)
        } catch let e as RPCError {
            if e.code == .notFound { throw RPCError.notFound("order \(orderID) not found") }
            throw RPCError(.unavailable, "orders service: \(e.message)", cause: e)
        } catch {
            throw RPCError(.unavailable, "orders service unavailable", cause: error)
        }
        guard let order else { throw RPCError.notFound("order \(orderID) not found") }
        return order
    }

    /// The fingerprint of a create request, to recognise repeats of an idempotency key. The lines count
    /// as a set: sorted by line id, SKU and quantity.
    static func fingerprint(_ r: ShipmentsV1.CreateShipmentRequest) -> FingerprintVerifier {
        var f = RequestFingerprint("create-shipment")
        f.append(r.orderID)
        f.append(r.warehouse)
        let lines = r.lines.sorted { a, b in
            if a.lineID != b.lineID { return a.lineID.utf8.lexicographicallyPrecedes(b.lineID.utf8) }
            if a.sku != b.sku { return a.sku.utf8.lexicographicallyPrecedes(b.sku.utf8) }
            return a.quantity < b.quantity
        }
        f.append(list: lines) { line, l in
            line.append(l.lineID)
            line.append(l.sku)
            line.append(l.quantity)
        }
        return FingerprintVerifier(f, legacy: LegacyFingerprint.shipments(r))
    }

    // MARK: State changes

    /// Creates the carrier label: the sandbox carrier (empty `carrier`) issues the tracking number; another
    /// carrier's number must be given. Repeating it answers the shipment unchanged.
    /// - Throws: `RPCError` 3, 5, 9 (illegal move, or a different label exists), 10 (persistent conflict).
    public func markLabelCreated(
        _ request: ShipmentsV1.MarkLabelCreatedRequest, context: ServerContext
    ) async throws -> ShipmentsV1.MarkLabelCreatedResponse {
        let id = try ShipmentsValidation.id(request.shipmentID, field: "shipment_id")
        let sandbox = ShipmentsValidation.isSandbox(request.carrier)
        let s = try await move(id, .createLabel, context: context) { tx, s, now in
            let number = sandbox
                ? self.carrier.issueTrackingNumber(shipmentID: s.id, warehouse: s.warehouse) : request.trackingNumber
            let carrierName = sandbox ? self.carrier.name : request.carrier
            let label = try JSONText.encode(
                LabelDocument(carrier: carrierName, trackingNumber: number, createdAtMicroseconds: now.unixMicroseconds))
            try await self.repository.updateState(
                tx, id: s.id, expectedVersion: s.version, to: .labelCreated, label: label, now: now)
            return "label created: carrier \(carrierName), tracking number \(number)"
        } unchanged: { s in
            let wantedCarrier = sandbox ? self.carrier.name : request.carrier
            if s.carrier != wantedCarrier || (!sandbox && s.trackingNumber != request.trackingNumber) {
                throw RPCError.failedPrecondition(
                    "shipment \(s.id) already has a label from \(s.carrier ?? "?") (\(s.trackingNumber ?? "?"))")
            }
        }
        return ShipmentsV1.MarkLabelCreatedResponse(shipment: s.proto)
    }

    /// Marks the shipment shipped: counts its units as shipped, and enqueues the capture of its share
    /// (Σ quantity × unit price, key `shipment:<id>`) and the `shipped` record for orders.
    /// - Throws: `RPCError` 3, 5, 9 (not label_created), 10.
    public func markShipped(
        _ request: ShipmentsV1.MarkShippedRequest, context: ServerContext
    ) async throws -> ShipmentsV1.MarkShippedResponse {
        let id = try ShipmentsValidation.id(request.shipmentID, field: "shipment_id")
        let s = try await move(id, .ship, context: context) { tx, s, now in
            try await self.repository.updateState(tx, id: s.id, expectedVersion: s.version, to: .shipped, now: now)
            let allocations = try await self.count(s, as: .shipped, tx, now: now)
            let fullyShipped = allocations.allSatisfy { $0.shipped == $0.ordered }
            if s.amountMinor > 0 {
                let capture = CapturePayload(
                    paymentID: s.paymentID, orderID: String(s.orderID), shipmentID: String(s.id),
                    amountMinor: s.amountMinor, currency: s.currency)
                try await self.repository.enqueue(
                    tx, shipmentID: s.id, orderID: s.orderID, kind: .capture,
                    idempotencyKey: Self.captureKey(shipmentID: s.id), payload: try JSONText.encode(capture), now: now)
            }
            let record = OrderEventPayload(
                orderID: String(s.orderID), shipmentID: String(s.id), event: ShipmentEventKind.shipped.rawValue,
                lines: s.lines.map { ShippedLineQuantity(lineID: $0.lineID, quantity: $0.quantity) },
                atMicroseconds: now.unixMicroseconds, orderFullyShipped: fullyShipped, allDelivered: false)
            try await self.repository.enqueue(
                tx, shipmentID: s.id, orderID: s.orderID, kind: .orderShipped, idempotencyKey: "shipment:\(s.id):shipped",
                payload: try JSONText.encode(record), now: now)
            return fullyShipped ? "shipped; every unit of the order is shipped" : "shipped"
        }
        return ShipmentsV1.MarkShippedResponse(shipment: s.proto)
    }

    /// Marks the shipment delivered and enqueues the `delivered` record for orders (with `all_delivered`
    /// when every unit of the order is delivered).
    /// - Throws: `RPCError` 3, 5, 9 (not shipped), 10.
    public func markDelivered(
        _ request: ShipmentsV1.MarkDeliveredRequest, context: ServerContext
    ) async throws -> ShipmentsV1.MarkDeliveredResponse {
        let id = try ShipmentsValidation.id(request.shipmentID, field: "shipment_id")
        let s = try await move(id, .deliver, context: context) { tx, s, now in
            try await self.repository.updateState(tx, id: s.id, expectedVersion: s.version, to: .delivered, now: now)
            let allocations = try await self.count(s, as: .delivered, tx, now: now)
            let allDelivered = allocations.allSatisfy { $0.delivered == $0.ordered }
            let record = OrderEventPayload(
                orderID: String(s.orderID), shipmentID: String(s.id), event: ShipmentEventKind.delivered.rawValue,
                lines: s.lines.map { ShippedLineQuantity(lineID: $0.lineID, quantity: $0.quantity) },
                atMicroseconds: now.unixMicroseconds, orderFullyShipped: allocations.allSatisfy { $0.shipped == $0.ordered },
                allDelivered: allDelivered)
            try await self.repository.enqueue(
                tx, shipmentID: s.id, orderID: s.orderID, kind: .orderDelivered,
                idempotencyKey: "shipment:\(s.id):delivered", payload: try JSONText.encode(record), now: now)
            return allDelivered ? "delivered; every unit of the order is delivered" : "delivered"
        }
        return ShipmentsV1.MarkDeliveredResponse(shipment: s.proto)
    }

    /// Cancels a shipment that has not shipped and releases its units for other shipments.
    /// - Throws: `RPCError` 3, 5, 9 (already shipped or delivered), 10.
    public func cancelShipment(
        _ request: ShipmentsV1.CancelShipmentRequest, context: ServerContext
    ) async throws -> ShipmentsV1.CancelShipmentResponse {
        let id = try ShipmentsValidation.id(request.shipmentID, field: "shipment_id")
        let reason = request.reason.isEmpty ? nil : request.reason
        let s = try await move(id, .cancel, context: context) { tx, s, now in
            try await self.repository.updateState(
                tx, id: s.id, expectedVersion: s.version, to: .cancelled, cancelReason: reason, now: now)
            _ = try await self.repository.lockAllocations(tx, orderID: s.orderID)
            for line in s.lines {
                try await self.repository.adjustAllocation(
                    tx, orderID: s.orderID, lineID: line.lineID, column: .allocated, delta: -line.quantity, now: now)
            }
            return reason.map { "cancelled: \($0)" } ?? "cancelled"
        }
        return ShipmentsV1.CancelShipmentResponse(shipment: s.proto)
    }

    /// The idempotency key of a shipment's capture.
    /// - Parameter shipmentID: the shipment id.
    public static func captureKey(shipmentID: Int64) -> String { "shipment:\(shipmentID)" }

    /// Runs one state change: loads the shipment, asks the state machine, and for a real move runs `effects`
    /// (which must update the shipment under its version) plus the tracking event, all in one transaction.
    /// A version conflict reruns the whole step with fresh data.
    /// Locks the order's allocation rows and adds each line quantity of the shipment to one counter of them.
    /// - Returns: the order's allocations with the quantities added.
    private func count(
        _ s: StoredShipment, as column: ShipmentsRepository.AllocationColumn, _ tx: MySQLTransaction, now: Date
    ) async throws -> [LineAllocation] {
        let counter: WritableKeyPath<LineAllocation, Int64> =
            switch column {
            case .allocated: \.allocated
            case .shipped: \.shipped
            case .delivered: \.delivered
            }
        var allocations = try await repository.lockAllocations(tx, orderID: s.orderID)
        for line in s.lines {
            try await repository.adjustAllocation(
                tx, orderID: s.orderID, lineID: line.lineID, column: column, delta: line.quantity, now: now)
            if let i = allocations.firstIndex(where: { $0.lineID == line.lineID }) {
                allocations[i][keyPath: counter] += line.quantity
            }
        }
        return allocations
    }

    private func move(
        _ id: Int64, _ command: ShipmentCommand, context: ServerContext,
        effects: @escaping @Sendable (MySQLTransaction, StoredShipment, Date) async throws -> String,
        unchanged: @escaping @Sendable (StoredShipment) throws -> Void = { _ in }
    ) async throws -> StoredShipment {
        var log = logger
        log[metadataKey: "shipment_id"] = "\(id)"
        if let rid = context.requestID { log[metadataKey: "request_id"] = "\(rid)" }
        for _ in 0..<maxVersionRetries {
            do {
                let (shipment, moved) = try await self.database.transaction(isolation: .readCommitted, retryable: true) {
                    tx -> (StoredShipment, Bool) in
                    guard let s = try await self.repository.load(tx, id: id) else {
                        throw RPCError.notFound("shipment \(id) not found")
                    }
                    switch try ShipmentStateMachine(state: s.state).transition(for: command) {
                    case .unchanged:
                        try unchanged(s)
                        return (s, false)
                    case .move(_, let to):
                        let now = Date()
                        let detail = try await effects(tx, s, now)
                        try await self.repository.addEvent(tx, shipmentID: s.id, state: to, detail: detail, at: now)
                        guard let after = try await self.repository.load(tx, id: id) else {
                            throw RPCError(.internalError, "shipment vanished")
                        }
                        return (after, true)
                    }
                }
                if moved {
                    Counter(label: "oms_shipments_transitions_total", dimensions: [("to", command.target.rawValue)])
                        .increment()
                    log.info(
                        "shipment moved",
                        metadata: ["to": "\(command.target.rawValue)", "order_id": "\(shipment.orderID)"])
                }
                return shipment
            } catch is VersionConflict {
                Counter(label: "oms_shipments_version_conflicts_total").increment()
                continue
            }
        }
        throw RPCError(.aborted, "shipment \(id) is being changed concurrently; retry")
    }

    // MARK: Reads

    /// Answers one shipment with its lines and tracking events.
    /// - Throws: `RPCError` 3, 5.
    public func getShipment(
        _ request: ShipmentsV1.GetShipmentRequest, context: ServerContext
    ) async throws -> ShipmentsV1.GetShipmentResponse {
        let id = try ShipmentsValidation.id(request.shipmentID, field: "shipment_id")
        let s = try await self.database.read { c in try await self.repository.load(c, id: id) }
        guard let s else { throw RPCError.notFound("shipment \(id) not found") }
        return ShipmentsV1.GetShipmentResponse(shipment: s.proto)
    }

    /// Lists the shipments of an order, oldest first, `page_size` at a time (default 50, at most 500);
    /// `next_page_token` continues the list and is empty on the last page.
    /// - Throws: `RPCError` 3.
    public func listShipments(
        _ request: ShipmentsV1.ListShipmentsRequest, context: ServerContext
    ) async throws -> ShipmentsV1.ListShipmentsResponse {
        let orderID = try ShipmentsValidation.id(request.orderID, field: "order_id")
        let after = request.pageToken.isEmpty ? 0 : try ShipmentsValidation.id(request.pageToken, field: "page_token")
        let size = Int(request.pageSize == 0 ? ShipmentsValidation.defaultPageSize : request.pageSize)
        let found = try await self.database.read { c in
            try await self.repository.list(c, orderID: orderID, after: after, limit: size + 1)
        }
        var response = ShipmentsV1.ListShipmentsResponse()
        response.shipments = found.prefix(size).map(\.proto)
        if found.count > size, let last = found.prefix(size).last { response.nextPageToken = String(last.id) }
        return response
    }
}
