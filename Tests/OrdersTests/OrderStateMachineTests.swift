import Foundation
import NIOConcurrencyHelpers
import OMSRPCCore
import Testing

@testable import Orders

@Suite("Order lifecycle state machine")
struct OrderStateMachineTests {
    static let events: [OrderLifecycleEvent] = [
        .confirm, .cancel, .ship(everythingShipped: false), .ship(everythingShipped: true),
        .deliver(everythingDelivered: false), .deliver(everythingDelivered: true),
        .returnUnits(everythingReturned: false), .returnUnits(everythingReturned: true),
    ]

    /// The complete table: (from, event) → expected outcome; nil means illegal (9).
    static func expected(_ from: OrderStatus, _ e: OrderLifecycleEvent) -> OrderTransition? {
        switch (from, e) {
        case (.pendingPayment, .confirm): return .moved(from: from, to: .confirmed)
        case (.pendingPayment, .cancel), (.confirmed, .cancel): return .moved(from: from, to: .cancelled)
        case (.cancelled, .cancel): return .alreadyThere(.cancelled)
        case (.confirmed, .confirm), (.partiallyShipped, .confirm), (.shipped, .confirm), (.delivered, .confirm),
            (.partiallyReturned, .confirm), (.returned, .confirm):
            return .alreadyThere(from)
        case (.confirmed, .ship(let all)), (.partiallyShipped, .ship(let all)):
            return .moved(from: from, to: all ? .shipped : .partiallyShipped)
        case (.partiallyReturned, .ship): return .moved(from: from, to: .partiallyReturned)
        case (.shipped, .deliver(let all)): return .moved(from: from, to: all ? .delivered : .shipped)
        case (.partiallyShipped, .deliver): return .moved(from: from, to: .partiallyShipped)
        case (.delivered, .deliver): return .alreadyThere(.delivered)
        case (.partiallyReturned, .deliver): return .moved(from: from, to: .partiallyReturned)
        case (.partiallyShipped, .returnUnits(let all)), (.shipped, .returnUnits(let all)),
            (.delivered, .returnUnits(let all)), (.partiallyReturned, .returnUnits(let all)):
            return .moved(from: from, to: all ? .returned : .partiallyReturned)
        default: return nil
        }
    }

    @Test("every (state, event) pair: legal ones move, illegal ones throw 9 and change nothing",
        arguments: OrderStatus.allCases)
    func everyPair(from: OrderStatus) throws {
        for event in Self.events {
            var machine = OrderStateMachine(status: from)
            if let want = Self.expected(from, event) {
                let got = try machine.apply(event)
                #expect(got == want, "\(from) on \(event)")
                #expect(machine.status == want.status)
            } else {
                #expect(throws: RPCError.self, "\(from) on \(event) must be illegal") { try machine.apply(event) }
                do { try machine.apply(event) } catch let e as RPCError { #expect(e.code == .failedPrecondition) }
                #expect(machine.status == from, "an illegal event changes nothing")
            }
        }
    }

    @Test func noCancelOnceShipped() {
        for s in OrderStatus.allCases where s.hasShipped {
            #expect(throws: RPCError.self) { try OrderStateMachine.transition(from: s, on: .cancel) }
        }
    }

    @Test func confirmAfterCancelIsRefused() {
        do {
            _ = try OrderStateMachine.transition(from: .cancelled, on: .confirm)
            Issue.record("confirm after cancel must fail")
        } catch let e as RPCError {
            #expect(e.code == .failedPrecondition)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func happyPath() throws {
        var m = OrderStateMachine(status: .pendingPayment)
        try m.apply(.confirm)
        try m.apply(.ship(everythingShipped: false))
        #expect(m.status == .partiallyShipped)
        try m.apply(.ship(everythingShipped: true))
        try m.apply(.deliver(everythingDelivered: true))
        #expect(m.status == .delivered)
        try m.apply(.returnUnits(everythingReturned: false))
        #expect(m.status == .partiallyReturned)
        try m.apply(.returnUnits(everythingReturned: true))
        #expect(m.status == .returned)
    }
}

@Suite("Order ids")
struct OrderIDTests {
    @Test func increasingAndUnique() {
        let g = OrderIDGenerator(node: 7)
        var last: Int64 = 0
        var seen = Set<Int64>()
        for _ in 0..<20_000 {
            let id = g.next()
            #expect(id > last)
            last = id
            seen.insert(id)
        }
        #expect(seen.count == 20_000)
    }

    @Test func clockGoingBackwardsKeepsIncreasing() {
        let clock = NIOLockedValueBox(Date(timeIntervalSince1970: 1_800_000_000))
        let g = OrderIDGenerator(node: 1, now: { clock.withLockedValue { $0 } })
        let a = g.next()
        clock.withLockedValue { $0.addTimeInterval(-10) }
        let b = g.next()
        #expect(b > a)
    }

    @Test func monthBoundariesLineUp() {
        let start = Date(timeIntervalSince1970: 1_798_761_600)  // 2027-01-01T00:00:00Z
        let bounds = OrderID.monthBounds(containing: start.addingTimeInterval(86_400 * 10))
        #expect(bounds.start == start)
        let first = OrderID.firstID(at: start)
        let justBefore = OrderIDGenerator(node: 1023, now: { start.addingTimeInterval(-0.001) }).next()
        let at = OrderIDGenerator(node: 0, now: { start }).next()
        #expect(justBefore < first)
        #expect(at >= first)
        #expect(OrderID.date(of: at) == start)
        #expect(OrderID.partitionName(monthStart: start) == "p202701")
    }
}

@Suite("Input validation")
struct OrderValidationTests {
    static func order() -> NewOrder {
        NewOrder(
            checkoutID: "co-1", customer: OrderCustomer(id: "c1", name: "Ann", email: "ann@example.org"),
            currency: "EUR", lines: [NewOrderLine(sku: "SKU-1", productName: "Mug", quantity: 1, unitPriceMinor: 100)],
            shippingAddressJSON: #"{"city":"Paris"}"#, metadataJSON: #"{"gift":true}"#)
    }

    func code(_ body: () throws -> Void) -> RPCStatusCode? {
        do {
            try body()
            return nil
        } catch let e as RPCError { return e.code } catch { return .unknown }
    }

    @Test func goodOrderPasses() throws { try OrderValidation.validate(Self.order()) }

    @Test func badInputIsInvalidArgument() {
        var cases: [NewOrder] = []
        var o = Self.order()
        o.metadataJSON = "{not json"
        cases.append(o)
        o = Self.order()
        o.lines[0].unitPriceMinor = -1
        cases.append(o)
        o = Self.order()
        o.currency = "XXY"
        cases.append(o)
        o = Self.order()
        o.customer.name = String(repeating: "n", count: 201)
        cases.append(o)
        o = Self.order()
        o.customer.name = "bad \u{FFFD} utf8"
        cases.append(o)
        o = Self.order()
        o.metadataJSON = #"{"gift":"yes"}"#
        cases.append(o)
        o = Self.order()
        o.lines[0].attributesJSON = "[1,2]"
        cases.append(o)
        o = Self.order()
        o.lines[0].quantity = 0
        cases.append(o)
        for c in cases {
            #expect(code { try OrderValidation.validate(c) } == .invalidArgument)
        }
    }
}
