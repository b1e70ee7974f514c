import Foundation
import Logging
import OMSAPI
import OMSCore
import OMSProto
import OMSRPCCore
import OMSRedis

extension InventoryService {
    /// One measurement of a page of SKUs: the gate snapshot first, then MySQL in one consistent snapshot.
    struct Measurement {
        var snapshot: [GateSnapshot]
        var available: [String: Int64]
        var tokens: [String: String]

        /// Units held by gate takes MySQL does not have yet.
        func inFlight(_ s: GateSnapshot) -> Int64 {
            s.holds.reduce(Int64(0)) { sum, h in tokens[h.key] == h.value.token ? sum : sum + h.value.quantity }
        }

        /// Drift per SKU with a warm key and a stock row: units − (available − in flight).
        func drifts() -> [String: (units: Int64, expected: Int64, inFlight: Int64, available: Int64)] {
            var out: [String: (Int64, Int64, Int64, Int64)] = [:]
            for s in snapshot {
                guard let units = s.units, let a = available[s.sku] else { continue }
                let f = inFlight(s)
                out[s.sku] = (units, a - f, f, a)
            }
            return out
        }
    }

    func measure(_ gate: StockGate, skus: [String]) async throws -> Measurement {
        let snapshot = try await gate.snapshot(skus)
        let ids = Array(Set(snapshot.flatMap { $0.holds.keys }))
        let m = try await repository.measure(skus: skus, reservationIDs: ids)
        return Measurement(snapshot: snapshot, available: m.available, tokens: m.tokens)
    }

    /// Resolves holds older than `staleHoldAfter`: confirmed when MySQL has the take, else given back.
    /// - Returns: how many holds were dropped.
    func resolveStaleHolds(_ gate: StockGate, _ m: Measurement) async throws -> Int {
        let cutoff = Int64(Date().timeIntervalSince1970) - configuration.staleHoldAfter.components.seconds
        var dropped = 0
        for s in m.snapshot {
            for (id, h) in s.holds where h.at <= cutoff {
                let confirmed = m.tokens[id] == h.token
                if try await gate.dropHold(sku: s.sku, id: id, token: h.token, returnUnits: !confirmed) {
                    dropped += 1
                    metrics.staleHolds.increment()
                    logger.warning(
                        "stale gate hold resolved",
                        metadata: ["sku": "\(s.sku)", "reservation": "\(id)", "confirmed": "\(confirmed)"])
                }
            }
        }
        return dropped
    }

    /// Measures the drift between the gate and MySQL for every SKU (or the given ones), alerts above the
    /// threshold, and repairs the gate from MySQL.
    ///
    /// A drift counts only when it persists over three measurements taken a moment apart with the same value:
    /// an operation caught between its MySQL commit and its gate update shows up as a drift that is gone on
    /// the next look, so steady load raises no false alarms. Repairs are compare-and-set against the value
    /// measured, so a concurrent gate change is never overwritten.
    /// - Parameters:
    ///   - skus: SKUs to check, nil for all.
    ///   - dryRun: measure and report only.
    /// - Returns: the report.
    /// - Throws: 9 without a gate, 14 when Redis is unreachable, `MySQLError`.
    public func reconcile(skus: [String]?, dryRun: Bool) async throws -> InventoryV1.ReconcileReport {
        guard let gate = await usableGate() else {
            if self.gate == nil { throw RPCError.failedPrecondition("the service runs without a Redis gate") }
            throw RPCError.unavailable("redis gate unavailable")
        }
        let runID = Self.newToken()
        var report = InventoryV1.ReconcileReport()
        report.runID = runID
        report.startedAtUs = Date().unixMicroseconds
        var maxDrift: Int64 = 0
        var cursor = ""
        var explicit = skus.map { Array(Set($0)).sorted() }
        while true {
            let page: [String]
            if var rest = explicit {
                page = Array(rest.prefix(200))
                rest.removeFirst(page.count)
                explicit = rest
            } else {
                page = try await repository.skuPage(after: cursor, limit: 200)
                cursor = page.last ?? cursor
            }
            if page.isEmpty { break }
            do {
                let drifts = try await reconcilePage(gate, page, runID: runID, dryRun: dryRun)
                report.skusChecked += UInt32(page.count)
                metrics.reconciledSKUs.increment(by: page.count)
                for d in drifts {
                    maxDrift = max(maxDrift, abs(d.drift))
                    report.drifts.append(
                        InventoryV1.SkuDrift(
                            sku: d.sku, redisUnits: d.redisUnits ?? 0, mysqlAvailable: d.mysqlAvailable,
                            inFlight: d.inFlight, drift: d.drift, alerted: d.alerted, repaired: d.repaired))
                }
            } catch let e as RedisError {
                gateFailed(e, skus: [], operation: "reconcile")
                throw RPCError.unavailable("redis gate unavailable during reconciliation")
            }
        }
        metrics.lastMaxDrift.record(maxDrift)
        report.finishedAtUs = Date().unixMicroseconds
        logger.info(
            "reconciliation finished",
            metadata: ["run": "\(runID)", "skus": "\(report.skusChecked)", "drifted": "\(report.drifts.count)"])
        return report
    }

    private func reconcilePage(_ gate: StockGate, _ page: [String], runID: String, dryRun: Bool) async throws
        -> [SkuDriftRecord]
    {
        var m = try await measure(gate, skus: page)
        if !dryRun, try await resolveStaleHolds(gate, m) > 0 { m = try await measure(gate, skus: page) }
        var suspects = m.drifts().filter { $0.value.units != $0.value.expected }
        guard !suspects.isEmpty else { return [] }
        // Look again twice; keep only drifts that stay the same.
        var last = m
        for _ in 0..<2 {
            try await Task.sleep(for: .milliseconds(20))
            let again = try await measure(gate, skus: Array(suspects.keys).sorted())
            let d = again.drifts()
            suspects = suspects.filter { sku, v in
                guard let n = d[sku] else { return false }
                return n.units - n.expected == v.units - v.expected
            }
            last = again
            if suspects.isEmpty { return [] }
        }
        let latest = last.drifts()
        var out: [SkuDriftRecord] = []
        for sku in suspects.keys.sorted() {
            guard let v = latest[sku] else { continue }
            let drift = v.units - v.expected
            let alert = abs(drift) > configuration.driftAlertThreshold
            var repaired = false
            if !dryRun {
                repaired = try await gate.repair(sku: sku, measured: v.units, units: v.expected)
                if repaired { metrics.driftRepairs.increment() }
            }
            var record = SkuDriftRecord(
                sku: sku, redisUnits: v.units, mysqlAvailable: v.available, inFlight: v.inFlight, drift: drift,
                alerted: alert, repaired: repaired)
            record.alerted = alert
            if alert {
                metrics.driftAlerts.increment()
                logger.error(
                    "inventory drift between redis gate and mysql",
                    metadata: [
                        "run": "\(runID)", "sku": "\(sku)", "redis_units": "\(v.units)", "mysql_available": "\(v.available)",
                        "in_flight": "\(v.inFlight)", "drift": "\(drift)", "repaired": "\(repaired)",
                    ])
                try await repository.recordDrift(runID: runID, drift: record)
            } else if drift != 0 {
                logger.info("small gate drift", metadata: ["sku": "\(sku)", "drift": "\(drift)", "repaired": "\(repaired)"])
            }
            out.append(record)
        }
        return out
    }
}
