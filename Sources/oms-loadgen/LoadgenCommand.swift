import ArgumentParser
import Foundation
import Logging
import OMSAPI
import OMSClient
import OMSLoadgenCore

/// A problem of the load generator itself (configuration, setup).
struct LoadgenError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Exit codes of oms-loadgen (docs/omsctl.md, "oms-loadgen").
enum LoadgenExit {
    /// The run finished and every audit rule passed.
    static let ok: Int32 = 0
    /// An audit rule failed.
    static let auditFailed: Int32 = 1
    /// Configuration or setup failed (no token, suite down, bad flags).
    static let setupFailed: Int32 = 3
    /// The run finished, the audit passed, but more operations failed than `--max-error-rate` allows.
    static let tooManyErrors: Int32 = 4
}

@main
struct OMSLoadgen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oms-loadgen",
        abstract: "Load generator, invariant audit and in-process baseline for the OMS suite.",
        discussion: """
            Configuration comes from OMS_* variables over .oms/env (OMS_<SVC>_ADDR, OMS_AUTH_TOKEN[_FILE], \
            OMS_MYSQL_ADMIN_URL, OMS_REDIS_URL). Every run creates its own SKUs under a unique prefix, runs the \
            load, waits for the suite to finish every checkout, reconciles Redis, audits, and writes a JSON result.
            Exit codes: 0 audit passed, 1 audit failed, 3 setup/configuration failed, 4 too many errors.
            """,
        subcommands: [FlashSaleCommand.self, MixedCommand.self, SoakCommand.self, AuditCommand.self, BaselineCommand.self])
}

/// Options every scenario shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Seed of the run's choices (same seed, same plan).")
    var seed: UInt64 = 42
    @Option(help: "Closed loop: this many callers, each sending its next request when the last one answered.")
    var concurrency: Int?
    @Option(help: "Open loop: target operations per second (overrides --concurrency).")
    var rate: Double?
    @Option(help: "Open loop: most operations in flight; beyond it operations are dropped and counted.")
    var maxInFlight: Int = 4000
    @Option(help: "Connections per service (calls are multiplexed on each).")
    var connections: Int = 4
    @Option(help: "Deadline of each call, in seconds.")
    var timeout: Double = 10
    @Option(name: .customLong("json-out"), help: "Where to write the JSON result (default .oms/loadgen/<scenario>-<run>.json).")
    var jsonOut: String?
    @Flag(inversion: .prefixedNo, help: "Print one progress line per second (default: when stderr is a terminal).")
    var progress: Bool?
    @Option(help: "Seconds to wait for the suite to finish every checkout before the audit.")
    var recoveryWindow: Double = 60
    @Option(help: "Seconds a held reservation may outlive its expiry (the expiry sweeper's period).")
    var expiryGrace: Double = 30
    @Flag(help: "Skip the audit.")
    var noAudit = false
    @Option(help: "Fail (exit 4) when more than this share of checkouts end in transport/RPC errors.")
    var maxErrorRate: Double = 0.01
    @Option(help: "Redis key prefix of the inventory gate.")
    var redisKeyPrefix: String = "oms:inv:"
    @Option(help: "Inventory schema.") var inventorySchema = "oms_inventory"
    @Option(help: "Orders schema.") var ordersSchema = "oms_orders"
    @Option(help: "Payments schema.") var paymentsSchema = "oms_payments"
    @Option(help: "Checkout schema.") var checkoutSchema = "oms_checkout"
    @Option(help: "Shipments schema.") var shipmentsSchema = "oms_shipments"
    @Option(help: "After the recovery window, send this many checkouts again (same key and request; every one whose first answer was unknown is among them) and audit the answers (0: none).")
    var replaySample: Int = 0
    @Option(help: "Seconds of the in-process baseline (0: none).")
    var baselineSeconds: Double?
    @Option(help: "Scratch schema of the baseline (created and dropped by the run).")
    var baselineSchema = "oms_loadgen_baseline"
    @Flag(help: "Less output: only the summary.")
    var quiet = false
    @Option(help: "Use (and create once) a catalog under this SKU prefix instead of a fresh one per run.")
    var catalogPrefix: String?

    var schemas: SuiteSchemas {
        SuiteSchemas(
            inventory: inventorySchema, orders: ordersSchema, payments: paymentsSchema, checkout: checkoutSchema,
            shipments: shipmentsSchema)
    }

    func mode(defaultConcurrency: Int) throws -> LoadMode {
        if let rate {
            guard rate > 0 else { throw ValidationError("--rate must be positive") }
            guard maxInFlight > 0 else { throw ValidationError("--max-in-flight must be positive") }
            return .openLoop(rate: rate, maxInFlight: maxInFlight)
        }
        let c = concurrency ?? defaultConcurrency
        guard c > 0 else { throw ValidationError("--concurrency must be positive") }
        return .closedLoop(concurrency: c)
    }

    func validate() throws {
        guard connections >= 1 && connections <= 64 else { throw ValidationError("--connections must be 1...64") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard recoveryWindow >= 0, expiryGrace >= 0 else { throw ValidationError("windows must not be negative") }
        guard replaySample >= 0 else { throw ValidationError("--replay-sample must not be negative") }
    }
}

