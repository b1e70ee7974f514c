import Foundation

extension AuditReport {
    /// The verdicts as text: `audit: PASSED|FAILED`, then one line per rule (`ok`, `FAIL` or `skip`) with the
    /// violations listed below it. What `oms-loadgen audit` (and `omsctl audit`) print.
    public var text: String {
        var out = "audit: \(passed ? "PASSED" : "FAILED")\n"
        for c in checks {
            let status = c.skipped != nil ? "skip" : (c.passed ? " ok " : "FAIL")
            out +=
                "  [\(status)] \(c.name.padding(toLength: 26, withPad: " ", startingAt: 0)) "
                + "\(c.examined) examined" + (c.passed ? "" : ", \(c.violationCount) violation(s)")
                + (c.skipped.map { " (\($0))" } ?? "") + "\n"
            for v in c.violations { out += "         - \(v)\n" }
            if c.violationCount > c.violations.count {
                out += "         … and \(c.violationCount - c.violations.count) more\n"
            }
        }
        return out
    }
}
