import ArgumentParser
import Foundation
import OMSAPI
import OMSClient

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Health of every service (or one); exit 0 only when all asked are SERVING.",
        discussion: "Exit 1 when a service answers but is not SERVING or cannot be reached.")

    @Option(help: "Only this service: checkout, inventory, orders, payments, shipments.")
    var service: String?
    @Flag(help: "Print nothing; only set the exit code.")
    var quiet = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let service, SuiteService(rawValue: service) == nil {
            let names = SuiteService.allCases.map(\.rawValue)
            throw ValidationError("unknown service '\(service)'; one of \(names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let services = service.map { [$0] } ?? SuiteService.allCases.map(\.rawValue)
        var healthy = true
        do {
            try await Ctl.withClients(timeout: global.timeout, allowMissingToken: true) { oms in
                let results = await oms.checkHealth(services, timeout: .milliseconds(Int64(global.timeout * 1000)))
                var rows: [[String]] = []
                var docs: [JSON] = []
                for s in services {
                    switch results[s] {
                    case .success(let h)?:
                        if h.status != .serving { healthy = false }
                        let deps = h.dependencies.map { "\($0.name)=\(Out.name($0.status))" }.joined(separator: " ")
                        rows.append([s, Out.name(h.status), h.version.isEmpty ? "-" : h.version, deps])
                        docs.append(.object([
                            ("service", .string(s)), ("status", .string(Out.name(h.status))), ("version", .string(h.version)),
                            ("dependencies", .array(h.dependencies.map {
                                .object([("name", .string($0.name)), ("status", .string(Out.name($0.status))),
                                         ("detail", .string($0.detail)), ("latency_us", .int($0.latencyUs))])
                            })),
                        ]))
                    case .failure(let e)?:
                        healthy = false
                        let why = (e as? RPCError).map { "\($0.code): \($0.message)" } ?? "\(e)"
                        rows.append([s, "UNREACHABLE", "-", why])
                        docs.append(.object([("service", .string(s)), ("status", .string("unreachable")), ("error", .string(why))]))
                    case nil:
                        healthy = false
                    }
                }
                if !quiet {
                    Out.emit(.array(docs), asJSON: global.json) { Out.table(["SERVICE", "STATUS", "VERSION", "DEPENDENCIES"], rows) }
                }
            }
        } catch let e as ExitCode where quiet {
            throw ExitCode(e.rawValue == CtlExit.configuration ? CtlExit.configuration : CtlExit.checkFailed)
        }
        if !healthy { throw ExitCode(CtlExit.checkFailed) }
    }
}

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile", abstract: "Run the Redis/MySQL stock reconciliation now and show the drifts.")

    @Option(name: .customLong("sku"), help: "A SKU to check (repeatable; default: all).")
    var skus: [String] = []
    @Flag(help: "Measure only; do not repair Redis.")
    var dryRun = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Ctl.withClients(timeout: max(global.timeout, 60)) { oms in
            let r = try await oms.inventory.reconcile(
                InventoryV1.ReconcileRequest(skus: skus, dryRun: dryRun), options: CallOptions(timeout: .seconds(Int64(max(global.timeout, 60)))))
            let report = r.report ?? InventoryV1.ReconcileReport()
            let json = JSON.object([
                ("run_id", .string(report.runID)), ("skus_checked", .int(Int64(report.skusChecked))),
                ("started_at", .string(Out.time(report.startedAtUs))), ("finished_at", .string(Out.time(report.finishedAtUs))),
                ("drifts", .array(report.drifts.map {
                    .object([("sku", .string($0.sku)), ("redis_units", .int($0.redisUnits)), ("mysql_available", .int($0.mysqlAvailable)),
                             ("in_flight", .int($0.inFlight)), ("drift", .int($0.drift)), ("alerted", .bool($0.alerted)),
                             ("repaired", .bool($0.repaired))])
                })),
            ])
            Out.emit(json, asJSON: global.json) {
                var text = "run \(report.runID): \(report.skusChecked) SKU(s) checked, \(report.drifts.count) with drift"
                if !report.drifts.isEmpty {
                    text += "\n" + Out.table(
                        ["SKU", "REDIS", "MYSQL AVAILABLE", "IN FLIGHT", "DRIFT", "ALERTED", "REPAIRED"],
                        report.drifts.map { ["\($0.sku)", "\($0.redisUnits)", "\($0.mysqlAvailable)", "\($0.inFlight)", "\($0.drift)", "\($0.alerted)", "\($0.repaired)"] })
                }
                return text
            }
        }
    }
}

/// `omsctl audit` runs `oms-loadgen audit` (next to omsctl), which reads MySQL and Redis directly.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the suite's invariants (stock conserved, no oversell, Redis = MySQL, no orphans, no open checkouts).",
        discussion: """
            Runs `oms-loadgen audit` from the same directory as omsctl (it holds the MySQL/Redis readers). \
            Exit 0 when every rule passes, 1 when one fails, 3 when the audit could not run.
            """)

    @Option(help: "Audit only SKUs and checkout keys starting with this (default: everything).")
    var prefix: String?
    @Option(help: "Seconds a checkout may stay unfinished.") var recoveryWindow: Double?
    @Option(help: "Seconds a held reservation may outlive its expiry.") var expiryGrace: Double?
    @Flag(help: "Do not call Inventory.Reconcile first.") var noReconcile = false
    @Flag(help: "Do not read Redis.") var noRedis = false
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Redis key prefix of the inventory gate (default: the suite's).") var redisKeyPrefix: String?
    @Option(help: "Inventory schema (default oms_inventory).") var inventorySchema: String?
    @Option(help: "Orders schema (default oms_orders).") var ordersSchema: String?
    @Option(help: "Payments schema (default oms_payments).") var paymentsSchema: String?
    @Option(help: "Checkout schema (default oms_checkout).") var checkoutSchema: String?
    @Option(help: "Shipments schema (default oms_shipments).") var shipmentsSchema: String?

    func run() async throws {
        var args = ["audit"]
        for (flag, value) in [
            ("--redis-key-prefix", redisKeyPrefix), ("--inventory-schema", inventorySchema),
            ("--orders-schema", ordersSchema), ("--payments-schema", paymentsSchema),
            ("--checkout-schema", checkoutSchema), ("--shipments-schema", shipmentsSchema),
        ] {
            if let value { args += [flag, value] }
        }
        if let prefix { args += ["--prefix", prefix] }
        if let recoveryWindow { args += ["--recovery-window", "\(recoveryWindow)"] }
        if let expiryGrace { args += ["--expiry-grace", "\(expiryGrace)"] }
        if noReconcile { args.append("--no-reconcile") }
        if noRedis { args.append("--no-redis") }
        if json { args.append("--json") }
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let tool = me.deletingLastPathComponent().appendingPathComponent("oms-loadgen")
        guard FileManager.default.isExecutableFile(atPath: tool.path) else {
            Ctl.fail("audit needs oms-loadgen next to omsctl (\(tool.path)); build it with `swift build --product oms-loadgen`")
            throw ExitCode(CtlExit.configuration)
        }
        let process = Process()
        process.executableURL = tool
        process.arguments = args
        do {
            try process.run()
        } catch {
            Ctl.fail("could not start \(tool.path): \(error)")
            throw ExitCode(CtlExit.configuration)
        }
        process.waitUntilExit()
        let status = process.terminationStatus
        throw ExitCode(status == 0 ? CtlExit.ok : (status == 1 ? CtlExit.checkFailed : CtlExit.configuration))
    }
}