struct FlashSaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flash-sale", abstract: "N buyers at once for one hot SKU with S units.")

    @Option(help: "Buyers (one checkout each).") var buyers: Int = 5000
    @Option(help: "Units of the hot SKU.") var units: Int64 = 500
    @Option(help: "Share of buyers paying with the declining sandbox card.") var declineRate: Double = 0.1
    @Option(help: "Largest quantity per cart (weighted towards 1).") var maxQuantity: Int = 3
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard buyers >= 1 && buyers <= 1_000_000 else { throw ValidationError("--buyers must be 1...1,000,000") }
        guard units >= 0 && units <= 1_000_000_000 else { throw ValidationError("--units must be 0...1e9") }
        guard (0...1).contains(declineRate) else { throw ValidationError("--decline-rate must be 0...1") }
        guard maxQuantity >= 1 && maxQuantity <= 100 else { throw ValidationError("--max-quantity must be 1...100") }
    }

    func run() async throws {
        let plan = FlashSalePlan(seed: common.seed, buyers: buyers, declineRate: declineRate, maxQuantity: maxQuantity)
        let mode = try common.mode(defaultConcurrency: min(buyers, 1000))
        let code = await ScenarioRunner(common: common, scenario: "flash-sale").run(
            catalog: { prefix in
                [SuiteDriver.Product(sku: "\(prefix)hot", name: "Flash sale item", priceMinor: 4999, stock: units, attributesJSON: "{\"category\":\"flash\"}")]
            },
            total: buyers, duration: nil, mode: mode, soldOutUnits: units,
            operation: { driver, index, due, stats in await driver.placeOrder(plan.checkout(index), due: due, stats: stats) },
            baselineCheckout: { plan.checkout($0) },
            parameters: ["buyers": "\(buyers)", "units": "\(units)", "decline_rate": "\(declineRate)", "max_quantity": "\(maxQuantity)"])
        throw ExitCode(code)
    }
}

struct MixedOptions: ParsableArguments {
    @Option(help: "Catalog size.") var catalogSize: Int = 10_000
    @Option(help: "Units of stock per SKU.") var stockPerSku: Int64 = 1_000_000
    @Option(help: "Zipf exponent of SKU popularity.") var zipf: Double = 1.0
    @Option(help: "Distinct customers.") var customers: Int = 2000
    @Option(help: "Share of operations that are checkouts (the rest: GetProduct, GetStock, ListOrders).") var checkoutShare: Double = 0.4
    @Option(help: "Share of checkouts paying with the declining card.") var declineRate: Double = 0.05
    @Option(help: "Most lines per cart.") var maxLines: Int = 5
    @Option(help: "Most units per line.") var maxQuantity: Int = 3
    @Option(help: "Share of placed orders then shipped through the shipments service (capture through its outbox).")
    var fulfilFraction: Double = 0
    @Option(help: "Share of shipped orders that then return some units through orders (refund and restock through its outbox).")
    var returnFraction: Double = 0.5

    func validate() throws {
        guard catalogSize >= 1 && catalogSize <= 1_000_000 else { throw ValidationError("--catalog-size must be 1...1e6") }
        guard stockPerSku >= 0 else { throw ValidationError("--stock-per-sku must not be negative") }
        guard zipf >= 0 && zipf <= 5 else { throw ValidationError("--zipf must be 0...5") }
        guard customers >= 1 else { throw ValidationError("--customers must be positive") }
        guard (0...1).contains(checkoutShare), (0...1).contains(declineRate), (0...1).contains(fulfilFraction),
            (0...1).contains(returnFraction)
        else { throw ValidationError("shares must be 0...1") }
        guard (1...100).contains(maxLines), (1...1000).contains(maxQuantity) else { throw ValidationError("--max-lines 1...100, --max-quantity 1...1000") }
    }

