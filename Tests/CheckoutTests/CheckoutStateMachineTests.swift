import Checkout
import OMSRPCCore
import Testing

private let usd = CheckoutMoney(amountMinor: 1000, currency: "USD")
private let order = OrderSummary(orderID: "o1", status: .pendingPayment, subtotal: usd, total: usd)

/// Builds a saga by applying events from a fresh one.
private func saga(_ events: [CheckoutEvent]) throws -> CheckoutSaga {
    var s = CheckoutSaga()
    for e in events { try s.apply(e) }
    return s
}

/// Event sequences that reach every phase.
private let paths: [CheckoutPhase: [CheckoutEvent]] = [
    .recorded: [],
    .reserving: [.begin(.reserve)],
    .reserved: [.begin(.reserve), .reserved],
    .creatingOrder: [.begin(.reserve), .reserved, .begin(.createOrder)],
    .orderCreated: [.begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order)],
    .authorizing: [.begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize)],
    .authorized: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"),
    ],
    .confirmingOrder: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"), .begin(.confirmOrder),
    ],
    .orderConfirmed: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"), .begin(.confirmOrder), .orderConfirmed,
    ],
    .committingReservation: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"), .begin(.confirmOrder), .orderConfirmed, .begin(.commitReservation),
    ],
    .completed: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"), .begin(.confirmOrder), .orderConfirmed, .begin(.commitReservation),
        .reservationCommitted,
    ],
    .voidingPayment: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .authorized(paymentID: "p1"), .begin(.confirmOrder), .failed(.confirmOrder, code: 9, message: "x"),
    ],
    .cancellingOrder: [
        .begin(.reserve), .reserved, .begin(.createOrder), .orderCreated(order), .begin(.authorize),
        .declined(paymentID: "p1", code: 1, reason: "no"),
    ],
    .releasingReservation: [.begin(.reserve), .outOfStock(skus: ["A"])],
    .compensated: [.begin(.reserve), .outOfStock(skus: ["A"]), .compensated(.releaseReservation)],
]

/// One representative of every event kind.
private let allEvents: [CheckoutEvent] =
    CheckoutStep.allCases.flatMap { s in
        [
            CheckoutEvent.begin(s), .failed(s, code: 9, message: "x"), .outcomeUnknown(s), .notHappened(s),
            .compensated(s), .compensationFailed(s, message: "x"),
        ]
    } + [
        .reserved, .outOfStock(skus: ["A"]), .orderCreated(order), .authorized(paymentID: "p1"),
        .declined(paymentID: "p1", code: 1, reason: "no"), .orderConfirmed, .reservationCommitted,
        .abandon(.failed(step: "x", code: 4, message: "late")), .interrupted,
    ]

/// The legal (phase, event) pairs; everything else must be refused with 9.
private func isLegal(_ phase: CheckoutPhase, _ event: CheckoutEvent) -> Bool {
    switch (phase, event) {
    case (.recorded, .begin(.reserve)), (.reserved, .begin(.createOrder)), (.orderCreated, .begin(.authorize)),
        (.authorized, .begin(.confirmOrder)), (.orderConfirmed, .begin(.commitReservation)):
        return true
    case (.reserving, .reserved), (.reserving, .outOfStock): return true
    case (.creatingOrder, .orderCreated): return true
    case (.authorizing, .authorized), (.authorizing, .declined): return true
    case (.confirmingOrder, .orderConfirmed): return true
    case (.committingReservation, .reservationCommitted): return true
    case (_, .failed(let s, _, _)), (_, .outcomeUnknown(let s)), (_, .notHappened(let s)):
        return phase.inFlightStep == s
    case (.recorded, .abandon), (.reserving, .abandon), (.reserved, .abandon), (.creatingOrder, .abandon),
        (.orderCreated, .abandon), (.authorizing, .abandon):
        return true
    case (_, .interrupted): return !phase.isFinal
    case (.voidingPayment, .compensated(.voidPayment)), (.voidingPayment, .compensationFailed(.voidPayment, _)),
        (.cancellingOrder, .compensated(.cancelOrder)), (.cancellingOrder, .compensationFailed(.cancelOrder, _)),
        (.releasingReservation, .compensated(.releaseReservation)),
        (.releasingReservation, .compensationFailed(.releaseReservation, _)):
        return true
    default:
        return false
    }
}

@Suite("Checkout saga state machine")
struct CheckoutStateMachineTests {
    @Test func everyPhaseIsReachable() throws {
        for phase in CheckoutPhase.allCases {
            let events = try #require(paths[phase], "no path to \(phase)")
            #expect(try saga(events).phase == phase)
        }
    }

    @Test func everyEventInEveryPhaseIsLegalOrRefusedWithoutChange() throws {
        var legal = 0
        for phase in CheckoutPhase.allCases {
            let start = try saga(paths[phase]!)
            for event in allEvents {
                var s = start
                if isLegal(phase, event) {
                    legal += 1
                    #expect(throws: Never.self, "\(phase) + \(event)") { try s.apply(event) }
                } else {
                    let error = #expect(throws: RPCError.self, "\(phase) + \(event)") { try s.apply(event) }
                    #expect(error?.code == .failedPrecondition)
                    #expect(s == start, "state changed by an illegal event \(event) in \(phase)")
                }
            }
        }
        #expect(legal > 40)
    }

