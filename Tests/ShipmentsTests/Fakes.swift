import Foundation
import NIOConcurrencyHelpers
import OMSRPCCore

@testable import Shipments

/// A clock tests move by hand. It starts an hour ahead of the wall clock, so rows the service writes with
/// the real time are already due for a relay running on this clock.
final class TestClock: Sendable {
    private let value = NIOLockedValueBox(Date().addingTimeInterval(3600))

    var now: Date {
        get { value.withLockedValue { $0 } }
        set { value.withLockedValue { $0 = newValue } }
    }

    func advance(seconds: Double) { now = now.addingTimeInterval(seconds) }
}

/// In-memory orders service: serves snapshots, records shipment facts idempotently per (shipment, event),
/// moves order status like the orders service does, and can be told to fail.
actor FakeOrders: OrdersPort {
    private(set) var orders: [String: OrderSnapshot] = [:]
    /// Applied records by "<shipment id>:<event>".
    private(set) var records: [String: OrderShipmentEvent] = [:]
    /// Calls of recordShipment by "<shipment id>:<event>" (including repeats and failures).
    private(set) var recordCalls: [String: Int] = [:]
    private(set) var fetchCalls = 0
    var failRecords = 0
    var failFetches = 0

    func put(_ order: OrderSnapshot) { orders[order.orderID] = order }
    func setStatus(_ orderID: String, _ status: OrderFulfilmentStatus) { orders[orderID]?.status = status }
    func setFailRecords(_ n: Int) { failRecords = n }
    func setFailFetches(_ n: Int) { failFetches = n }

    func fetchOrder(orderID: String) async throws -> OrderSnapshot? {
        fetchCalls += 1
        if failFetches > 0 {
            failFetches -= 1
            throw RPCError.unavailable("injected orders failure")
        }
        return orders[orderID]
    }

    func recordShipment(_ record: OrderShipmentEvent) async throws {
        let key = "\(record.shipmentID):\(record.event.rawValue)"
        recordCalls[key, default: 0] += 1
        if failRecords > 0 {
            failRecords -= 1
            throw RPCError.unavailable("injected orders failure")
        }
        guard records[key] == nil else { return }
        records[key] = record
        switch record.event {
        case .shipped:
            orders[record.orderID]?.status = record.orderFullyShipped ? .shipped : .partiallyShipped
        case .delivered:
            if record.allDelivered { orders[record.orderID]?.status = .delivered }
        }
    }
}

/// In-memory payments service: one capture per idempotency key, with failure injection and a "crash after
/// the effect" switch that cancels the calling task once the capture is applied.
actor FakePayments: PaymentsPort {
    /// Applied captures by idempotency key.
    private(set) var captures: [String: CaptureCommand] = [:]
    /// Calls by idempotency key (including repeats and failures).
    private(set) var calls: [String: Int] = [:]
    var failCaptures = 0
    var crashAfterApply = false

    func setFailCaptures(_ n: Int) { failCaptures = n }
    func setCrashAfterApply(_ on: Bool) { crashAfterApply = on }

    var totalCapturedMinor: Int64 { captures.values.reduce(0) { $0 + $1.amountMinor } }

    func capture(_ command: CaptureCommand) async throws -> String {
        calls[command.idempotencyKey, default: 0] += 1
        if failCaptures > 0 {
            failCaptures -= 1
            throw RPCError.unavailable("injected payments failure")
        }
        if let first = captures[command.idempotencyKey] {
            guard first == command else {
                throw RPCError(.alreadyExists, "idempotency key reused with a different capture")
            }
        } else {
            captures[command.idempotencyKey] = command
        }
        if crashAfterApply {
            crashAfterApply = false
            // The effect is applied; the relay dies before it can mark the outbox row done.
            withUnsafeCurrentTask { $0?.cancel() }
            throw CancellationError()
        }
        return "cap-\(command.idempotencyKey)"
    }
}
