import Foundation
import OMSAPI
import OMSCore
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSRedis
import Testing

@testable import Inventory

@Suite("Reservation lifecycle (real MariaDB + Redis)", .serialized)
struct ReservationLifecycleTests {
    let ctx = InventoryHarness.context()

    @Test("Multi-SKU reserve is all-or-nothing, at the gate and in MySQL")
    func allOrNothing() async throws {
        try await InventoryHarness.run { h in
            try await h.product("MA", units: 5)
            try await h.product("MB", units: 1)
            let before = try await h.world(["MA", "MB"])
            let r = try await h.reserve(id: "multi-1", [("MA", 2), ("MB", 2)])
            #expect(r.shortages?.map(\.sku) == ["MB"])
            #expect(try await h.stock("MA") == .init(onHand: 5, reserved: 0))
            #expect(try await h.stock("MB") == .init(onHand: 1, reserved: 0))
            #expect(try await h.gateUnits("MA") == 5)
            #expect(try await h.gateUnits("MB") == 1)
            #expect(try await h.count("SELECT COUNT(*) FROM reservations") == 0)
            #expect(try await h.ledger("MA", kind: "reserve").rows == 0)
            _ = before

            // The gate lets it through (wrong, too high) but MySQL refuses: units go back, SKU named.
            try await h.redis.send(RedisCommand("SET", h.keys.available("MB"), "50"))
            let r2 = try await h.reserve(id: "multi-2", [("MA", 2), ("MB", 2)])
            #expect(r2.shortages?.map(\.sku) == ["MB"])
            #expect(r2.shortages?.first?.available == 1)
            #expect(try await h.gateUnits("MA") == 5)
            #expect(try await h.gateUnits("MB") == 50)
            #expect(try await h.gateHolds("MA") == 0)
            #expect(try await h.stock("MA") == .init(onHand: 5, reserved: 0))

            let ok = try await h.reserve(id: "multi-3", [("MB", 1), ("MA", 5)])
            #expect(ok.reservation?.lines.map(\.sku) == ["MA", "MB"])
            #expect(try await h.stock("MA") == .init(onHand: 5, reserved: 5))
            #expect(try await h.stock("MB") == .init(onHand: 1, reserved: 1))
        }
    }

    @Test("Reserve, commit and release are idempotent")
    func idempotency() async throws {
        try await InventoryHarness.run { h in
            try await h.product("ID-1", units: 10)
            let first = try await h.reserve(id: "chk-1", [("ID-1", 3)])
            let again = try await h.reserve(h.b, id: "chk-1", [("ID-1", 3)])
            #expect(first.reservation != nil)
            #expect(again.reservation == first.reservation)
            #expect(try await h.stock("ID-1") == .init(onHand: 10, reserved: 3))
            #expect(try await h.gateUnits("ID-1") == 7)

            // Same id, other lines: refused, nothing changes.
            #expect(await statusCode { _ = try await h.reserve(id: "chk-1", [("ID-1", 4)]) } == .alreadyExists)
            #expect(try await h.stock("ID-1") == .init(onHand: 10, reserved: 3))

            // The gate lost its memory of chk-1 (flush): the repeat is answered from MySQL and the
            // redundant take is given back.
            try await h.flushGate()
            let third = try await h.reserve(id: "chk-1", [("ID-1", 3)])
            #expect(third.reservation?.reservationID == "chk-1")
            #expect(try await h.stock("ID-1") == .init(onHand: 10, reserved: 3))
            #expect(try await h.gateUnits("ID-1") == 7)

            let commit = InventoryV1.CommitReservationRequest(reservationID: "chk-1", orderID: "order-9")
            let c1 = try await h.a.commitReservation(commit, context: ctx)
            let c2 = try await h.b.commitReservation(commit, context: ctx)
            #expect(c1.reservation?.state == .committed)
            #expect(c1.reservation?.orderID == "order-9")
            #expect(c2.reservation?.state == .committed)
            #expect(try await h.stock("ID-1") == .init(onHand: 7, reserved: 0))
            #expect(try await h.ledger("ID-1", kind: "commit").rows == 1)
            #expect(try await h.gateUnits("ID-1") == 7)
            // Sold units cannot be released.
            #expect(await statusCode {
                _ = try await h.a.releaseReservation(.init(reservationID: "chk-1"), context: ctx)
            } == .failedPrecondition)

