import Checkout
import Foundation
import Logging
import OMSAPI
import OMSMySQL
import OMSTestKit
import Testing

/// A fresh `oms_checkout_t…` schema with the migrations applied, fake services, and coordinators.
struct CheckoutHarness {
    let database: MySQLDatabase
    let services: FakeServices
    let logger: Logger

    /// Runs `body` against a fresh schema (dropped afterwards).
    static func run(_ body: (CheckoutHarness) async throws -> Void) async throws {
        let env = try TestEnvironment.load()
        try await env.withFreshSchema(service: "checkout", poolSize: 16) { config, _ in
            let logger = Logger(label: "checkout-test")
            let database = MySQLDatabase(primary: config, logger: logger)
            do {
                let dir = CheckoutDefinition.migrationsDirectory(root: TestEnvironment.packageRoot())
                let migrations = try MigrationRunner.loadMigrations(directory: dir)
                try await MigrationRunner(pool: database.primary, migrations: migrations, logger: logger).run()
                let services = FakeServices()
                services.addProduct("A", price: 1250, stock: 100)
                services.addProduct("B", price: 799, stock: 100)
                services.addProduct("C", price: 5, stock: 100)
                try await body(CheckoutHarness(database: database, services: services, logger: logger))
                await database.shutdown()
            } catch {
                await database.shutdown()
                throw error
            }
        }
    }

    /// A coordinator; `lease` short for instances that are made to "crash".
    func coordinator(
        name: String = "test-\(UInt32.random(in: 0...UInt32.max))", lease: Duration = .seconds(30),
        stepTimeout: Duration = .seconds(3), maxAttempts: Int = CheckoutConfiguration().maxAttempts
    ) -> CheckoutCoordinator {
        var c = CheckoutConfiguration()
        c.instanceName = name
        c.nodeID = Int.random(in: 0...1023)
        c.lease = lease
        c.stepTimeout = stepTimeout
        c.deferDelay = .milliseconds(10)
        c.retryInitialDelay = .milliseconds(2)
        c.retryMaximumDelay = .milliseconds(20)
        c.pollInterval = .milliseconds(10)
        c.maxAttempts = maxAttempts
        return CheckoutCoordinator(
            database: database, inventory: services, orders: services, payments: services, configuration: c,
            logger: logger)
    }

    func service(_ coordinator: CheckoutCoordinator) -> CheckoutService { CheckoutService(coordinator: coordinator) }

    static func context(deadline: Duration = .seconds(15)) -> ServerContext {
        ServerContext(
            method: CheckoutV1.Checkout.Method.placeOrder, metadata: [:], deadline: ContinuousClock.now + deadline,
            peer: "test")
    }

    /// Runs recovery passes of a fresh coordinator until no checkout is open (bounded number of passes).
    func recoverAll(_ coordinator: CheckoutCoordinator) async throws {
        for _ in 0..<500 {
            let report = try await coordinator.recoverOnce()
            if report.open == 0 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("checkouts still open after 500 recovery passes")
    }

    func openCount() async throws -> Int {
        try await database.write { c in try await c.queryOne("SELECT COUNT(*) AS n FROM checkouts WHERE is_open = 1")?.int("n") ?? 0 }
    }
}

/// A valid request.
func placeOrderRequest(
    key: String = UUID().uuidString, lines: [(String, Int64)] = [("A", 2)], card: String = "4242424242424242",
    metadata: String = "{\"gift\":true}"
) -> CheckoutV1.PlaceOrderRequest {
    var r = CheckoutV1.PlaceOrderRequest()
    r.idempotencyKey = key
    r.customer = CommonV1.Customer(customerID: "cust-1", name: "Ada Lovelace", email: "ada@example.com")
    r.lines = lines.map { CheckoutV1.PlaceOrderRequest.Line(sku: $0.0, quantity: $0.1, attributesJson: "{\"colour\":\"red\"}") }
    var c = PaymentsV1.Card()
    c.number = card
    c.expMonth = 12
    c.expYear = 2099
    c.cvc = "123"
    c.holderName = "Ada Lovelace"
    r.paymentMethod = PaymentsV1.PaymentMethod(kind: .card(c))
    r.shippingAddress = CommonV1.Address(
        name: "Ada Lovelace", line1: "1 Analytical St", line2: "", city: "London", region: "", postalCode: "N1",
        country: "GB", phone: "")
    r.metadataJson = metadata
    return r
}

extension CheckoutV1.PlaceOrderResponse {
    var placed: CheckoutV1.PlaceOrderResponse.Placed? {
        if case .placed(let p)? = outcome { return p }
        return nil
    }

    var rejection: CheckoutV1.PlaceOrderResponse.Rejected.Reason? {
        if case .rejected(let r)? = outcome { return r.reason }
        return nil
    }

    var isInProgress: Bool {
        if case .inProgress? = outcome { return true }
        return false
    }
}
