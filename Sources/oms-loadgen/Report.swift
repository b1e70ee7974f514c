import Foundation
import OMSLoadgenCore

/// Human summaries and the JSON encoding of results.
enum Report {
    /// snake_case keys, sorted, indented.
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

    /// The audit verdicts, one rule per line, violations indented below (`AuditReport.text`).
    static func auditText(_ report: AuditReport) -> String { report.text }

    /// The end-of-run summary.
    static func summaryText(_ r: RunResult) -> String {
        var out = "\n== oms-loadgen \(r.scenario) (run \(r.runID), seed \(r.seed), \(r.mode)) ==\n"
        out += "setup          \(f(r.setupSeconds)) s (\(r.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))\n"
        out += "load           \(f(r.wallSeconds, 2)) s\n"
        let c = r.counts
        out += "checkouts      \(c.checkouts) (\(f(r.checkoutsPerSecond)) /s): placed \(c.placed) (\(f(r.placedPerSecond)) /s), "
            + "out of stock \(c.outOfStock), declined \(c.declined), invalid \(c.invalid), failed \(c.failed), "
            + "in progress \(c.inProgress), errors \(c.errors), dropped \(c.dropped)\n"
        out += "rejections     \(f(r.rejectionsPerSecond)) /s\n"
        if let logged = r.placedInLog, logged != c.placed {
            out += "placed in log  \(logged) (the coordinator placed \(logged - c.placed) more than the client saw answered in time)\n"
        }
        if c.readsOK + c.readErrors > 0 {
            out += "reads          \(c.readsOK + c.readErrors) (\(f(r.readsPerSecond)) /s), errors \(c.readErrors)  "
                + r.readKinds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if !r.errorCodes.isEmpty {
            out += "error codes    " + r.errorCodes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        out += "units          placed \(r.placedUnits) of \(r.stockedUnits) stocked"
        if r.scenario == "flash-sale" {
            out += r.soldOut ? ", SOLD OUT" : ", not sold out"
            if let t = r.timeToSellOutSeconds { out += " — last unit placed after \(f(t, 2)) s" }
            if let t = r.firstOutOfStockSeconds { out += ", first out-of-stock answer after \(f(t, 2)) s" }
        }
        out += "\n"
        out += latencyLine("checkout", r.checkoutLatencyMs)
        if r.readLatencyMs.count > 0 { out += latencyLine("read", r.readLatencyMs) }
        if r.recoveryWaitSeconds > 0.5 || r.openCheckoutsAfterWait > 0 {
            out += "recovery wait  \(f(r.recoveryWaitSeconds)) s, \(r.openCheckoutsAfterWait) checkout(s) still open\n"
        }
        if let f = r.fulfilment {
            out += "fulfilment     \(f.orders) order(s): shipped \(f.shipped) (\(f.unitsShipped) units), returns \(f.returns) "
                + "(\(f.unitsReturned) units)"
                + (f.errors.isEmpty ? "" : ", stopped " + f.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                + "\n"
        }
        if let p = r.replay {
            out += "replays        \(p.sent) sent (\(p.firstUnknown) first answered unknown): "
                + p.answers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if let b = r.baseline {
            out += "baseline       \(b.placed) checkouts in \(f(b.seconds)) s = \(f(b.placedPerSecond)) /s in-process "
                + "(\(b.concurrency) callers, p50 \(f(b.latencyMs.p50)) ms, p99 \(f(b.latencyMs.p99)) ms, errors \(b.errors))\n"
            if let ratio = r.suiteOverBaseline { out += "suite/baseline \(f(ratio, 2))×\n" }
        }
        if let audit = r.audit { out += auditText(audit) } else { out += "audit: skipped\n" }
        return out
    }

    static func latencyLine(_ label: String, _ l: LatencySummary) -> String {
        "\(label.padding(toLength: 8, withPad: " ", startingAt: 0)) ms   p50 \(f(l.p50, 2))  p90 \(f(l.p90, 2))  "
            + "p99 \(f(l.p99, 2))  p99.9 \(f(l.p999, 2))  max \(f(l.max, 2))  (n=\(l.count))\n"
    }
}
