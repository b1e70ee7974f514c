import Foundation
import OMSRPCCore
import Testing

@testable import Inventory

@Suite("ReservationStateMachine")
struct ReservationStateMachineTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var later: Date { now.addingTimeInterval(60) }

    func held() -> ReservationStateMachine { ReservationStateMachine(status: .held, expiresAt: later) }

    func code(_ body: () throws -> Void) -> RPCStatusCode? {
        do {
            try body()
            return nil
        } catch let e as RPCError {
            return e.code
        } catch {
            return .unknown
        }
    }

    @Test func commitMovesHeldToCommittedOnceThenIsIdempotent() throws {
        var m = held()
        #expect(try m.commit(now: now) == .commitUnits)
        #expect(m.status == .committed)
        #expect(try m.commit(now: now) == ReservationStockEffect.none)
        #expect(m.status == .committed)
    }

    @Test func releaseMovesHeldToReleasedOnceThenIsIdempotent() throws {
        var m = held()
        #expect(try m.release() == .releaseUnits)
        #expect(m.status == .released)
        #expect(try m.release() == ReservationStockEffect.none)
    }

    @Test func commitAfterReleaseOrExpiryIsRefusedAndChangesNothing() {
        var released = held()
        _ = try? released.release()
        let before = released
        #expect(code { _ = try released.commit(now: now) } == .failedPrecondition)
        #expect(released == before)

        var expired = held()
        #expect(expired.expire(now: later.addingTimeInterval(1)) == .releaseUnits)
        let beforeExpired = expired
        #expect(code { _ = try expired.commit(now: now) } == .failedPrecondition)
        #expect(expired == beforeExpired)
    }

    @Test func lapsedHeldReservationCannotBeCommittedOrExtended() {
        var m = held()
        let before = m
        #expect(code { _ = try m.commit(now: later) } == .failedPrecondition)
        #expect(code { _ = try m.extend(until: later.addingTimeInterval(60), now: later) } == .failedPrecondition)
        #expect(m == before)
    }

    @Test func releaseAfterCommitIsRefused() {
        var m = held()
        _ = try? m.commit(now: now)
        let before = m
        #expect(code { _ = try m.release() } == .failedPrecondition)
        #expect(m == before)
    }

    @Test func expireOnlyAffectsLapsedHeldReservations() {
        var m = held()
        #expect(m.expire(now: now) == ReservationStockEffect.none)
        #expect(m.status == .held)
        #expect(m.expire(now: later) == .releaseUnits)
        #expect(m.status == .expired)
        #expect(m.expire(now: later) == ReservationStockEffect.none)
        var committed = held()
        _ = try? committed.commit(now: now)
        #expect(committed.expire(now: later.addingTimeInterval(100)) == ReservationStockEffect.none)
        #expect(committed.status == .committed)
    }

    @Test func releaseOfExpiredIsANoOp() throws {
        var m = held()
        _ = m.expire(now: later)
        #expect(try m.release() == ReservationStockEffect.none)
        #expect(m.status == .expired)
    }

    @Test func extendMovesExpiryOfHeldOnly() throws {
        var m = held()
        let until = later.addingTimeInterval(600)
        #expect(try m.extend(until: until, now: now) == .extend)
        #expect(m.expiresAt == until)
        var c = held()
        _ = try c.commit(now: now)
        #expect(code { _ = try c.extend(until: until, now: now) } == .failedPrecondition)
    }

    @Test func reserveAgainRules() {
        let tomb = ReservationStateMachine(status: .released, expiresAt: now, isTombstone: true)
        #expect(code { try tomb.reserveAgain(sameLines: true) } == .failedPrecondition)
        #expect(code { try held().reserveAgain(sameLines: false) } == .alreadyExists)
        #expect(code { try held().reserveAgain(sameLines: true) } == nil)
        var tombCopy = tomb
        #expect(code { _ = try tombCopy.commit(now: now) } == .failedPrecondition)
    }

    @Test func linesDigestIgnoresOrderButNotQuantities() {
        let a = StockLine.digest([.init(sku: "A", quantity: 1), .init(sku: "B", quantity: 2)])
        let b = StockLine.digest([.init(sku: "B", quantity: 2), .init(sku: "A", quantity: 1)])
        let c = StockLine.digest([.init(sku: "A", quantity: 2), .init(sku: "B", quantity: 1)])
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 32)
    }
}
