import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import OMSAPI
import OMSClient
import OMSCore
import OMSLoadgenCore

/// The JSON result of a run (`--json-out`).
struct RunResult: Codable, Sendable {
    struct Counts: Codable, Sendable {
        var checkouts = 0
        var placed = 0
        var outOfStock = 0
        var declined = 0
        var invalid = 0
        var failed = 0
        var inProgress = 0
        var errors = 0
        var dropped = 0
        var readsOK = 0
        var readErrors = 0
    }
    struct BaselineResult: Codable, Sendable {
        var seconds: Double
        var concurrency: Int
        var checkouts: Int
        var placed: Int
        var errors: Int
        var placedPerSecond: Double
        var latencyMs: LatencySummary
    }

    var scenario: String
    var runID: String
    var prefix: String
    var startedAt: String
    var seed: UInt64
    var mode: String
    var parameters: [String: String]
    var setupSeconds: Double
    var wallSeconds: Double
    var counts: Counts
    var errorCodes: [String: Int]
    var readKinds: [String: Int]
    var checkoutsPerSecond: Double
    var placedPerSecond: Double
    var rejectionsPerSecond: Double
    var readsPerSecond: Double
    var placedUnits: Int64
    var stockedUnits: Int64
    var soldOut: Bool
    var timeToSellOutSeconds: Double?
    var firstOutOfStockSeconds: Double?
    var checkoutLatencyMs: LatencySummary
    var readLatencyMs: LatencySummary
    var recoveryWaitSeconds: Double
    var openCheckoutsAfterWait: Int
    var baseline: BaselineResult?
    var suiteOverBaseline: Double?
    /// Checkouts the coordinator's log records as placed (some may have answered the client too late).
    var placedInLog: Int?
    /// The fulfilment stream (nil when `--fulfil-fraction` is 0).
    var fulfilment: FulfilmentSummary?
    /// The replay pass after the recovery window (nil when `--replay-sample` is 0).
    var replay: ReplaySummary?
    var audit: AuditReport?
}

/// Runs one scenario end to end: setup, load, recovery wait, reconcile, audit, baseline, report.
struct ScenarioRunner {
    var common: CommonOptions
    var scenario: String

    func say(_ text: String) {
        if !common.quiet { FileHandle.standardError.write(Data("oms-loadgen: \(text)\n".utf8)) }
    }