            _ = try await h.reserve(id: "chk-2", [("ID-1", 2)])
            #expect(try await h.gateUnits("ID-1") == 5)
            let rel = InventoryV1.ReleaseReservationRequest(reservationID: "chk-2", reason: "payment declined")
            let r1 = try await h.a.releaseReservation(rel, context: ctx)
            let r2 = try await h.b.releaseReservation(rel, context: ctx)
            #expect(r1.reservation?.state == .released && r1.wasKnown)
            #expect(r2.reservation?.state == .released && r2.wasKnown)
            #expect(try await h.stock("ID-1") == .init(onHand: 7, reserved: 0))
            #expect(try await h.gateUnits("ID-1") == 7)
            #expect(try await h.ledger("ID-1", kind: "release").rows == 1)
            #expect(await statusCode {
                _ = try await h.a.commitReservation(.init(reservationID: "chk-2"), context: ctx)
            } == .failedPrecondition)
            #expect(try await h.ledgerTotals("ID-1") == .init(onHand: 7, reserved: 0))
            #expect(try await h.a.reconcile(skus: nil, dryRun: true).drifts.isEmpty)
        }
    }

    @Test("A release before the reserve is recorded; the later reserve is refused")
    func releaseBeforeReserve() async throws {
        try await InventoryHarness.run { h in
            try await h.product("RB-1", units: 4)
            let rel = try await h.a.releaseReservation(.init(reservationID: "early-1"), context: ctx)
            #expect(rel.wasKnown == false)
            #expect(rel.reservation?.state == .released)
            let before = try await h.world(["RB-1"])
            #expect(await statusCode { _ = try await h.reserve(h.b, id: "early-1", [("RB-1", 1)]) } == .failedPrecondition)
            // Also when the gate forgot the tombstone: MySQL refuses and the gate units go back.
            try await h.flushGate()
            #expect(await statusCode { _ = try await h.reserve(id: "early-1", [("RB-1", 1)]) } == .failedPrecondition)
            #expect(try await h.stock("RB-1") == before.stock["RB-1"]!)
            #expect(try await h.gateUnits("RB-1") == 4)
            #expect(try await h.count("SELECT COUNT(*) FROM reservation_lines") == 0)
            // Releasing again is still OK.
            #expect(try await h.b.releaseReservation(.init(reservationID: "early-1"), context: ctx).wasKnown == false)
        }
    }

    @Test("Expired reservations are released by the sweeper, units back in MySQL and the gate")
    func expiry() async throws {
        try await InventoryHarness.run { h in
            try await h.product("EX-1", units: 3)
            _ = try await h.reserve(id: "exp-1", [("EX-1", 2)], ttlMs: 60_000)
            _ = try await h.reserve(id: "exp-2", [("EX-1", 1)], ttlMs: 600_000)
            #expect(try await h.gateUnits("EX-1") == 0)
            #expect(try await h.a.sweepExpired() == 0)
            // Move exp-1's expiry into the past instead of waiting.
            try await h.database.write { c in
                _ = try await c.execute(
                    "UPDATE reservations SET expires_at = ? WHERE id = ?",
                    [.datetime(Date().addingTimeInterval(-1)), .string("exp-1")])
            }
            #expect(try await h.b.sweepExpired() == 1)
            #expect(try await h.a.sweepExpired() == 0)
            #expect(try await h.stock("EX-1") == .init(onHand: 3, reserved: 1))
            #expect(try await h.gateUnits("EX-1") == 2)
            #expect(try await h.ledger("EX-1", kind: "expire").rows == 1)
            #expect(await statusCode {
                _ = try await h.a.commitReservation(.init(reservationID: "exp-1"), context: ctx)
            } == .failedPrecondition)
            let rel = try await h.a.releaseReservation(.init(reservationID: "exp-1"), context: ctx)
            #expect(rel.reservation?.state == .expired)
            #expect(try await h.gateUnits("EX-1") == 2)
            // Extending a held one moves its expiry.
            let ext = try await h.a.extendReservation(.init(reservationID: "exp-2", ttlMs: 3_600_000), context: ctx)
            #expect(ext.reservation?.expiresAtUs ?? 0 > Date().addingTimeInterval(3000).unixMicroseconds)
            #expect(await statusCode {
                _ = try await h.a.extendReservation(.init(reservationID: "exp-1", ttlMs: 60_000), context: ctx)
            } == .failedPrecondition)
        }
    }

    @Test("Injected drift is detected, alerted, recorded and repaired in one run")
    func injectedDrift() async throws {
        try await InventoryHarness.run { h in
            try await h.product("DR-1", units: 20)
            try await h.product("DR-2", units: 20)
            _ = try await h.reserve(id: "dr-1", [("DR-1", 5), ("DR-2", 1)])
            #expect(try await h.a.reconcile(skus: nil, dryRun: true).drifts.isEmpty)
            try await h.redis.send(RedisCommand("SET", h.keys.available("DR-1"), "40"))
            try await h.redis.send(RedisCommand("SET", h.keys.available("DR-2"), "18"))  // 1 unit: no alert
            let report = try await h.a.reconcile(skus: nil, dryRun: false)
            let d1 = try #require(report.drifts.first { $0.sku == "DR-1" })
            #expect(d1.drift == 25)
            #expect(d1.redisUnits == 40)
            #expect(d1.mysqlAvailable == 15)
            #expect(d1.alerted && d1.repaired)
            let d2 = try #require(report.drifts.first { $0.sku == "DR-2" })
            #expect(d2.drift == -1)
            #expect(!d2.alerted && d2.repaired)
            #expect(report.skusChecked == 2)
            #expect(try await h.gateUnits("DR-1") == 15)
            #expect(try await h.gateUnits("DR-2") == 19)
            #expect(
                try await h.count("SELECT COUNT(*) FROM reconciliation_events WHERE sku = 'DR-1' AND drift = 25 AND repaired = 1")
                    == 1)
            #expect(try await h.count("SELECT COUNT(*) FROM reconciliation_events WHERE sku = 'DR-2'") == 0)
            #expect(try await h.b.reconcile(skus: nil, dryRun: true).drifts.isEmpty)
        }
    }

    @Test("A gate hold whose process died is resolved by reconciliation")
    func staleHolds() async throws {
        try await InventoryHarness.run(configure: { $0.staleHoldAfter = .zero }) { h in
            try await h.product("ST-1", units: 10)
            _ = try await h.reserve(id: "st-0", [("ST-1", 1)])  // warms the key: 9
            let gate = try #require(h.a.gate)
            // A take that never reached MySQL (the process died): its 3 units come back.
            #expect(try await gate.reserve(
                id: "ghost", token: "t-ghost", lines: [.init(sku: "ST-1", quantity: 3)], digest: "x", keyTTLSeconds: 60)
                == .taken)
            #expect(try await h.gateUnits("ST-1") == 6)
            let report = try await h.a.reconcile(skus: nil, dryRun: false)
            #expect(report.drifts.isEmpty)
            #expect(try await h.gateUnits("ST-1") == 9)
            #expect(try await h.gateHolds("ST-1") == 0)
        }
    }
}
