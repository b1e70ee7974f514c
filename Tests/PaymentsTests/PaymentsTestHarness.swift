import Foundation
import Logging
import NIOConcurrencyHelpers
import OMSAPI
import OMSMySQL
import OMSProto
import OMSRPCCore
import OMSTestKit
import Testing

@testable import Payments

/// Log lines captured by `CapturingLogHandler`: message and every metadata value, rendered.
final class LogStore: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    func append(_ line: String) { lines.withLockedValue { $0.append(line) } }

    var all: [String] { lines.withLockedValue { $0 } }
}

/// A swift-log handler that keeps every line (all levels) in a `LogStore`.
struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        for (k, v) in event.metadata ?? [:] { merged[k] = v }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        store.append("\(event.level) \(event.message) \(rendered)")
    }
}

/// A migrated fresh schema, a sandbox and the service, for one test.
struct PaymentsHarness {
    let service: PaymentsService
    let sandbox: SandboxPaymentProvider
    let database: MySQLDatabase
    let logs: LogStore

    var engine: PaymentsEngine { service.engine }

    func context(
        _ method: MethodDescriptor = PaymentsV1.Payments.Method.authorize, timeout: Duration? = nil,
        metadata: Metadata = [:]
    ) -> ServerContext {
        ServerContext(
            method: method, metadata: metadata, deadline: timeout.map { ContinuousClock.now + $0 }, peer: "in-process")
    }

    static func authorizeRequest(
        key: String, order: String = "1001", amount: Int64 = 10_000, currency: String = "EUR",
        card: String = SandboxPaymentProvider.TestCard.success, expMonth: UInt32 = 12, expYear: UInt32 = 2099
    ) -> PaymentsV1.AuthorizeRequest {
        var r = PaymentsV1.AuthorizeRequest()
        r.idempotencyKey = key
        r.orderID = order
        r.amount = CommonV1.Money(amountMinor: amount, currency: currency)
        var c = PaymentsV1.Card()
        c.number = card
        c.expMonth = expMonth
        c.expYear = expYear
        c.cvc = "123"
        var method = PaymentsV1.PaymentMethod()
        method.kind = .card(c)
        r.paymentMethod = method
        return r
    }

    func authorize(_ request: PaymentsV1.AuthorizeRequest, timeout: Duration? = nil) async throws -> PaymentsV1.Payment
    {
        let response = try await service.authorize(request, context: context(timeout: timeout))
        return try #require(response.payment)
    }

    func capture(_ paymentID: String, _ amount: Int64, key: String, currency: String = "EUR") async throws
        -> PaymentsV1.CaptureResponse
    {
        var r = PaymentsV1.CaptureRequest()
        r.paymentID = paymentID
        r.amount = CommonV1.Money(amountMinor: amount, currency: currency)
        r.idempotencyKey = key
        return try await service.capture(r, context: context(PaymentsV1.Payments.Method.capture))
    }

    func refund(_ paymentID: String, _ amount: Int64, key: String, currency: String = "EUR") async throws
        -> PaymentsV1.RefundResponse
    {
        var r = PaymentsV1.RefundRequest()
        r.paymentID = paymentID
        r.amount = CommonV1.Money(amountMinor: amount, currency: currency)
        r.idempotencyKey = key
        return try await service.refund(r, context: context(PaymentsV1.Payments.Method.refund))
    }

    func void(_ paymentID: String, key: String) async throws -> PaymentsV1.VoidAuthorizationResponse {
        var r = PaymentsV1.VoidAuthorizationRequest()
        r.paymentID = paymentID
        r.idempotencyKey = key
        return try await service.voidAuthorization(r, context: context(PaymentsV1.Payments.Method.voidAuthorization))
    }

    func get(_ lookup: PaymentsV1.GetPaymentRequest.Lookup) async throws -> PaymentsV1.GetPaymentResponse {
        var r = PaymentsV1.GetPaymentRequest()
        r.lookup = lookup
        return try await service.getPayment(r, context: context(PaymentsV1.Payments.Method.getPayment))
    }

    /// Everything the schema holds that a call could change: row counts and each intent's ledger and version.
    func snapshot() async throws -> String {
        let counts = try await database.primary.queryOne(
            """
            SELECT (SELECT COUNT(*) FROM payment_intents) AS i, (SELECT COUNT(*) FROM payment_operations) AS o,
                   (SELECT COUNT(*) FROM payment_events) AS e
            """)
        let intents = try await database.primary.query(
            "SELECT id, status, captured_amount, refunded_amount, version FROM payment_intents ORDER BY id")
        var text =
            "i=\(try counts?.int64("i") ?? -1) o=\(try counts?.int64("o") ?? -1) e=\(try counts?.int64("e") ?? -1)"
        for row in intents {
            text += " [\(try row.uint64("id")) \(try row.string("status")) \(try row.int64("captured_amount"))"
            text += " \(try row.int64("refunded_amount")) v\(try row.int64("version"))]"
        }
        return text
    }

    /// Every value of every row of every table of the schema, as text.
    func allStoredText() async throws -> [String] {
        let tables = try await database.primary.query(
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()")
        var out: [String] = []
        for table in tables {
            let name = try table.string("t")
            // The name comes from information_schema, not from a caller.
            for row in try await database.primary.query("SELECT * FROM `\(name)`") {
                for value in row.values {
                    switch value {
                    case .string(let s), .json(let s), .decimal(let s): out.append(s)
                    case .bytes(let b): out.append(String(decoding: b, as: UTF8.self))
                    case .int64(let x): out.append(String(x))
                    case .uint64(let x): out.append(String(x))
                    case .int32(let x): out.append(String(x))
                    case .double(let x): out.append(String(x))
                    case .datetime, .null: break
                    }
                }
            }
        }
        return out
    }

    /// Runs `body` against a fresh, migrated `oms_payments_t…` schema.
    static func run(
        latency: Duration = .zero, settings: PaymentsEngineSettings = .init(),
        _ body: (PaymentsHarness) async throws -> Void
    ) async throws {
        let env = try TestEnvironment.load()
        try await env.withFreshSchema(service: "payments", poolSize: 16) { config, _ in
            let logs = LogStore()
            let logger = Logger(label: "oms.payments.test") { _ in CapturingLogHandler(store: logs) }
            let database = MySQLDatabase(primary: config, name: "payments-test", logger: logger)
            do {
                let directory = PaymentsDefinition.migrationsDirectory(root: TestEnvironment.packageRoot())
                let migrations = try MigrationRunner.loadMigrations(directory: directory)
                #expect(!migrations.isEmpty)
                try await MigrationRunner(pool: database.primary, migrations: migrations, logger: logger).run()
                let sandbox = SandboxPaymentProvider(latency: latency)
                let service = PaymentsService(database: database, provider: sandbox, settings: settings, logger: logger)
                try await body(PaymentsHarness(service: service, sandbox: sandbox, database: database, logs: logs))
                await database.shutdown()
            } catch {
                await database.shutdown()
                throw error
            }
        }
    }
}

/// Expects `body` to fail with `RPCError` of `code`.
func expectCode<T>(
    _ code: RPCStatusCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