    /// - Parameters:
    ///   - baselineCheckout: the checkout of operation `index` (what the baseline runs, and what a replay resends).
    ///   - fulfils: whether the run has a fulfilment stream (its summary is then part of the result).
    func run(
        catalog: (String) -> [SuiteDriver.Product], total: Int, duration: Duration?, mode: LoadMode, soldOutUnits: Int64?,
        operation: @escaping @Sendable (SuiteDriver, Int, ContinuousClock.Instant, LoadStats) async -> Void,
        baselineCheckout: @escaping @Sendable (Int) -> PlannedCheckout, parameters: [String: String],
        defaultBaselineSeconds: Double = 0, fulfils: Bool = false
    ) async -> Int32 {
        var logger = Logger(label: "oms.loadgen")
        logger.logLevel = .warning
        let env = SuiteEnvironment.load()
        let runID = Self.makeRunID()
        let prefix = "lg\(runID)-"
        let startedAt = ISO8601DateFormatter().string(from: Date())
        var parameters = parameters
        switch mode {
        case .closedLoop(let c): parameters["concurrency"] = "\(c)"
        case .openLoop(let r, let m):
            parameters["rate"] = "\(r)"
            parameters["max_in_flight"] = "\(m)"
        }
        let runStart = ContinuousClock.now
        let clients: [OMSClients]
        do {
            var config = try OMSClientConfiguration.fromEnvironment(env.values)
            config.defaultTimeout = .milliseconds(Int64(common.timeout * 1000))
            clients = (0..<common.connections).map { _ in OMSClients(configuration: config, logger: logger) }
        } catch {
            say("configuration: \(error)")
            return LoadgenExit.setupFailed
        }
        // A shared catalog (`--catalog-prefix`) is created once and reused by later runs.
        let skuPrefix = common.catalogPrefix ?? prefix
        let products = catalog(skuPrefix)
        let driver = SuiteDriver(
            clients: clients, prefix: prefix, skus: products.map(\.sku), timeout: .milliseconds(Int64(common.timeout * 1000)))

        // The suite must be up.
        let health = await clients[0].checkHealth()
        let down = health.filter { _, r in
            if case .success(let h) = r, h.status == .serving { return false }
            return true
        }.keys.sorted()
        if !down.isEmpty {
            say("not serving: \(down.joined(separator: ", ")) (start the suite with `make up`)")
            return LoadgenExit.setupFailed
        }

        let setupStart = ContinuousClock.now
        var stocked: [String: Int64] = [:]
        do {
            if common.catalogPrefix != nil, try await driver.catalogExists(products) {
                say("run \(runID): \(scenario), \(mode); reusing the \(products.count) SKU(s) under \(skuPrefix)")
            } else {
                say("run \(runID): \(scenario), \(mode); setting up \(products.count) SKU(s) under \(skuPrefix)")
                stocked = try await driver.setUp(products, concurrency: 16)
                // With a shared catalog, later runs cannot know what was stocked; the ledger still can.
                if common.catalogPrefix != nil { stocked = [:] }
            }
        } catch {
            say("setup failed: \(error)")
            return LoadgenExit.setupFailed
        }
        let setupSeconds = (ContinuousClock.now - setupStart).inSeconds

        // The load.
        let stats = LoadStats(soldOutUnits: soldOutUnits)
        let showProgress = common.progress ?? (isatty(STDERR_FILENO) == 1)
        let printer = Task { await ProgressPrinter(enabled: showProgress && !common.quiet, label: scenario).run(stats: stats) }
        say("load started")
        let wall = await LoadExecutor(mode: mode, total: total, duration: duration).run(stats: stats) { index, due in
            await operation(driver, index, due, stats)
        }
        printer.cancel()
        _ = await printer.value
        let s = stats.snapshot()
        say("load finished after \(String(format: "%.1f", wall.inSeconds)) s")

        // Recovery wait, reconciliation, audit.
        var audit: AuditReport?
        var recoveryWait = 0.0
        var stillOpen = 0
        let scope = AuditScope(
            prefix: prefix, skuPrefix: skuPrefix, expectedStock: stocked, clientOutcomes: s.outcomes,
            recoveryWindowSeconds: common.recoveryWindow, expiryGraceSeconds: common.expiryGrace, runStart: runStart)
        var replays: [ReplayFacts]?
        if !common.noAudit {
            let replayKeys = ReplaySample.keys(s.outcomes, limit: common.replaySample, seed: common.seed)
            do {
                let (report, waited, open, replayed) = try await AuditRunner.runAfterLoad(
                    env: env, schemas: common.schemas, scope: scope, clients: clients[0], skus: products.map(\.sku),
                    redisKeyPrefix: common.redisKeyPrefix, logger: logger, say: say,
                    replay: { await driver.replay(keys: replayKeys, first: s.outcomes, checkout: baselineCheckout) })
                audit = report
                recoveryWait = waited
                stillOpen = open
                if common.replaySample > 0 { replays = replayed }
            } catch {
                say("audit could not run: \(error)")
                return LoadgenExit.setupFailed
            }
        }

        // Baseline.
        var baseline: RunResult.BaselineResult?
        let baselineSeconds = common.baselineSeconds ?? defaultBaselineSeconds
        if baselineSeconds > 0 {
            let concurrency: Int
            switch mode {
            case .closedLoop(let c): concurrency = c
            case .openLoop: concurrency = 64
            }
            do {
                baseline = try await Self.runBaseline(
                    env: env, schemas: common.schemas, baselineSchema: common.baselineSchema, prefix: prefix,
                    products: products, seconds: baselineSeconds, concurrency: concurrency, checkout: baselineCheckout,
                    logger: logger, say: say)
            } catch {
                say("baseline failed: \(error)")
            }
        }

        let checkouts = CheckoutResultKind.allCases.reduce(0) { $0 + (s.results[$1] ?? 0) }
        var counts = RunResult.Counts()
        counts.checkouts = checkouts
        counts.placed = s.results[.placed] ?? 0
        counts.outOfStock = s.results[.outOfStock] ?? 0
        counts.declined = s.results[.declined] ?? 0
        counts.invalid = s.results[.invalid] ?? 0
        counts.failed = s.results[.failed] ?? 0
        counts.inProgress = s.results[.inProgress] ?? 0
        counts.errors = s.results[.error] ?? 0
        counts.dropped = s.dropped
        counts.readsOK = s.readsOK
        counts.readErrors = s.readErrors
        let seconds = max(wall.inSeconds, 1e-6)
        let rejections = counts.outOfStock + counts.declined + counts.invalid + counts.failed
        let placedPerSecond = Double(counts.placed) / seconds
        let result = RunResult(
            scenario: scenario, runID: runID, prefix: prefix, startedAt: startedAt, seed: common.seed,
            mode: mode.description, parameters: parameters, setupSeconds: setupSeconds, wallSeconds: wall.inSeconds,
            counts: counts, errorCodes: s.errorCodes, readKinds: s.readKinds,
            checkoutsPerSecond: Double(checkouts) / seconds, placedPerSecond: placedPerSecond,
            rejectionsPerSecond: Double(rejections) / seconds, readsPerSecond: Double(counts.readsOK + counts.readErrors) / seconds,
            placedUnits: s.placedUnits, stockedUnits: products.reduce(0) { $0 + $1.stock },
            soldOut: soldOutUnits.map { s.placedUnits >= $0 } ?? false,
            timeToSellOutSeconds: (s.soldOutAt ?? (soldOutUnits != nil ? s.lastPlacedAt : nil))?.inSeconds,
            firstOutOfStockSeconds: s.firstOutOfStockAt?.inSeconds,
            checkoutLatencyMs: LatencySummary(s.checkout), readLatencyMs: LatencySummary(s.reads),
            recoveryWaitSeconds: recoveryWait, openCheckoutsAfterWait: stillOpen, baseline: baseline,
            suiteOverBaseline: baseline.flatMap { $0.placedPerSecond > 0 ? placedPerSecond / $0.placedPerSecond : nil },
            placedInLog: audit?.checks.first { $0.name == "placed-orders-confirmed" }?.examined,
            fulfilment: s.fulfilment.orders > 0 || fulfils ? s.fulfilment : nil, replay: replays.map(ReplaySummary.init),
            audit: audit)

        print(Report.summaryText(result), terminator: "")
        let path = common.jsonOut ?? ".oms/loadgen/\(scenario)-\(runID).json"
        do {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Report.encoder.encode(result).write(to: url)
            say("result written to \(path)")
        } catch {
            say("could not write \(path): \(error)")
        }
        for c in clients { await c.close() }
        if let audit, !audit.passed { return LoadgenExit.auditFailed }
        if checkouts > 0 && Double(counts.errors + counts.inProgress) / Double(checkouts) > common.maxErrorRate {
            return LoadgenExit.tooManyErrors
        }
        return LoadgenExit.ok
    }