    func plan(seed: UInt64) -> MixedPlan {
        MixedPlan(
            seed: seed, catalogSize: catalogSize, customers: customers, checkoutShare: checkoutShare,
            declineRate: declineRate, maxLines: maxLines, maxQuantity: maxQuantity, zipfExponent: zipf,
            fulfilFraction: fulfilFraction, returnFraction: returnFraction)
    }

    func catalog(_ prefix: String) -> [SuiteDriver.Product] {
        let colours = ["red", "blue", "black", "white"]
        return (0..<catalogSize).map { i in
            SuiteDriver.Product(
                sku: "\(prefix)s\(i)", name: "Product \(i)", priceMinor: 500 + Int64((i * 7919) % 20_000), stock: stockPerSku,
                attributesJSON: "{\"category\":\"c\(i % 50)\",\"brand\":\"b\(i % 200)\",\"colour\":\"\(colours[i % 4])\"}")
        }
    }

    var parameters: [String: String] {
        [
            "catalog_size": "\(catalogSize)", "stock_per_sku": "\(stockPerSku)", "zipf": "\(zipf)", "customers": "\(customers)",
            "checkout_share": "\(checkoutShare)", "decline_rate": "\(declineRate)", "max_lines": "\(maxLines)",
            "max_quantity": "\(maxQuantity)",
        ].merging(fulfilFraction > 0 ? ["fulfil_fraction": "\(fulfilFraction)", "return_fraction": "\(returnFraction)"] : [:]) {
            a, _ in a
        }
    }
}

struct MixedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixed", abstract: "Checkouts over a Zipf-popular catalog, with browsing and order-history reads.")

    @Option(help: "Seconds of load.") var duration: Double = 30
    @Option(help: "Most operations (bounds the run).") var maxOperations: Int = 2_000_000
    @OptionGroup var workload: MixedOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard duration > 0 && duration <= 3600 else { throw ValidationError("--duration must be (0, 3600] seconds") }
    }

    func run() async throws {
        let plan = workload.plan(seed: common.seed)
        let code = await ScenarioRunner(common: common, scenario: "mixed").run(
            catalog: workload.catalog, total: maxOperations, duration: .milliseconds(Int64(duration * 1000)),
            mode: try common.mode(defaultConcurrency: 64), soldOutUnits: nil,
            operation: { driver, index, due, stats in await driver.perform(plan, index: index, due: due, stats: stats) },
            baselineCheckout: { plan.checkoutOnly($0) },
            parameters: workload.parameters.merging(["duration_s": "\(duration)"]) { a, _ in a },
            defaultBaselineSeconds: 10, fulfils: workload.fulfilFraction > 0)
        throw ExitCode(code)
    }
}

struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "The mixed workload at a steady open-loop rate for a long time.")

    @Option(help: "Seconds of load (at most 24 h).") var duration: Double = 300
    @OptionGroup var workload: MixedOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard duration > 0 && duration <= 86_400 else { throw ValidationError("--duration must be (0, 86400] seconds") }
    }

    func run() async throws {
        let plan = workload.plan(seed: common.seed)
        let rate = common.rate ?? 200
        let code = await ScenarioRunner(common: common, scenario: "soak").run(
            catalog: workload.catalog, total: Int(rate * duration) + 1, duration: .milliseconds(Int64(duration * 1000)),
            mode: .openLoop(rate: rate, maxInFlight: common.maxInFlight), soldOutUnits: nil,
            operation: { driver, index, due, stats in await driver.perform(plan, index: index, due: due, stats: stats) },
            baselineCheckout: { plan.checkoutOnly($0) },
            parameters: workload.parameters.merging(["duration_s": "\(duration)", "rate": "\(rate)"]) { a, _ in a },
            fulfils: workload.fulfilFraction > 0)
        throw ExitCode(code)
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Checks the suite's invariants over MySQL and Redis (after Inventory.Reconcile).",
        discussion: "Exit 0 when every rule passes, 1 when one fails, 3 when the audit could not run.")

    @Option(help: "Audit only SKUs and checkout keys starting with this (default: everything).")
    var prefix: String = ""
    @Option(help: "Audit SKUs starting with this instead of --prefix (a shared catalog).")
    var skuPrefix: String?
    @Option(help: "Seconds a checkout may stay unfinished.") var recoveryWindow: Double = 60
    @Option(help: "Seconds a held reservation may outlive its expiry.") var expiryGrace: Double = 30
    @Flag(help: "Do not call Inventory.Reconcile first (Redis is compared as it is).") var noReconcile = false
    @Flag(help: "Do not read Redis.") var noRedis = false
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(help: "Redis key prefix of the inventory gate.") var redisKeyPrefix: String = "oms:inv:"
    @Option(help: "Inventory schema.") var inventorySchema = "oms_inventory"
    @Option(help: "Orders schema.") var ordersSchema = "oms_orders"
    @Option(help: "Payments schema.") var paymentsSchema = "oms_payments"
    @Option(help: "Checkout schema.") var checkoutSchema = "oms_checkout"
    @Option(help: "Shipments schema.") var shipmentsSchema = "oms_shipments"

    func run() async throws {
        let env = SuiteEnvironment.load()
        var logger = Logger(label: "oms.loadgen")
        logger.logLevel = .warning
        let schemas = SuiteSchemas(
            inventory: inventorySchema, orders: ordersSchema, payments: paymentsSchema, checkout: checkoutSchema,
            shipments: shipmentsSchema)
        let scope = AuditScope(prefix: prefix, skuPrefix: skuPrefix, recoveryWindowSeconds: recoveryWindow, expiryGraceSeconds: expiryGrace)
        do {
            let report = try await AuditRunner.run(
                env: env, schemas: schemas, scope: scope, reconcile: !noReconcile, readRedis: !noRedis,
                redisKeyPrefix: redisKeyPrefix, logger: logger)
            if json {
                print(String(decoding: try Report.encoder.encode(report), as: UTF8.self))
            } else {
                print(Report.auditText(report), terminator: "")
            }
            throw ExitCode(report.passed ? LoadgenExit.ok : LoadgenExit.auditFailed)
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("oms-loadgen audit: \(error)\n".utf8))
            throw ExitCode(LoadgenExit.setupFailed)
        }
    }
}

struct BaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Only the in-process baseline: the checkout's durable writes over one MySQL pool, no RPC, no suite needed.",
        discussion: "Uses copies of the services' tables in a scratch schema (created, then dropped).")

    @Option(help: "Seconds of load.") var seconds: Double = 10
    @Option(help: "Callers (and pool connections, at most 64).") var concurrency: Int = 64
    @OptionGroup var workload: MixedOptions
    @Option(help: "Seed.") var seed: UInt64 = 42
    @Option(help: "Scratch schema.") var baselineSchema = "oms_loadgen_baseline"
    @Option(help: "Inventory schema.") var inventorySchema = "oms_inventory"
    @Option(help: "Orders schema.") var ordersSchema = "oms_orders"
    @Option(help: "Payments schema.") var paymentsSchema = "oms_payments"
    @Option(help: "Checkout schema.") var checkoutSchema = "oms_checkout"
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Keep the scratch schema afterwards (to inspect it).") var keepSchema = false

    func run() async throws {
        var logger = Logger(label: "oms.loadgen")
        logger.logLevel = .warning
        let env = SuiteEnvironment.load()
        let plan = workload.plan(seed: seed)
        let prefix = "lg\(ScenarioRunner.makeRunID())-"
        let schemas = SuiteSchemas(inventory: inventorySchema, orders: ordersSchema, payments: paymentsSchema, checkout: checkoutSchema)
        do {
            let r = try await ScenarioRunner.runBaseline(
                env: env, schemas: schemas, baselineSchema: baselineSchema, prefix: prefix, products: workload.catalog(prefix),
                seconds: seconds, concurrency: concurrency, checkout: { plan.checkoutOnly($0) }, keepSchema: keepSchema, logger: logger,
                say: { FileHandle.standardError.write(Data("oms-loadgen: \($0)\n".utf8)) })
            if json {
                print(String(decoding: try Report.encoder.encode(r), as: UTF8.self))
            } else {
                print("baseline: \(r.placed) checkouts in \(Report.f(r.seconds)) s = \(Report.f(r.placedPerSecond)) /s "
                    + "(\(r.concurrency) callers, \(r.errors) errors)")
                print(Report.latencyLine("checkout", r.latencyMs), terminator: "")
            }
        } catch {
            FileHandle.standardError.write(Data("oms-loadgen baseline: \(error)\n".utf8))
            throw ExitCode(LoadgenExit.setupFailed)
        }
    }
}