    @Test func happyPathActions() throws {
        var s = CheckoutSaga()
        #expect(s.nextAction == .perform(.reserve))
        #expect(try s.apply(.begin(.reserve)) == .resolve(.reserve))
        #expect(try s.apply(.reserved) == .perform(.createOrder))
        try s.apply(.begin(.createOrder))
        #expect(try s.apply(.orderCreated(order)) == .perform(.authorize))
        try s.apply(.begin(.authorize))
        #expect(try s.apply(.authorized(paymentID: "p1")) == .perform(.confirmOrder))
        try s.apply(.begin(.confirmOrder))
        #expect(try s.apply(.orderConfirmed) == .perform(.commitReservation))
        try s.apply(.begin(.commitReservation))
        #expect(try s.apply(.reservationCommitted) == .finish)
        #expect(s.phase == .completed && s.isFinal)
        #expect(s.orderID == "o1" && s.paymentID == "p1" && s.total == usd && s.rejection == nil)
    }

    @Test func declineCancelsTheOrderThenReleasesWithoutVoiding() throws {
        var s = try saga(paths[.authorizing]!)
        #expect(try s.apply(.declined(paymentID: "p1", code: 2, reason: "funds")) == .perform(.cancelOrder))
        #expect(s.rejection == .paymentDeclined(code: 2, reason: "funds"))
        #expect(try s.apply(.compensated(.cancelOrder)) == .perform(.releaseReservation))
        #expect(try s.apply(.compensated(.releaseReservation)) == .finish)
        #expect(s.phase == .compensated)
    }

    @Test func failureAfterAuthorizationCompensatesEverythingInReverse() throws {
        var s = try saga(paths[.committingReservation]!)
        #expect(try s.apply(.failed(.commitReservation, code: 9, message: "expired")) == .perform(.voidPayment))
        #expect(try s.apply(.compensated(.voidPayment)) == .perform(.cancelOrder))
        #expect(try s.apply(.compensationFailed(.cancelOrder, message: "refused")) == .perform(.releaseReservation))
        #expect(try s.apply(.compensated(.releaseReservation)) == .finish)
        #expect(s.compensationFailures == ["cancelOrder: refused"])
        #expect(s.rejection == .failed(step: "commitReservation", code: 9, message: "expired"))
    }

    @Test func outOfStockStillReleasesSoALateReserveIsRefused() throws {
        var s = try saga(paths[.reserving]!)
        #expect(try s.apply(.outOfStock(skus: ["A", "B"])) == .perform(.releaseReservation))
        #expect(s.rejection == .outOfStock(skus: ["A", "B"]))
    }

    @Test func definiteCreateFailureSkipsTheCancel() throws {
        var s = try saga(paths[.creatingOrder]!)
        #expect(try s.apply(.failed(.createOrder, code: 3, message: "bad")) == .perform(.releaseReservation))
    }

    @Test func unknownOutcomesAreResolvedNotGuessed() throws {
        for step in [CheckoutStep.reserve, .createOrder, .authorize, .confirmOrder, .commitReservation] {
            let phase = CheckoutPhase.allCases.first { $0.inFlightStep == step }!
            var s = try saga(paths[phase]!)
            #expect(try s.apply(.outcomeUnknown(step)) == .resolve(step))
            #expect(s.outcomeUnknown)
            // Asking showed it did not happen: the step may be performed again.
            #expect(try s.apply(.notHappened(step)) == .perform(step))
            #expect(!s.outcomeUnknown)
        }
    }

    @Test func unknownAuthorizationThatIsAbandonedVoidsByAsking() throws {
        var s = try saga(paths[.authorizing]!)
        try s.apply(.outcomeUnknown(.authorize))
        #expect(try s.apply(.abandon(.failed(step: "authorize", code: 4, message: "late"))) == .perform(.voidPayment))
    }

    @Test func abandonIsRefusedOnceTheAuthorizationHolds() throws {
        for phase in [CheckoutPhase.authorized, .confirmingOrder, .orderConfirmed, .committingReservation] {
            var s = try saga(paths[phase]!)
            #expect(throws: RPCError.self) { try s.apply(.abandon(.failed(step: "x", code: 4, message: "late"))) }
        }
    }

    @Test func recoveryPolicyPerPhase() throws {
        let expectations: [CheckoutPhase: CheckoutAction] = [
            .recorded: .finish,  // nothing happened: compensated at once
            .reserving: .perform(.releaseReservation),
            .reserved: .perform(.releaseReservation),
            .creatingOrder: .perform(.cancelOrder),  // cancel asks by checkout id
            .orderCreated: .perform(.cancelOrder),
            .authorizing: .resolve(.authorize),
            .authorized: .perform(.confirmOrder),
            .confirmingOrder: .resolve(.confirmOrder),
            .orderConfirmed: .perform(.commitReservation),
            .committingReservation: .resolve(.commitReservation),
            .voidingPayment: .perform(.voidPayment),
            .cancellingOrder: .perform(.cancelOrder),
            .releasingReservation: .perform(.releaseReservation),
        ]
        for (phase, action) in expectations {
            var s = try saga(paths[phase]!)
            #expect(try s.apply(.interrupted) == action, "\(phase)")
        }
    }

    @Test func rejectedAtStartIsFinal() {
        let s = CheckoutSaga.rejectedAtStart(.invalidRequest(reason: "r", violations: []))
        #expect(s.isFinal && s.nextAction == .finish)
        #expect(s.rejection == .invalidRequest(reason: "r", violations: []))
    }

    @Test func sagaRoundTripsThroughJSON() throws {
        for phase in CheckoutPhase.allCases {
            let s = try saga(paths[phase]!)
            let data = try JSONEncoder().encode(s)
            #expect(try JSONDecoder().decode(CheckoutSaga.self, from: data) == s)
        }
    }
}

import Foundation