    /// Runs the in-process baseline (see `Baseline`) for `seconds` with `concurrency` callers.
    static func runBaseline(
        env: SuiteEnvironment, schemas: SuiteSchemas, baselineSchema: String, prefix: String,
        products: [SuiteDriver.Product], seconds: Double, concurrency: Int,
        checkout: @escaping @Sendable (Int) -> PlannedCheckout, keepSchema: Bool = false, logger: Logger,
        say: @escaping @Sendable (String) -> Void
    ) async throws -> RunResult.BaselineResult {
        guard let adminURL = env["OMS_MYSQL_ADMIN_URL"] else { throw LoadgenError("OMS_MYSQL_ADMIN_URL is not set") }
        let poolSize = min(concurrency, 64)
        let baseline = try Baseline(
            adminURL: adminURL, schema: baselineSchema, poolSize: poolSize, prefix: prefix, logger: logger)
        say("baseline: in-process checkouts over one pool of \(poolSize) connections for \(Int(seconds)) s")
        do {
            try await baseline.drop()
            try await baseline.prepare(schemas: schemas)
            try await baseline.stock(products)
            let stats = LoadStats()
            let skus = products.map(\.sku)
            let errors = NIOLockedValueBox(0)
            let wall = await LoadExecutor(
                mode: .closedLoop(concurrency: poolSize), total: Int.max, duration: .milliseconds(Int64(seconds * 1000))
            ).run(stats: stats) { index, due in
                let c = checkout(index)
                let key = "\(prefix)b\(index)"
                do {
                    let placed = try await baseline.checkout(
                        key: key, customer: "\(prefix)c\(c.customer)", lines: c.lines.map { (skus[$0.skuIndex], $0.quantity) })
                    stats.recordCheckout(
                        key: key, kind: placed ? .placed : .outOfStock, outcome: .unknown(detail: "baseline"), units: c.units,
                        latency: ContinuousClock.now - due)
                } catch {
                    let first = errors.withLockedValue { n -> Bool in
                        n += 1
                        return n == 1
                    }
                    if first { say("baseline error: \(error)") }
                    stats.recordCheckout(
                        key: key, kind: .error, outcome: .unknown(detail: "\(error)"), units: c.units,
                        latency: ContinuousClock.now - due)
                }
            }
            let s = stats.snapshot()
            if !keepSchema { try? await baseline.drop() }
            await baseline.shutdown()
            let placed = s.results[.placed] ?? 0
            return RunResult.BaselineResult(
                seconds: wall.inSeconds, concurrency: poolSize,
                checkouts: CheckoutResultKind.allCases.reduce(0) { $0 + (s.results[$1] ?? 0) }, placed: placed,
                errors: s.results[.error] ?? 0, placedPerSecond: Double(placed) / max(wall.inSeconds, 1e-6),
                latencyMs: LatencySummary(s.checkout))
        } catch {
            try? await baseline.drop()
            await baseline.shutdown()
            throw error
        }
    }

