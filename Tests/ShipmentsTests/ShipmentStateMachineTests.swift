import OMSRPCCore
import Testing

@testable import Shipments

@Suite("Shipment state machine")
struct ShipmentStateMachineTests {
    /// The expected outcome of every (state, command) pair: the new state, or nil for an illegal move.
    static let table: [ShipmentState: [ShipmentCommand: ShipmentState?]] = [
        .pending: [.createLabel: .labelCreated, .ship: nil, .deliver: nil, .cancel: .cancelled],
        .labelCreated: [.createLabel: .labelCreated, .ship: .shipped, .deliver: nil, .cancel: .cancelled],
        .shipped: [.createLabel: nil, .ship: .shipped, .deliver: .delivered, .cancel: nil],
        .delivered: [.createLabel: nil, .ship: nil, .deliver: .delivered, .cancel: nil],
        .cancelled: [.createLabel: nil, .ship: nil, .deliver: nil, .cancel: .cancelled],
    ]

    @Test("every state and command", arguments: ShipmentState.allCases, ShipmentCommand.allCases)
    func everyPair(state: ShipmentState, command: ShipmentCommand) throws {
        let expected = try #require(Self.table[state]?[command])
        var machine = ShipmentStateMachine(state: state)
        if let target = expected {
            let t = try machine.apply(command)
            #expect(machine.state == target)
            if target == state {
                #expect(t == .unchanged(state))
            } else {
                #expect(t == .move(from: state, to: target))
            }
        } else {
            let error = #expect(throws: RPCError.self) { try machine.apply(command) }
            #expect(error?.code == .failedPrecondition)
            #expect(machine.state == state, "an illegal move changes nothing")
        }
    }

    @Test("the happy path in order")
    func happyPath() throws {
        var m = ShipmentStateMachine(state: .pending)
        try m.apply(.createLabel)
        try m.apply(.ship)
        try m.apply(.deliver)
        #expect(m.state == .delivered)
        #expect(m.state.isFinal)
    }

    @Test("transition(for:) does not change the state")
    func transitionIsPure() throws {
        let m = ShipmentStateMachine(state: .pending)
        _ = try m.transition(for: .createLabel)
        #expect(m.state == .pending)
    }

    @Test("raw values match the schema's status column")
    func rawValues() {
        #expect(ShipmentState.allCases.map(\.rawValue) == ["pending", "label_created", "shipped", "delivered", "cancelled"])
    }
}

@Suite("Sandbox carrier and ids")
struct SandboxCarrierTests {
    @Test("tracking numbers are deterministic, unique per shipment and Luhn-valid")
    func trackingNumbers() {
        let c = SandboxCarrier()
        let a = c.issueTrackingNumber(shipmentID: 123_456_789, warehouse: "w1")
        #expect(a == c.issueTrackingNumber(shipmentID: 123_456_789, warehouse: "w2"))
        #expect(a != c.issueTrackingNumber(shipmentID: 123_456_790, warehouse: "w1"))
        #expect(a.hasPrefix("SBX"))
        #expect(a.count == 23)
        let digits = String(a.dropFirst(3))
        #expect(SandboxCarrier.checkDigit(String(digits.dropLast())) == Int(String(digits.last!))!)
    }

    @Test("ids increase, also within one millisecond and when the clock steps back")
    func idsIncrease() {
        let clock = TestClock()
        let g = ShipmentIDGenerator(node: 7, now: { clock.now })
        var last = g.next()
        for i in 0..<10_000 {
            if i == 5_000 { clock.now = clock.now.addingTimeInterval(-5) }
            let n = g.next()
            #expect(n > last)
            last = n
        }
        #expect((last >> 12) & 0x3FF == 7)
    }
}
