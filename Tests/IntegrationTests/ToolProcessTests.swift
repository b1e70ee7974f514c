import Foundation
import OMSAPI
import OMSClient
import OMSMySQL
import OMSTestKit
import Testing

extension ProcessIntegration {
    /// The command-line tools as a user runs them: the real `omsctl` and `oms-loadgen` executables (built next to
    /// the test bundle) against a suite of real `oms-*` processes started by `TestSuite`, configured only through
    /// `OMS_*` variables (`TestSuite.toolEnvironment`). Assertions are on exit codes, output and the suite's
    /// state afterwards, never on speed.
    @Suite(.serialized) struct ToolProcessTests {
        /// Runs a tool against `suite` in a fresh working directory (also its `OMS_HOME`).
        static func run(_ tool: String, _ arguments: [String], _ suite: TestSuite) async throws -> ToolProcess.Result {
            let dir = try ToolProcess.makeTemporaryDirectory(prefix: "oms-tool-test")
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try await ToolProcess.run(
                tool, arguments, environment: suite.toolEnvironment(home: dir), workingDirectory: dir)
            #expect(!result.timedOut, "\(tool) \(arguments.joined(separator: " ")) hung:\n\(result.transcript)")
            return result
        }

        /// The flags that point `oms-loadgen` at the suite's fresh schemas and its Redis key prefix.
        static func loadgenSuiteFlags(_ suite: TestSuite) -> [String] {
            ["inventory", "orders", "payments", "checkout", "shipments"].flatMap { service in
                ["--\(service)-schema", suite.schemas[service] ?? "?"]
            } + ["--redis-key-prefix", suite.redisKeyPrefix]
        }

        /// Runs an `oms-loadgen` scenario against `suite` (its schemas and Redis prefix, no progress lines), expects
        /// exit 0, and returns the run and its JSON result.
        static func runScenario(_ arguments: [String], _ suite: TestSuite) async throws -> (ToolProcess.Result, [String: Any]) {
            let dir = try ToolProcess.makeTemporaryDirectory(prefix: "oms-loadgen-test")
            defer { try? FileManager.default.removeItem(at: dir) }
            let resultFile = dir.appendingPathComponent("result.json")
            let run = try await ToolProcess.run(
                "oms-loadgen", arguments + ["--no-progress", "--json-out", resultFile.path] + loadgenSuiteFlags(suite),
                environment: suite.toolEnvironment(home: dir), workingDirectory: dir)
            #expect(!run.timedOut)
            #expect(run.status == 0, "\(run.transcript)\n\(logs(suite, TestSuite.allServices))")
            let data = try #require(FileManager.default.contents(atPath: resultFile.path), "no JSON result")
            return (run, object(try JSONSerialization.jsonObject(with: data)))
        }

        static func object(_ any: Any?) -> [String: Any] { any as? [String: Any] ?? [:] }
        static func int(_ any: Any?) -> Int64? { (any as? NSNumber)?.int64Value }