    /// 8 characters of base 36 from the clock and a random number: unique per run.
    static func makeRunID() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var n = UInt64(Date().timeIntervalSince1970 * 1000) &* 1_000_003 &+ UInt64.random(in: 0..<1_000_000)
        var out = ""
        for _ in 0..<8 {
            out.append(alphabet[Int(n % 36)])
            n /= 36
        }
        return out
    }
}

/// Reconciliation + audit, shared by the scenarios and the `audit` subcommand.
enum AuditRunner {
    /// After a load: waits (up to the recovery window) for the suite to finish the run's checkouts and deliver
    /// what its outboxes owe, replays checkouts, reconciles the run's SKUs, audits.
    /// - Parameter replay: sends checkouts again once the wait is over and returns what they answered.
    /// - Returns: the report, the seconds waited, checkouts still open after the wait, and the replays.
    static func runAfterLoad(
        env: SuiteEnvironment, schemas: SuiteSchemas, scope: AuditScope, clients: OMSClients, skus: [String],
        redisKeyPrefix: String, logger: Logger, say: (String) -> Void,
        replay: () async -> [ReplayFacts] = { [] }
    ) async throws -> (AuditReport, Double, Int, [ReplayFacts]) {
        guard let adminURL = env["OMS_MYSQL_ADMIN_URL"] else { throw LoadgenError("OMS_MYSQL_ADMIN_URL is not set") }
        let collector = try AuditCollector(
            adminURL: adminURL, schemas: schemas, redisURL: env["OMS_REDIS_URL"], redisKeyPrefix: redisKeyPrefix,
            logger: logger)
        do {
            let start = ContinuousClock.now
            var open = try await collector.openCheckouts(scope: scope)
            if open > 0 { say("waiting up to \(Int(scope.recoveryWindowSeconds)) s for \(open) unfinished checkout(s)") }
            while open > 0 && (ContinuousClock.now - start).inSeconds < scope.recoveryWindowSeconds {
                try await Task.sleep(for: .milliseconds(500))
                open = try await collector.openCheckouts(scope: scope)
            }
            // Captures, order records, refunds and restocks of the fulfilment stream arrive through outboxes.
            var owed = try await collector.owedDeliveries(scope: scope)
            if owed > 0 { say("waiting for \(owed) outbox deliveries") }
            while owed > 0 && (ContinuousClock.now - start).inSeconds < scope.recoveryWindowSeconds {
                try await Task.sleep(for: .milliseconds(500))
                owed = try await collector.owedDeliveries(scope: scope)
            }
            let waited = (ContinuousClock.now - start).inSeconds
            var scope = scope
            scope.replays = await replay()
            if !scope.replays.isEmpty { say("replayed \(scope.replays.count) checkout(s)") }
            try await reconcile(clients: clients, skus: skus)
            // A checkout still open now has been unfinished for the whole window after the load ended (its age
            // counts from its creation, so it exceeds the window): the rule reports it.
            let snapshot = try await collector.collect(scope: scope)
            let report = AuditRules.evaluate(snapshot)
            await collector.shutdown()
            return (report, waited, open, scope.replays)
        } catch {
            await collector.shutdown()
            throw error
        }
    }

