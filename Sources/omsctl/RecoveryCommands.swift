import ArgumentParser
import OMSAPI

/// `omsctl parked`: the checkouts recovery gave up on after `max-attempts` passes, and resuming them.
struct ParkedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parked",
        abstract: "Checkouts that recovery gave up on: list them, resume one.",
        discussion: """
            A checkout is parked after the coordinator's `max-attempts` passes could not finish it (a peer \
            down for hours, a refusal that needs a look). It stays open, holds what it holds, and is counted \
            by the oms_checkout_parked gauge. Fix the cause, then `omsctl parked resume <checkout id>`: the \
            next recovery pass drives it to its end with a fresh attempt budget.
            """,
        subcommands: [List.self, Resume.self], defaultSubcommand: List.self)

    static func json(_ c: CheckoutV1.CheckoutRecord) -> JSON {
        .object([
            ("checkout_id", .string(c.checkoutID)), ("idempotency_key", .string(c.idempotencyKey)),
            ("phase", .string(c.phase)), ("attempts", .int(Int64(c.attempts))),
            ("parked_at", c.parkedAtUs == 0 ? .null : .string(Out.time(c.parkedAtUs))),
            ("parked_reason", .string(c.parkedReason)), ("order_id", .string(c.orderID)),
            ("payment_id", .string(c.paymentID)), ("updated_at", .string(Out.time(c.updatedAtUs))),
        ])
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List parked checkouts, oldest first.")
        @Option(help: "At most this many (1...500).") var limit: UInt32 = 50
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                let r = try await oms.checkout.listParkedCheckouts(
                    CheckoutV1.ListParkedCheckoutsRequest(pageSize: limit), options: global.callOptions)
                Out.emit(.array(r.checkouts.map(ParkedCommand.json)), asJSON: global.json) {
                    Out.table(
                        ["CHECKOUT", "PHASE", "ATTEMPTS", "PARKED AT", "REASON"],
                        r.checkouts.map {
                            [$0.checkoutID, $0.phase, "\($0.attempts)", Out.time($0.parkedAtUs), $0.parkedReason]
                        })
                }
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a parked checkout back into recovery.")
        @Argument(help: "Checkout id.") var checkoutID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                let r = try await oms.checkout.resumeCheckout(
                    CheckoutV1.ResumeCheckoutRequest(checkoutID: checkoutID), options: global.callOptions)
                guard let c = r.checkout else { throw RPCError(.internalError, "no checkout in the reply") }
                Out.emit(ParkedCommand.json(c), asJSON: global.json) {
                    Out.fields([
                        ("checkout", c.checkoutID), ("phase", c.phase),
                        ("parked", c.parkedAtUs == 0 ? "no (recovery drives it again)" : "yes: \(c.parkedReason)"),
                    ])
                }
            }
        }
    }
}