        /// The audit checks of a JSON report (`{"checks": [...]}`) by name.
        static func checks(_ report: Any?) -> [String: [String: Any]] {
            let list = object(report)["checks"] as? [[String: Any]] ?? []
            return Dictionary(list.map { ($0["name"] as? String ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        }

        /// Names of the checks with violations.
        static func failedChecks(_ report: Any?) -> Set<String> {
            Set(checks(report).filter { (int($0.value["violation_count"]) ?? -1) != 0 }.keys)
        }

        static let auditRules: Set<String> = [
            "stock-conserved", "stock-non-negative", "redis-matches-mysql", "placed-orders-confirmed",
            "rejected-checkouts-clean", "checkouts-finished", "client-agrees", "no-lapsed-reservations",
            "authorization-is-total", "no-double-charge", "no-orphans", "charges-follow-fulfilment",
            "restocks-applied-once", "outboxes-drained", "replays-agree",
        ]

        // MARK: omsctl

        @Test func omsctlParkedListsNothingOnAHealthySuiteAndRefusesUnknownCheckouts() async throws {
            try await TestSuite.with(services: ["inventory", "orders", "payments", "checkout"]) { suite in
                let list = try await Self.run("omsctl", ["parked", "--json"], suite)
                #expect(list.status == 0, "\(list.transcript)")
                #expect((list.json as? [Any])?.isEmpty == true, "\(list.stdout)")
                let table = try await Self.run("omsctl", ["parked", "list"], suite)
                #expect(table.status == 0 && table.stdout.contains("CHECKOUT"), "\(table.transcript)")
                let unknown = try await Self.run("omsctl", ["parked", "resume", "12345"], suite)
                #expect(unknown.status == 4, "\(unknown.transcript)")
                let malformed = try await Self.run("omsctl", ["parked", "resume", "not-an-id"], suite)
                #expect(malformed.status == 5, "\(malformed.transcript)")
            }
        }

        @Test func omsctlOutboxListsAndResumesParkedRows() async throws {
            try await TestSuite.with(services: ["orders"]) { suite in
                // Two rows the relay gave up on (inventory is not running, so a resumed row fails again, slowly).
                let ids: [Int64] = try await withDatabase(suite, "orders") { db in
                    var ids: [Int64] = []
                    for key in ["tool-a", "tool-b"] {
                        let r = try await db.execute(
                            """
                            INSERT INTO order_outbox (kind, dedupe_key, order_id, payload, attempts, last_error, created_at,
                                parked_at)
                            VALUES ('restock', ?, 42, '{}', 100, 'inventory unavailable', NOW(6), NOW(6))
                            """, [.string(key)])
                        ids.append(Int64(r.lastInsertId))
                    }
                    return ids
                }
                let list = try await Self.run("omsctl", ["outbox", "--json"], suite)
                #expect(list.status == 0, "\(list.transcript)")
                let entries = list.json as? [[String: Any]] ?? []
                #expect(entries.compactMap { $0["outbox_id"] as? String } == ids.map(String.init), "\(list.stdout)")
                #expect(entries.allSatisfy { $0["last_error"] as? String == "inventory unavailable" }, "\(list.stdout)")
                let table = try await Self.run("omsctl", ["outbox", "list"], suite)
                #expect(table.status == 0 && table.stdout.contains("OUTBOX") && table.stdout.contains("restock"))

                let resume = try await Self.run("omsctl", ["outbox", "resume", String(ids[0]), "--json"], suite)
                #expect(resume.status == 0, "\(resume.transcript)")
                #expect(Self.object(resume.json)["outbox_id"] as? String == String(ids[0]), "\(resume.stdout)")
                let after = try await Self.run("omsctl", ["outbox", "--json"], suite)
                #expect((after.json as? [[String: Any]])?.compactMap { $0["outbox_id"] as? String } == [String(ids[1])])
                let unknown = try await Self.run("omsctl", ["outbox", "resume", "999999"], suite)
                #expect(unknown.status == 4, "\(unknown.transcript)")
                let malformed = try await Self.run("omsctl", ["outbox", "resume", "not-an-id"], suite)
                #expect(malformed.status == 5, "\(malformed.transcript)")
            }
        }

        @Test func omsctlHealthNamesEveryServiceAndFailsWhenOneIsDown() async throws {
            try await TestSuite.with { suite in
                let table = try await Self.run("omsctl", ["health"], suite)
                #expect(table.status == 0, "\(table.transcript)")
                let rows = table.stdout.split(separator: "\n").map(String.init)
                for service in TestSuite.allServices {
                    let row = rows.first { $0.hasPrefix(service + " ") }
                    #expect(row?.contains("serving") == true, "no SERVING row for \(service):\n\(table.stdout)")
                }

                let json = try await Self.run("omsctl", ["health", "--json"], suite)
                #expect(json.status == 0, "\(json.transcript)")
                let entries = json.json as? [[String: Any]] ?? []
                #expect(Set(entries.compactMap { $0["service"] as? String }) == Set(TestSuite.allServices))
                #expect(entries.allSatisfy { $0["status"] as? String == "serving" }, "\(json.stdout)")

                // One service down: exit 1, and the table says which.
                await suite.stopProcess("shipments")
                let down = try await Self.run("omsctl", ["health"], suite)
                #expect(down.status == 1, "\(down.transcript)")
                let shipments = down.stdout.split(separator: "\n").first { $0.hasPrefix("shipments ") }
                #expect(shipments?.contains("UNREACHABLE") == true, "\(down.stdout)")
                let quiet = try await Self.run("omsctl", ["health", "--service", "inventory", "--quiet"], suite)
                #expect(quiet.status == 0 && quiet.stdout.isEmpty, "\(quiet.transcript)")
            }
        }

        @Test func omsctlCreatesAProductAndSetsItsStock() async throws {
            try await TestSuite.with { suite in
                let sku = CheckoutHarness.sku("ctl-mug")
                let created = try await Self.run(
                    "omsctl", ["product", "upsert", "--sku", sku, "--name", "Enamel Mug", "--price-minor", "1250"],
                    suite)
                #expect(created.status == 0, "\(created.transcript)")
                #expect(created.stdout.hasPrefix("created\n"), "\(created.stdout)")

                let shown = try await Self.run("omsctl", ["product", "get", sku, "--json"], suite)
                #expect(shown.status == 0, "\(shown.transcript)")
                let product = Self.object(shown.json)
                #expect(product["sku"] as? String == sku)
                #expect(product["name"] as? String == "Enamel Mug")
                #expect(Self.int(Self.object(product["price"])["amount_minor"]) == 1250)
                #expect(Self.object(product["price"])["currency"] as? String == "USD")
                #expect(product["active"] as? Bool == true)

                let set = try await Self.run(
                    "omsctl", ["stock", "adjust", sku, "--kind", "set", "--quantity", "7"], suite)
                #expect(set.status == 0, "\(set.transcript)")
                let received = try await Self.run(
                    "omsctl",
                    ["stock", "adjust", sku, "--kind", "receive", "--quantity", "3", "--reason", "tool test"], suite)
                #expect(received.status == 0, "\(received.transcript)")

                let stock = try await Self.run("omsctl", ["stock", "get", sku, "--consistent", "--json"], suite)
                #expect(stock.status == 0, "\(stock.transcript)")
                let level = (Self.object(stock.json)["levels"] as? [[String: Any]])?.first ?? [:]
                #expect(level["sku"] as? String == sku)
                #expect(
                    Self.int(level["on_hand"]) == 10 && Self.int(level["reserved"]) == 0
                        && Self.int(level["available"]) == 10,
                    "\(stock.stdout)")

                // The service agrees, through the SDK rather than the tool.
                let viaSDK = try await CheckoutHarness(suite: suite).stock([sku])
                #expect(viaSDK[sku]?.onHand == 10)

                // Unknown product and unknown SKU: exit 4.
                let missing = try await Self.run("omsctl", ["product", "get", sku + "-nope"], suite)
                #expect(missing.status == 4, "\(missing.transcript)")
                #expect(missing.stderr.contains("NOT_FOUND (5)"), "\(missing.stderr)")
                let noStock = try await Self.run("omsctl", ["stock", "get", sku + "-nope"], suite)
                #expect(noStock.status == 4, "\(noStock.transcript)")
            }
        }

        @Test func omsctlCheckoutPlacesAnOrderAndADeclinedCardExitsTwo() async throws {
            try await TestSuite.with { suite in
                let sku = CheckoutHarness.sku("ctl-lamp")
                try await CheckoutHarness(suite: suite).addProduct(sku, priceMinor: 2500, stock: 5)

                let placed = try await Self.run("omsctl", ["checkout", "--sku", "\(sku):2", "--json"], suite)
                #expect(placed.status == 0, "\(placed.transcript)")
                let answer = Self.object(placed.json)
                #expect(answer["outcome"] as? String == "placed", "\(placed.stdout)")
                #expect(Self.int(Self.object(answer["total"])["amount_minor"]) == 5000)
                let orderID = try #require(answer["order_id"] as? String, "\(placed.stdout)")

                let order = try await Self.run("omsctl", ["order", "get", orderID, "--json"], suite)
                #expect(order.status == 0, "\(order.transcript)")
                let orderStatus = Self.object(Self.object(order.json)["order"])["status"] as? String
                #expect(orderStatus == "confirmed", "\(order.stdout)")
                let viaSDK = try await getOrder(suite, orderID)
                #expect(viaSDK.order?.status == .confirmed)

                let declined = try await Self.run(
                    "omsctl", ["checkout", "--sku", "\(sku):1", "--card", CheckoutHarness.declinedCard, "--json"], suite
                )
                #expect(declined.status == 2, "\(declined.transcript)")
                let rejection = Self.object(declined.json)
                #expect(rejection["outcome"] as? String == "rejected")
                #expect(rejection["reason"] as? String == "payment_declined", "\(declined.stdout)")

                // Out of stock is a rejection too (3 left, 4 asked); the text output says so.
                let tooMany = try await Self.run("omsctl", ["checkout", "--sku", "\(sku):4"], suite)
                #expect(tooMany.status == 2, "\(tooMany.transcript)")
                #expect(
                    tooMany.stdout.contains("REJECTED") && tooMany.stdout.contains("out_of_stock"), "\(tooMany.stdout)")

                // Two sold, the declined and refused units back on the shelf.
                let level = try await CheckoutHarness(suite: suite).stock([sku])[sku]
                #expect(level?.onHand == 3 && level?.reserved == 0, "\(String(describing: level))")
            }
        }

        // MARK: oms-loadgen

        @Test func loadgenFlashSaleSellsExactlyTheUnitsAndPassesItsAudit() async throws {
            try await TestSuite.with { suite in
                // One unit per cart and no declined cards, so the 10 units are exactly 10 orders whatever the order
                // the buyers arrive in. (With declines, a unit held by a checkout that is declined later makes the
                // gate turn buyers away meanwhile; when the last buyers are gone before it is released, the sale
                // correctly ends with units left, and how many depends on timing.)
                let (run, result) = try await Self.runScenario(
                    [
                        "flash-sale", "--buyers", "60", "--units", "10", "--max-quantity", "1", "--decline-rate", "0",
                        "--concurrency", "20", "--seed", "7", "--recovery-window", "20",
                    ], suite)
                #expect(run.stdout.contains("SOLD OUT") && run.stdout.contains("audit: PASSED"), "\(run.stdout)")
                #expect(result["scenario"] as? String == "flash-sale")
                #expect(Self.int(result["seed"]) == 7)
                #expect(Self.int(result["stocked_units"]) == 10)
                #expect(Self.int(result["placed_units"]) == 10, "\(run.stdout)")
                #expect(result["sold_out"] as? Bool == true)
                let counts = Self.object(result["counts"])
                #expect(Self.int(counts["checkouts"]) == 60)
                #expect(Self.int(counts["placed"]) == 10)
                #expect(Self.int(result["placed_in_log"]) == 10)

                let checks = Self.checks(result["audit"])
                #expect(Set(checks.keys) == Self.auditRules)
                #expect(Self.failedChecks(result["audit"]).isEmpty, "\(run.stdout)")
                #expect(checks.values.allSatisfy { $0["skipped"] == nil }, "a rule was skipped: \(run.stdout)")
                #expect(Self.int(checks["placed-orders-confirmed"]?["examined"]) == 10)
                #expect(Self.int(checks["client-agrees"]?["examined"]) == 60)

                // The suite agrees: the hot SKU is empty and nothing is held.
                let prefix = try #require(result["prefix"] as? String)
                let level = try await CheckoutHarness(suite: suite).stock([prefix + "hot"])[prefix + "hot"]
                #expect(level?.onHand == 0 && level?.reserved == 0, "\(String(describing: level))")
            }
        }

        @Test func loadgenMixedWithFulfilmentShipsReturnsReplaysAndPassesItsAudit() async throws {
            try await TestSuite.with(settings: ["OMS_SHIPMENTS_OUTBOX_INTERVAL": "100ms"]) { suite in
                let (run, result) = try await Self.runScenario(
                    [
                        "mixed", "--duration", "4", "--concurrency", "4", "--catalog-size", "20", "--stock-per-sku", "1000",
                        "--checkout-share", "0.8", "--fulfil-fraction", "0.5", "--return-fraction", "0.6",
                        "--replay-sample", "20", "--recovery-window", "60", "--baseline-seconds", "0", "--seed", "11",
                    ], suite)
                #expect(run.stdout.contains("audit: PASSED") && run.stdout.contains("fulfilment "), "\(run.stdout)")
                let fulfilment = Self.object(result["fulfilment"])
                #expect((Self.int(fulfilment["shipped"]) ?? 0) > 0, "\(run.stdout)")
                #expect((Self.int(fulfilment["returns"]) ?? 0) > 0, "\(run.stdout)")
                #expect(Self.object(fulfilment["errors"]).isEmpty, "\(run.stdout)")
                #expect(Self.int(Self.object(result["replay"])["sent"]) == 20, "\(run.stdout)")

                let checks = Self.checks(result["audit"])
                #expect(Set(checks.keys) == Self.auditRules)
                #expect(Self.failedChecks(result["audit"]).isEmpty, "\(run.stdout)")
                #expect((Self.int(checks["charges-follow-fulfilment"]?["examined"]) ?? 0) > 0)
                #expect(Self.int(checks["replays-agree"]?["examined"]) == 20)
            }
        }

        @Test func loadgenAuditPassesOnTheSuiteAndFailsOnTamperedStock() async throws {
            try await TestSuite.with { suite in
                let harness = CheckoutHarness(suite: suite)
                let sku = CheckoutHarness.sku("audit-kettle")
                try await harness.addProduct(sku, priceMinor: 3000, stock: 4)
                let placed = try await harness.place(
                    CheckoutHarness.request(key: CheckoutHarness.key("audit-ok"), lines: [.init(sku, 1)]))
                guard case .placed = placed.outcome else {
                    Issue.record("set-up checkout not placed: \(placed)")
                    return
                }
                let declined = try await harness.place(
                    CheckoutHarness.request(
                        key: CheckoutHarness.key("audit-declined"), lines: [.init(sku, 1)],
                        card: CheckoutHarness.declinedCard))
                guard case .rejected = declined.outcome else {
                    Issue.record("set-up checkout not rejected: \(declined)")
                    return
                }

                let clean = try await Self.run(
                    "oms-loadgen", ["audit", "--json"] + Self.loadgenSuiteFlags(suite), suite)
                #expect(clean.status == 0, "\(clean.transcript)")
                let checks = Self.checks(clean.json)
                #expect(Set(checks.keys) == Self.auditRules, "\(clean.stdout)")
                #expect(Self.failedChecks(clean.json).isEmpty, "\(clean.stdout)")
                #expect(Self.int(checks["placed-orders-confirmed"]?["examined"]) == 1)
                #expect(Self.int(checks["rejected-checkouts-clean"]?["examined"]) == 1)
                #expect(Self.int(checks["stock-conserved"]?["examined"]) == 1)
                // `omsctl audit` runs the same audit (oms-loadgen next to it) and maps its verdict.
                let viaCtl = try await Self.run("omsctl", ["audit", "--json"] + Self.loadgenSuiteFlags(suite), suite)
                #expect(viaCtl.status == 0, "\(viaCtl.transcript)")
                #expect(Self.failedChecks(viaCtl.json).isEmpty && Set(Self.checks(viaCtl.json).keys) == Self.auditRules)

                // Five units appear on the shelf without a ledger entry: stock is no longer conserved.
                try await withDatabase(suite, "inventory") { db in
                    _ = try await db.execute("UPDATE stock SET on_hand = on_hand + 5 WHERE sku = ?", [.string(sku)])
                }
                let tampered = try await Self.run("oms-loadgen", ["audit"] + Self.loadgenSuiteFlags(suite), suite)
                #expect(tampered.status == 1, "\(tampered.transcript)")
                #expect(tampered.stdout.hasPrefix("audit: FAILED"), "\(tampered.stdout)")
                let line = tampered.stdout.split(separator: "\n").first { $0.contains("stock-conserved") }
                #expect(line?.contains("[FAIL]") == true, "\(tampered.stdout)")
                #expect(tampered.stdout.contains("\(sku): stocked 4 != on hand 8 + sold 1"), "\(tampered.stdout)")
                let tamperedViaCtl = try await Self.run("omsctl", ["audit"] + Self.loadgenSuiteFlags(suite), suite)
                #expect(tamperedViaCtl.status == 1, "\(tamperedViaCtl.transcript)")
                #expect(tamperedViaCtl.stdout.contains("stock-conserved"), "\(tamperedViaCtl.stdout)")
            }
        }
    }
}