    /// Standalone audit: reconcile (all SKUs in scope) and judge.
    static func run(
        env: SuiteEnvironment, schemas: SuiteSchemas, scope: AuditScope, reconcile doReconcile: Bool, readRedis: Bool,
        redisKeyPrefix: String, logger: Logger
    ) async throws -> AuditReport {
        guard let adminURL = env["OMS_MYSQL_ADMIN_URL"] else { throw LoadgenError("OMS_MYSQL_ADMIN_URL is not set") }
        let collector = try AuditCollector(
            adminURL: adminURL, schemas: schemas, redisURL: readRedis ? env["OMS_REDIS_URL"] : nil,
            redisKeyPrefix: redisKeyPrefix, logger: logger)
        do {
            if doReconcile && readRedis {
                let config = try OMSClientConfiguration.fromEnvironment(env.values)
                let clients = OMSClients(configuration: config, logger: logger)
                do {
                    if (scope.skuPrefix ?? scope.prefix).isEmpty {
                        try await reconcile(clients: clients, skus: [])
                    } else {
                        try await reconcile(clients: clients, skus: try await collector.skus(scope: scope))
                    }
                    await clients.close()
                } catch {
                    await clients.close()
                    throw error
                }
            }
            var snapshot = try await collector.collect(scope: scope)
            snapshot.redisChecked = snapshot.redisChecked && readRedis
            await collector.shutdown()
            return AuditRules.evaluate(snapshot)
        } catch {
            await collector.shutdown()
            throw error
        }
    }

    /// Inventory.Reconcile over the SKUs (1000 per call; empty: all).
    static func reconcile(clients: OMSClients, skus: [String]) async throws {
        let options = CallOptions(timeout: .seconds(120))
        if skus.isEmpty {
            _ = try await clients.inventory.reconcile(InventoryV1.ReconcileRequest(), options: options)
            return
        }
        for chunk in AuditCollector.chunks(skus, of: 1000) {
            _ = try await clients.inventory.reconcile(InventoryV1.ReconcileRequest(skus: chunk), options: options)
        }
    }
}
