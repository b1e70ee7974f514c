import ArgumentParser
import Foundation
import Logging
import OMSAPI
import OMSClient

/// Exit codes of omsctl (docs/omsctl.md).
enum CtlExit {
    static let ok: Int32 = 0
    /// A check failed: a service is not SERVING, or the audit found a violation.
    static let checkFailed: Int32 = 1
    /// The checkout was rejected (out of stock, payment declined, not sellable, a step failed).
    static let rejected: Int32 = 2
    /// Configuration problem: no token, malformed address, a tool missing.
    static let configuration: Int32 = 3
    /// 5 NOT_FOUND.
    static let notFound: Int32 = 4
    /// The request was refused: 3 INVALID_ARGUMENT, 6 ALREADY_EXISTS, 9 FAILED_PRECONDITION, 10 ABORTED, 11 OUT_OF_RANGE.
    static let refused: Int32 = 5
    /// The service could not be reached or did not answer in time: 14, 4, 1, 8, transport errors.
    static let unavailable: Int32 = 6
    /// 16 UNAUTHENTICATED or 7 PERMISSION_DENIED.
    static let unauthenticated: Int32 = 7
    /// The service failed: 13 INTERNAL, 12 UNIMPLEMENTED, 2 UNKNOWN, 15 DATA_LOSS.
    static let serverError: Int32 = 8

    /// The exit code of an RPC status.
    static func code(for status: RPCStatusCode) -> Int32 {
        switch status {
        case .notFound: notFound
        case .invalidArgument, .alreadyExists, .failedPrecondition, .aborted, .outOfRange: refused
        case .unavailable, .deadlineExceeded, .cancelled, .resourceExhausted: unavailable
        case .unauthenticated, .permissionDenied: unauthenticated
        default: serverError
        }
    }
}

@main
struct OMSCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omsctl",
        abstract: "Operate the OMS suite: health, catalog and stock, checkouts, orders, shipments, payments, audit.",
        discussion: """
            Addresses and the token come from OMS_<SERVICE>_ADDR and OMS_AUTH_TOKEN[_FILE], over .oms/env \
            (or $OMS_HOME/env); the default token file is .oms/auth-token. Output is a table; --json prints JSON.
            Exit codes: 0 ok, 1 check failed (health/audit), 2 checkout rejected, 3 configuration, 4 not found, \
            5 request refused (3/6/9/10/11), 6 unavailable or timed out, 7 unauthenticated, 8 server error, \
            64 usage error.
            """,
        subcommands: [
            HealthCommand.self, ProductCommand.self, StockCommand.self, CheckoutCommand.self, OrderCommand.self,
            ShipCommand.self, PaymentCommand.self, ReconcileCommand.self, AuditCommand.self, ParkedCommand.self,
            OutboxCommand.self,
        ])
}

/// Options of every command that talks to the suite.
struct GlobalOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.")
    var json = false
    @Option(help: "Deadline of each call, in seconds.")
    var timeout: Double = 10

    var callOptions: CallOptions { CallOptions(timeout: .milliseconds(Int64(max(0.001, timeout) * 1000))) }

    func validate() throws {
        guard timeout > 0 && timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
    }
}

/// Where errors go and how they map to exit codes.
enum Ctl {
    static func fail(_ message: String) {
        FileHandle.standardError.write(Data("omsctl: \(message)\n".utf8))
    }

    static func configuration(allowMissingToken: Bool = false) throws -> OMSClientConfiguration {
        let env = SuiteEnvironment.load()
        do {
            return try OMSClientConfiguration.fromEnvironment(env.values)
        } catch let e as OMSClientError where allowMissingToken && e.description.contains("token") {
            // Health checks need no token; addresses still come from the environment.
            var values = env.values
            values["OMS_AUTH_TOKEN"] = "-"
            return try OMSClientConfiguration.fromEnvironment(values)
        }
    }

    /// Runs `body` with clients of the suite and turns errors into messages and exit codes.
    static func withClients(
        timeout: Double = 10, allowMissingToken: Bool = false, _ body: (OMSClients) async throws -> Void
    ) async throws {
        let oms: OMSClients
        do {
            var config = try configuration(allowMissingToken: allowMissingToken)
            config.defaultTimeout = .milliseconds(Int64(timeout * 1000))
            config.maximumAttempts = 2
            var logger = Logger(label: "omsctl")
            logger.logLevel = .critical
            oms = OMSClients(configuration: config, logger: logger)
        } catch {
            fail("configuration: \(error)")
            throw ExitCode(CtlExit.configuration)
        }
        do {
            try await body(oms)
            await oms.close()
        } catch let e as ExitCode {
            await oms.close()
            throw e
        } catch let e as RPCError {
            await oms.close()
            fail("\(e.code) (\(e.code.rawValue)): \(e.message)")
            throw ExitCode(CtlExit.code(for: e.code))
        } catch let e as ValidationError {
            await oms.close()
            throw e
        } catch {
            await oms.close()
            fail("\(error)")
            throw ExitCode(CtlExit.unavailable)
        }
    }
}
