import Foundation
import OMSAPI
import OMSClient
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

/// Process-level tests of the checkout coordinator (issue 10): the five real `oms-*` executables,
/// MariaDB and Redis, through `TestSuite`. Every checkout that is started is polled to its end and
/// checked against all services (`CheckoutHarness.verify`), and every test ends with the suite-wide
/// audit (`CheckoutHarness.audit`). No assertion is about speed; "eventually" is a poll with a
/// generous bound.
@Suite(.serialized) struct CheckoutProcessTests {
    typealias Line = CheckoutHarness.Line

    /// Short leases and a fast sweeper so that recovery happens within seconds (the lease must exceed the
    /// step timeout by more than 1 s: docs/checkout.md).
    static func settings(lease: String = "3s", stepTimeout: String = "1500ms", extra: [String: String] = [:])
        -> [String: String]
    {
        var s = [
            "OMS_CHECKOUT_LEASE": lease,
            "OMS_CHECKOUT_STEP_TIMEOUT": stepTimeout,
            "OMS_CHECKOUT_RECOVERY_INTERVAL": "500ms",
        ]
        for (k, v) in extra { s[k] = v }
        return s
    }

    // MARK: 1. Happy path, declined card, out of stock, multi-line carts, racing for the last units

    @Test func placesDeclinesRejectsAndNeverOversells() async throws {
        try await TestSuite.with(settings: Self.settings(lease: "10s", stepTimeout: "8s")) { suite in
            let h = CheckoutHarness(suite: suite)
            let a = CheckoutHarness.sku("A"), b = CheckoutHarness.sku("B"), c = CheckoutHarness.sku("C")
            let scarce = CheckoutHarness.sku("SCARCE"), last = CheckoutHarness.sku("LAST")
            let stocked: [String: Int64] = [a: 100, b: 50, c: 20, scarce: 1, last: 10]
            let prices: [String: Int64] = [a: 1999, b: 550, c: 12000, scarce: 300, last: 4200]
            for (sku, units) in stocked { try await h.addProduct(sku, priceMinor: prices[sku]!, stock: units) }
            var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []

            // Happy path: placed, priced by the catalog, confirmed, stock moved out.
            let happyLines = [Line(a, 2)]
            let happyKey = CheckoutHarness.key("happy")
            let happy = try await h.place(CheckoutHarness.request(key: happyKey, lines: happyLines))
            guard case .placed(let placed)? = happy.outcome else {
                Issue.record("happy path not placed: \(happy)\n\(h.logs(["checkout"]))")
                return
            }
            let happyTotal: Int64 = 2 * 1999
            #expect(placed.total?.amountMinor == happyTotal && placed.total?.currency == "USD", "\(placed)")
            #expect(placed.status == .confirmed)
            #expect(placed.reservationID == happy.checkoutID)
            let happyRecord = try #require(await h.waitFinished(key: happyKey))
            #expect(happyRecord.result == happy, "stored result differs from the answer")
            carts.append((happyLines, try await h.verify(happyRecord)))
            var level = try await h.stock([a])[a]
            #expect(level?.onHand == 98 && level?.reserved == 0 && level?.available == 98, "\(String(describing: level))")

            // Declined card: rejected payment_declined; order cancelled; stock and gate units back; no charge.
            let declinedLines = [Line(b, 3)]
            let declinedKey = CheckoutHarness.key("declined")
            let declined = try await h.place(
                CheckoutHarness.request(key: declinedKey, lines: declinedLines, card: CheckoutHarness.declinedCard))
            guard case .rejected(let rejection)? = declined.outcome, case .paymentDeclined(let why)? = rejection.reason else {
                Issue.record("declined card not rejected as payment_declined: \(declined)")
                return
            }
            #expect(why.code != .unspecified, "\(why)")
            let declinedRecord = try #require(await h.waitFinished(key: declinedKey))
            carts.append((declinedLines, try await h.verify(declinedRecord)))
            let cancelled = try #require(try await h.orderOf(checkoutID: declined.checkoutID), "the order of a declined checkout was created, then cancelled")
            #expect(cancelled.status == .cancelled)
            level = try await h.stock([b])[b]
            #expect(level?.onHand == 50 && level?.reserved == 0 && level?.available == 50, "\(String(describing: level))")
            let gate = try await h.stock([b], consistent: false)[b]
            #expect(gate?.available == 50, "gate units not back: \(String(describing: gate))")
            let declinedPayments = try await h.scalar(
                "payments", "SELECT COUNT(*) AS n FROM payment_intents WHERE idempotency_key = ? AND status <> 'failed'",
                [.string(declined.checkoutID)])
            #expect(declinedPayments == 0, "a declined checkout left a payment that is not failed")

            // Out of stock: rejected with the SKUs, nothing held, nothing created.
            let oosLines = [Line(a, 1), Line(scarce, 2)]
            let oosKey = CheckoutHarness.key("oos")
            let oos = try await h.place(CheckoutHarness.request(key: oosKey, lines: oosLines))
            guard case .rejected(let oosRejection)? = oos.outcome, case .outOfStock(let short)? = oosRejection.reason else {
                Issue.record("not rejected out of stock: \(oos)")
                return
            }
            #expect(short.skus == [scarce], "\(short.skus)")
            carts.append((oosLines, try await h.verify(try #require(await h.waitFinished(key: oosKey)))))
            #expect(try await h.orderOf(checkoutID: oos.checkoutID) == nil, "an out-of-stock checkout created an order")

            // Multi-line cart: one order with every line, total = Σ catalog price × quantity.
            let multiLines = [Line(c, 1), Line(a, 3), Line(b, 5)]
            let multiKey = CheckoutHarness.key("multi")
            let multi = try await h.place(CheckoutHarness.request(key: multiKey, lines: multiLines))
            guard case .placed(let multiPlaced)? = multi.outcome else {
                Issue.record("multi-line cart not placed: \(multi)")
                return
            }
            let multiTotal: Int64 = 12000 + 3 * 1999 + 5 * 550
            #expect(multiPlaced.total?.amountMinor == multiTotal, "\(multiPlaced)")
            carts.append((multiLines, try await h.verify(try #require(await h.waitFinished(key: multiKey)))))
            let multiOrder = try #require(try await h.orderOf(checkoutID: multi.checkoutID))
            #expect(Set(multiOrder.lines.map { "\($0.sku)x\($0.quantity)" }) == Set(multiLines.map { "\($0.sku)x\($0.quantity)" }))

            // 30 concurrent checkouts racing for the last 10 units: exactly 10 placed, stock ends at 0,
            // available never seen negative.
            let watcher = Task { () -> Int64 in
                var lowest = Int64.max
                while !Task.isCancelled {
                    if let l = try? await h.stock([last])[last] { lowest = min(lowest, l.available, l.onHand - l.reserved) }
                    try? await Task.sleep(for: .milliseconds(25))
                }
                return lowest
            }
            let raceKeys = (0..<30).map { CheckoutHarness.key("race\($0)") }
            let answers = await withTaskGroup(of: Result<CheckoutV1.PlaceOrderResponse, any Error>.self) { group in
                for key in raceKeys {
                    group.addTask {
                        do { return .success(try await h.place(CheckoutHarness.request(key: key, lines: [Line(last, 1)]))) }
                        catch { return .failure(error) }
                    }
                }
                var all: [Result<CheckoutV1.PlaceOrderResponse, any Error>] = []
                for await r in group { all.append(r) }
                return all
            }
            watcher.cancel()
            let lowest = await watcher.value
            for case .failure(let error) in answers { Issue.record("a racing checkout failed: \(error)") }
            var raceEnds: [CheckoutHarness.End?] = []
            for key in raceKeys {
                let record = try #require(await h.waitFinished(key: key))
                let end = try await h.verify(record)
                raceEnds.append(end)
                carts.append(([Line(last, 1)], end))
                if case .rejected(let reason)? = end {
                    guard case .outOfStock(let s)? = reason else {
                        Issue.record("a racing checkout was rejected for another reason: \(String(describing: reason))")
                        continue
                    }
                    #expect(s.skus == [last])
                }
            }
            #expect(raceEnds.filter { $0?.isPlaced == true }.count == 10, "placed \(raceEnds.filter { $0?.isPlaced == true }.count) of the last 10 units")
            #expect(lowest >= 0, "available seen at \(lowest)")
            let final = try await h.stock([last])[last]
            #expect(final?.onHand == 0 && final?.available == 0 && final?.reserved == 0, "\(String(describing: final))")

            try await h.audit(stocked: stocked, sold: checkoutUnitsSold(carts))
        }
    }

    // MARK: 2. kill -9 of the coordinator after reserve, after create order, after authorize

    @Test func coordinatorKilledAfterEachStepEndsEveryCheckout() async throws {
        var settings = Self.settings(lease: "2200ms", stepTimeout: "1100ms")
        settings["OMS_CHECKOUT_RECOVERY_INTERVAL"] = "250ms"
        try await TestSuite.with(settings: settings) { suite in
            let h = CheckoutHarness(suite: suite)
            let sku = CheckoutHarness.sku("CRASH")
            try await h.addProduct(sku, priceMinor: 1250, stock: 1_000)
            var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []
            // After reserve or create order the card is gone with the process: recovery compensates. After
            // authorize, recovery asks payments, finds the authorization and completes forward.
            let cases: [(failpoint: String, placed: Bool)] = [("reserve", false), ("create-order", false), ("authorize", true)]
            for (failpoint, expectPlaced) in cases {
                for i in 0..<10 {
                    try await suite.restartProcess("checkout", environment: ["OMS_CHECKOUT_FAILPOINT": "crash-after:\(failpoint)"])
                    let key = CheckoutHarness.key("crash-\(failpoint)-\(i)")
                    let lines = [Line(sku, Int64(i % 3 + 1))]
                    do {
                        let answer = try await h.place(CheckoutHarness.request(key: key, lines: lines), timeout: .seconds(15))
                        Issue.record("crash-after:\(failpoint) #\(i): the coordinator answered \(answer) instead of dying")
                    } catch let e as RPCError {
                        #expect(![.invalidArgument, .failedPrecondition, .notFound].contains(e.code),
                                "crash-after:\(failpoint) #\(i): \(e)")
                    } catch {
                        // A transport error: the process died under the call.
                    }
                    let died = await CheckoutHarness.eventually(timeout: .seconds(20)) {
                        !(suite.processes["checkout"]?.isRunning ?? true)
                    }
                    #expect(died, "crash-after:\(failpoint) #\(i): oms-checkout is still running\n\(h.logs(["checkout"]))")
                    try await suite.restartProcess("checkout")
                    guard let record = await h.waitFinished(key: key, timeout: .seconds(60)) else {
                        carts.append((lines, nil))
                        continue
                    }
                    let end = try await h.verify(record)
                    carts.append((lines, end))
                    #expect(record.attempts >= 2, "crash-after:\(failpoint) #\(i): not recovered (attempts \(record.attempts))")
                    if expectPlaced {
                        #expect(end?.isPlaced == true, "crash-after:\(failpoint) #\(i): \(String(describing: record.result))")
                    } else {
                        guard case .rejected(let reason)? = end, case .failed(let failed)? = reason else {
                            Issue.record("crash-after:\(failpoint) #\(i): expected a compensated failure, got \(String(describing: record.result))")
                            continue
                        }
                        #expect(failed.step == "recovery" && failed.code == RPCStatusCode.aborted.rawValue, "\(failed)")
                    }
                }
            }
            let log = suite.processes["checkout"]?.logTail(lines: 100_000) ?? ""
            #expect(log.contains("TEST-ONLY failpoint set"), "no start-up warning for the failpoint")
            try await h.audit(stocked: [sku: 1_000], sold: checkoutUnitsSold(carts))
        }
    }

    // MARK: 3. kill -9 of payments during authorize

    @Test func paymentsKilledDuringAuthorize() async throws {
        let settings = Self.settings(
            lease: "6s", stepTimeout: "4s",
            extra: [
                "OMS_PAYMENTS_SANDBOX_LATENCY": "2s",
                "OMS_PAYMENTS_RESOLVER_INTERVAL": "500ms",
            ])
        try await TestSuite.with(settings: settings) { suite in
            let h = CheckoutHarness(suite: suite)
            let sku = CheckoutHarness.sku("PAYKILL")
            try await h.addProduct(sku, priceMinor: 990, stock: 100)
            var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []
            for round in 0..<2 {
                let keys = (0..<2).map { CheckoutHarness.key("paykill\(round)-\($0)") }
                let lines = [Line(sku, 1)]
                let calls = keys.map { key in
                    Task { try? await h.place(CheckoutHarness.request(key: key, lines: lines), timeout: .seconds(20)) }
                }
                // Kill payments while the authorizations are in flight (the sandbox answers after 2 s).
                let authorizing = await CheckoutHarness.eventually(timeout: .seconds(20)) {
                    for key in keys { guard try await h.checkout(key: key)?.phase == "authorizing" else { return false } }
                    return true
                }
                #expect(authorizing, "round \(round): checkouts never reached authorizing\n\(h.logs(["checkout", "payments"]))")
                try await Task.sleep(for: .milliseconds(300))
                await suite.crash("payments")
                try await Task.sleep(for: .milliseconds(500))
                try await suite.startProcess("payments")
                for call in calls { _ = await call.value }
                for key in keys {
                    guard let record = await h.waitFinished(key: key, timeout: .seconds(90)) else { continue }
                    carts.append((lines, try await h.verify(record)))
                    let intents = try await h.scalar(
                        "payments",
                        "SELECT COUNT(*) AS n FROM payment_intents WHERE idempotency_key = ? AND status IN ('authorized', 'captured', 'partially_captured')",
                        [.string(record.checkoutID)])
                    #expect(intents <= 1, "\(intents) authorizations for checkout \(record.checkoutID)")
                }
            }
            // Payments works again afterwards.
            let afterKey = CheckoutHarness.key("paykill-after")
            let after = try await h.place(CheckoutHarness.request(key: afterKey, lines: [Line(sku, 1)]))
            #expect({ if case .placed? = after.outcome { true } else { false } }(), "\(after)")
            carts.append(([Line(sku, 1)], try await h.verify(try #require(await h.waitFinished(key: afterKey)))))
            try await h.audit(stocked: [sku: 100], sold: checkoutUnitsSold(carts))
        }
    }

    // MARK: 4. Orders unavailable for a while; Redis restarted

    @Test func ordersUnavailableForAWhileLeavesNothingOrphaned() async throws {
        try await TestSuite.with(settings: Self.settings(lease: "4s", stepTimeout: "2s")) { suite in
            let h = CheckoutHarness(suite: suite)
            let sku = CheckoutHarness.sku("ORDDOWN")
            try await h.addProduct(sku, priceMinor: 2500, stock: 50)
            var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []
            let firstKey = CheckoutHarness.key("orders-up")
            _ = try await h.place(CheckoutHarness.request(key: firstKey, lines: [Line(sku, 1)]))
            carts.append(([Line(sku, 1)], try await h.verify(try #require(await h.waitFinished(key: firstKey)))))

            await suite.stopProcess("orders")
            let keys = (0..<4).map { CheckoutHarness.key("orders-down\($0)") }
            let lines = [Line(sku, 2)]
            await withTaskGroup(of: Void.self) { group in
                for key in keys {
                    group.addTask {
                        do {
                            let answer = try await h.place(CheckoutHarness.request(key: key, lines: lines), timeout: .seconds(8))
                            if case .placed? = answer.outcome { Issue.record("placed while orders was down: \(answer)") }
                        } catch {
                            // An error is acceptable: GetCheckout tells what happened.
                        }
                    }
                }
            }
            // While orders is away the units stay held or are already released, never sold.
            let during = try await h.stock([sku])[sku]
            #expect(during.map { $0.onHand == 49 } == true, "\(String(describing: during))")
            try await Task.sleep(for: .seconds(2))
            try await suite.startProcess("orders")
            for key in keys {
                guard let record = await h.waitFinished(key: key, timeout: .seconds(90)) else { continue }
                carts.append((lines, try await h.verify(record)))
            }
            let againKey = CheckoutHarness.key("orders-back")
            let again = try await h.place(CheckoutHarness.request(key: againKey, lines: [Line(sku, 1)]))
            #expect({ if case .placed? = again.outcome { true } else { false } }(), "\(again)")
            carts.append(([Line(sku, 1)], try await h.verify(try #require(await h.waitFinished(key: againKey)))))
            try await h.audit(stocked: [sku: 50], sold: checkoutUnitsSold(carts))
        }
    }

    @Test func redisRestartedDoesNotOversell() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        do {
            try await TestSuite.with(settings: Self.settings(lease: "4s", stepTimeout: "2s", extra: ["OMS_REDIS_URL": redis.url])) { suite in
                let h = CheckoutHarness(suite: suite)
                let sku = CheckoutHarness.sku("REDIS")
                try await h.addProduct(sku, priceMinor: 700, stock: 6)
                var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []
                for i in 0..<3 {
                    let key = CheckoutHarness.key("redis-before\(i)")
                    _ = try await h.place(CheckoutHarness.request(key: key, lines: [Line(sku, 1)]))
                    let end = try await h.verify(try #require(await h.waitFinished(key: key)))
                    #expect(end?.isPlaced == true, "before the restart: \(String(describing: end))")
                    carts.append(([Line(sku, 1)], end))
                }
                // The gate lives in this private Redis (so restarting it touches no one else's keys)...
                #expect((redis.keyCount() ?? 0) > 0, "inventory did not use the private Redis at \(redis.url)")
                // ...which now loses every key (no persistence); a checkout tried while it is down must not
                // oversell either.
                await redis.stop()
                let downKey = CheckoutHarness.key("redis-down")
                _ = try? await h.place(CheckoutHarness.request(key: downKey, lines: [Line(sku, 1)]), timeout: .seconds(8))
                try await redis.start()
                #expect(redis.keyCount() == 0)
                // 12 concurrent checkouts for what is left (2 or 3 units).
                let keys = (0..<12).map { CheckoutHarness.key("redis-after\($0)") }
                await withTaskGroup(of: Void.self) { group in
                    for key in keys {
                        group.addTask { _ = try? await h.place(CheckoutHarness.request(key: key, lines: [Line(sku, 1)])) }
                    }
                }
                for key in [downKey] + keys {
                    guard let record = await h.waitFinished(key: key, timeout: .seconds(60)) else { continue }
                    carts.append(([Line(sku, 1)], try await h.verify(record)))
                }
                let placed = carts.filter { $0.end?.isPlaced == true }.count
                #expect(placed <= 6, "oversold: \(placed) placed for 6 units")
                // No undersell either: every unit left was sellable once Redis was back.
                #expect(placed == 6, "only \(placed) of 6 units sold\n\(h.logs(["inventory"]))")
                try await h.audit(stocked: [sku: 6], sold: checkoutUnitsSold(carts))
            }
        } catch {
            await redis.stop()
            throw error
        }
        await redis.stop()
    }

    // MARK: 5. Idempotency through the process

    @Test func idempotencyKeysThroughTheProcess() async throws {
        try await TestSuite.with(settings: Self.settings(lease: "10s", stepTimeout: "8s")) { suite in
            let h = CheckoutHarness(suite: suite)
            let sku = CheckoutHarness.sku("IDEM"), other = CheckoutHarness.sku("IDEM2")
            try await h.addProduct(sku, priceMinor: 1500, stock: 100)
            try await h.addProduct(other, priceMinor: 800, stock: 100)
            var carts: [(lines: [Line], end: CheckoutHarness.End?)] = []

            // Same key ×3: one order, one authorization, identical results.
            let key = CheckoutHarness.key("idem")
            let customer = "cust-\(UInt32.random(in: 0...UInt32.max))"
            let lines = [Line(sku, 2), Line(other, 1)]
            let request = CheckoutHarness.request(key: key, lines: lines, customer: customer)
            var answers: [CheckoutV1.PlaceOrderResponse] = []
            for _ in 0..<3 { answers.append(try await h.place(request)) }
            #expect({ if case .placed? = answers[0].outcome { true } else { false } }(), "\(answers[0])")
            #expect(answers[1] == answers[0] && answers[2] == answers[0], "\(answers)")
            // The same cart with its lines in another order is the same request.
            var reordered = request
            reordered.lines.reverse()
            #expect(try await h.place(reordered) == answers[0])
            let record = try #require(await h.waitFinished(key: key))
            carts.append((lines, try await h.verify(record)))
            #expect(try await h.scalar("orders", "SELECT COUNT(*) AS n FROM orders WHERE customer_id = ?", [.string(customer)]) == 1)
            #expect(try await h.scalar("payments", "SELECT COUNT(*) AS n FROM payment_intents WHERE checkout_id = ?",
                                       [.string(record.checkoutID)]) == 1)
            #expect(try await h.scalar("checkout", "SELECT COUNT(*) AS n FROM checkouts WHERE idempotency_key = ?", [.string(key)]) == 1)

            // Same key, different body → 9 FAILED_PRECONDITION, nothing changes.
            var different = request
            different.lines[0].quantity = 3
            do {
                let answer = try await h.place(different)
                Issue.record("a different request with a used key was answered: \(answer)")
            } catch let e as RPCError {
                #expect(e.code == .failedPrecondition, "\(e)")
            }
            #expect(try await h.scalar("orders", "SELECT COUNT(*) AS n FROM orders WHERE customer_id = ?", [.string(customer)]) == 1)

            // 20 concurrent calls with one key → one order; every answer is the result or "in progress".
            let raceKey = CheckoutHarness.key("idem-race")
            let raceCustomer = "cust-\(UInt32.random(in: 0...UInt32.max))"
            let raceRequest = CheckoutHarness.request(key: raceKey, lines: [Line(sku, 1)], customer: raceCustomer)
            let raced = await withTaskGroup(of: Result<CheckoutV1.PlaceOrderResponse, any Error>.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do { return .success(try await h.place(raceRequest)) } catch { return .failure(error) }
                    }
                }
                var all: [Result<CheckoutV1.PlaceOrderResponse, any Error>] = []
                for await r in group { all.append(r) }
                return all
            }
            let responses = raced.compactMap { try? $0.get() }
            for case .failure(let error) in raced { Issue.record("a concurrent call with one key failed: \(error)") }
            #expect(Set(responses.map(\.checkoutID)).count == 1, "\(Set(responses.map(\.checkoutID)))")
            let finals = Set(responses.filter { if case .inProgress? = $0.outcome { false } else { true } })
            #expect(finals.count == 1, "different results for one key: \(finals)")
            let raceRecord = try #require(await h.waitFinished(key: raceKey))
            let raceEnd = try await h.verify(raceRecord)
            #expect(raceEnd?.isPlaced == true, "\(String(describing: raceRecord.result))")
            if let only = finals.first { #expect(only == raceRecord.result, "answer differs from the stored result") }
            carts.append(([Line(sku, 1)], raceEnd))
            #expect(try await h.scalar("orders", "SELECT COUNT(*) AS n FROM orders WHERE customer_id = ?", [.string(raceCustomer)]) == 1)
            #expect(try await h.scalar("payments", "SELECT COUNT(*) AS n FROM payment_intents WHERE idempotency_key = ?",
                                       [.string(raceRecord.checkoutID)]) == 1)

            try await h.audit(stocked: [sku: 100, other: 100], sold: checkoutUnitsSold(carts))
        }
    }
}
