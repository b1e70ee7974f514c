import OMSRPCCore
import Testing

@testable import Payments

@Suite struct PaymentIntentStateMachineTests {
    private func authorized(_ amount: Int64 = 1000) throws -> PaymentIntentStateMachine {
        var m = PaymentIntentStateMachine(amount: amount)
        _ = try m.authorizationApproved()
        return m
    }

    /// Runs an illegal move and checks it is refused with `code` and leaves the machine unchanged.
    private func expectRefused(
        _ machine: PaymentIntentStateMachine, _ code: RPCStatusCode = .failedPrecondition,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ move: (inout PaymentIntentStateMachine) throws -> PaymentTransition
    ) {
        var copy = machine
        do {
            _ = try move(&copy)
            Issue.record("move was allowed", sourceLocation: sourceLocation)
        } catch let error as RPCError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
        #expect(copy == machine, "a refused move changed the machine", sourceLocation: sourceLocation)
    }

    @Test func newIntentIsPendingAndOnlyTheOutcomeMovesIt() throws {
        let m = PaymentIntentStateMachine(amount: 500)
        #expect(m.status == .pending)
        expectRefused(m) { try $0.capture(1) }
        expectRefused(m) { try $0.void() }
        expectRefused(m) { try $0.refund(1) }
        var approved = m
        let t = try approved.authorizationApproved()
        #expect(t == PaymentTransition(event: .authorized, amount: 500, from: .pending, to: .authorized))
        var failed = m
        #expect(try failed.authorizationFailed().to == .failed)
    }

    @Test func outcomeIsRecordedOnce() throws {
        let m = try authorized()
        expectRefused(m) { try $0.authorizationApproved() }
        expectRefused(m) { try $0.authorizationFailed() }
    }

    @Test func failedIsFinal() throws {
        var m = PaymentIntentStateMachine(amount: 500)
        _ = try m.authorizationFailed()
        #expect(m.status.isFinal)
        expectRefused(m) { try $0.capture(1) }
        expectRefused(m) { try $0.void() }
        expectRefused(m) { try $0.refund(1) }
        expectRefused(m) { try $0.authorizationApproved() }
    }

    @Test func partialCapturesUpToTheAuthorizedAmountAndOneUnitPast() throws {
        var m = try authorized(1000)
        #expect(try m.capture(400).to == .partiallyCaptured)
        #expect(try m.capture(599).to == .partiallyCaptured)
        expectRefused(m) { try $0.capture(2) }
        #expect(try m.capture(1).to == .captured)
        #expect(m.capturedAmount == 1000)
        expectRefused(m) { try $0.capture(1) }
    }

    @Test func nonPositiveAmountsAreInvalidArguments() throws {
        let m = try authorized()
        expectRefused(m, .invalidArgument) { try $0.capture(0) }
        expectRefused(m, .invalidArgument) { try $0.capture(-5) }
        expectRefused(m, .invalidArgument) { try $0.refund(0) }
        expectRefused(m, .invalidArgument) { try $0.capture(Int64.min) }
    }

    @Test func voidOnlyBeforeAnyCapture() throws {
        var m = try authorized()
        var voided = m
        #expect(try voided.void().to == .voided)
        expectRefused(voided) { try $0.capture(1) }
        expectRefused(voided) { try $0.refund(1) }
        expectRefused(voided) { try $0.void() }
        _ = try m.capture(1)
        expectRefused(m) { try $0.void() }
    }

    @Test func refundsUpToTheCapturedAmountAndOneUnitPast() throws {
        var m = try authorized(1000)
        expectRefused(m) { try $0.refund(1) }
        _ = try m.capture(600)
        #expect(try m.refund(100).to == .partiallyRefunded)
        expectRefused(m) { try $0.refund(501) }
        #expect(try m.refund(500).to == .refunded)
        expectRefused(m) { try $0.refund(1) }
        // What remains authorized can still be captured (a later shipment), and then refunded.
        #expect(try m.capture(400).to == .partiallyRefunded)
        #expect(m.refundableAmount == 400)
        #expect(try m.refund(400).to == .refunded)
        #expect(m.capturedAmount == 1000 && m.refundedAmount == 1000)
    }

    @Test func restoringChecksTheLedger() throws {
        _ = try PaymentIntentStateMachine(status: .partiallyRefunded, amount: 10, capturedAmount: 8, refundedAmount: 3)
        #expect(throws: RPCError.self) {
            try PaymentIntentStateMachine(status: .captured, amount: 10, capturedAmount: 9, refundedAmount: 0)
        }
        #expect(throws: RPCError.self) {
            try PaymentIntentStateMachine(status: .refunded, amount: 10, capturedAmount: 5, refundedAmount: 6)
        }
        #expect(throws: RPCError.self) {
            try PaymentIntentStateMachine(status: .voided, amount: 10, capturedAmount: 1, refundedAmount: 0)
        }
    }

    @Test func invariantsHoldOverRandomMoves() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var m = PaymentIntentStateMachine(amount: Int64.random(in: 1...50, using: &generator))
            if Bool.random(using: &generator) {
                _ = try m.authorizationApproved()
            } else {
                _ = try? m.authorizationFailed()
            }
            for _ in 0..<30 {
                let before = m
                let amount = Int64.random(in: -2...20, using: &generator)
                let result: PaymentTransition?
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: result = try? m.capture(amount)
                case 1: result = try? m.refund(amount)
                default: result = try? m.void()
                }
                if result == nil { #expect(m == before) }
                #expect(0 <= m.refundedAmount && m.refundedAmount <= m.capturedAmount && m.capturedAmount <= m.amount)
                if m.status == .voided { #expect(m.capturedAmount == 0) }
            }
        }
    }
}
