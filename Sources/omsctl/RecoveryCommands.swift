import ArgumentParser
import OMSAPI
import OMSClient

/// Work a background job gave up on and an operator resumes: parked checkouts (`omsctl parked`) and parked
/// orders outbox rows (`omsctl outbox`). Each kind says how it is listed, resumed and shown; the `list` and
/// `resume` subcommands are shared (`ParkedList`, `ParkedResume`).
protocol ParkedKind {
    associatedtype Item
    /// What one item is called: `checkout`, `outbox row`.
    static var item: String { get }
    /// What the items go back into when resumed: `recovery`, `delivery`.
    static var resumedInto: String { get }
    /// The resume argument's help: `Checkout id.`.
    static var idHelp: String { get }
    static var headers: [String] { get }
    static func row(_ item: Item) -> [String]
    static func json(_ item: Item) -> JSON
    static func fields(_ item: Item) -> [(String, String)]
    static func list(_ oms: OMSClients, limit: UInt32, options: CallOptions) async throws -> [Item]
    /// - Returns: the item after the call; nil when the reply carries none.
    static func resume(_ oms: OMSClients, id: String, options: CallOptions) async throws -> Item?
}

/// `omsctl <kind> [list] [--limit N]`: parked items, oldest first.
struct ParkedList<Kind: ParkedKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List parked \(Kind.item)s, oldest first.")
    }
    @Option(help: "At most this many (1...500).") var limit: UInt32 = 50
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Ctl.withClients(timeout: global.timeout) { oms in
            let items = try await Kind.list(oms, limit: limit, options: global.callOptions)
            Out.emit(.array(items.map(Kind.json)), asJSON: global.json) { Out.table(Kind.headers, items.map(Kind.row)) }
        }
    }
}

/// `omsctl <kind> resume ID`: one parked item back into its job, with a fresh attempt budget.
struct ParkedResume<Kind: ParkedKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "resume", abstract: "Take a parked \(Kind.item) back into \(Kind.resumedInto).")
    }
    @Argument(help: ArgumentHelp(Kind.idHelp)) var id: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Ctl.withClients(timeout: global.timeout) { oms in
            guard let item = try await Kind.resume(oms, id: id, options: global.callOptions) else {
                throw RPCError(.internalError, "nothing resumed in the reply")
            }
            Out.emit(Kind.json(item), asJSON: global.json) { Out.fields(Kind.fields(item)) }
        }
    }
}

/// `omsctl parked`: the checkouts recovery gave up on after `max-attempts` passes, and resuming them.
struct ParkedCommand: AsyncParsableCommand, ParkedKind {
    static let configuration = CommandConfiguration(
        commandName: "parked",
        abstract: "Checkouts that recovery gave up on: list them, resume one.",
        discussion: """
            A checkout is parked after the coordinator's `max-attempts` passes could not finish it (a peer \
            down for hours, a refusal that needs a look). It stays open, holds what it holds, and is counted \
            by the oms_checkout_parked gauge. Fix the cause, then `omsctl parked resume <checkout id>`: the \
            next recovery pass drives it to its end with a fresh attempt budget.
            """,
        subcommands: [ParkedList<Self>.self, ParkedResume<Self>.self], defaultSubcommand: ParkedList<Self>.self)

    static let item = "checkout"
    static let resumedInto = "recovery"
    static let idHelp = "Checkout id."
    static let headers = ["CHECKOUT", "PHASE", "ATTEMPTS", "PARKED AT", "REASON"]

    static func row(_ c: CheckoutV1.CheckoutRecord) -> [String] {
        [c.checkoutID, c.phase, "\(c.attempts)", Out.time(c.parkedAtUs), c.parkedReason]
    }

    static func json(_ c: CheckoutV1.CheckoutRecord) -> JSON {
        .object([
            ("checkout_id", .string(c.checkoutID)), ("idempotency_key", .string(c.idempotencyKey)),
            ("phase", .string(c.phase)), ("attempts", .int(Int64(c.attempts))),
            ("parked_at", c.parkedAtUs == 0 ? .null : .string(Out.time(c.parkedAtUs))),
            ("parked_reason", .string(c.parkedReason)), ("order_id", .string(c.orderID)),
            ("payment_id", .string(c.paymentID)), ("updated_at", .string(Out.time(c.updatedAtUs))),
        ])
    }

    static func fields(_ c: CheckoutV1.CheckoutRecord) -> [(String, String)] {
        [
            ("checkout", c.checkoutID), ("phase", c.phase),
            ("parked", c.parkedAtUs == 0 ? "no (recovery drives it again)" : "yes: \(c.parkedReason)"),
        ]
    }

    static func list(_ oms: OMSClients, limit: UInt32, options: CallOptions) async throws -> [CheckoutV1.CheckoutRecord] {
        try await oms.checkout.listParkedCheckouts(CheckoutV1.ListParkedCheckoutsRequest(pageSize: limit), options: options)
            .checkouts
    }

    static func resume(_ oms: OMSClients, id: String, options: CallOptions) async throws -> CheckoutV1.CheckoutRecord? {
        try await oms.checkout.resumeCheckout(CheckoutV1.ResumeCheckoutRequest(checkoutID: id), options: options).checkout
    }
}

/// `omsctl outbox`: the orders outbox rows (refunds, restocks) the relay gave up on after
/// `outbox-max-attempts` failed deliveries, and resuming them.
struct OutboxCommand: AsyncParsableCommand, ParkedKind {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Orders outbox rows the relay gave up on: list them, resume one.",
        discussion: """
            An outbox row (a refund for payments, a restock for inventory) is parked after \
            `outbox-max-attempts` failed deliveries. It is no longer delivered and is counted by the \
            oms_orders_outbox_parked gauge. Fix the receiver, then `omsctl outbox resume <outbox id>`: the \
            relay's next run delivers it with a fresh attempt budget (receivers are idempotent on its key).
            """,
        subcommands: [ParkedList<Self>.self, ParkedResume<Self>.self], defaultSubcommand: ParkedList<Self>.self)

    static let item = "outbox row"
    static let resumedInto = "delivery"
    static let idHelp = "Outbox row id."
    static let headers = ["OUTBOX", "KIND", "ORDER", "ATTEMPTS", "PARKED AT", "LAST ERROR"]

    static func row(_ e: OrdersV1.OutboxEntry) -> [String] {
        [e.outboxID, e.kind, e.orderID, "\(e.attempts)", Out.time(e.parkedAtUs), e.lastError]
    }

    static func json(_ e: OrdersV1.OutboxEntry) -> JSON {
        .object([
            ("outbox_id", .string(e.outboxID)), ("kind", .string(e.kind)), ("order_id", .string(e.orderID)),
            ("dedupe_key", .string(e.dedupeKey)), ("attempts", .int(Int64(e.attempts))),
            ("last_error", .string(e.lastError)), ("created_at", .string(Out.time(e.createdAtUs))),
            ("parked_at", e.parkedAtUs == 0 ? .null : .string(Out.time(e.parkedAtUs))),
            ("delivered_at", e.deliveredAtUs == 0 ? .null : .string(Out.time(e.deliveredAtUs))),
        ])
    }

    static func fields(_ e: OrdersV1.OutboxEntry) -> [(String, String)] {
        let parked =
            e.deliveredAtUs != 0 ? "no (delivered)" : e.parkedAtUs == 0 ? "no (the relay delivers it again)" : "yes"
        return [("outbox", e.outboxID), ("kind", e.kind), ("order", e.orderID), ("parked", parked)]
    }

    static func list(_ oms: OMSClients, limit: UInt32, options: CallOptions) async throws -> [OrdersV1.OutboxEntry] {
        try await oms.orders.listParkedOutbox(OrdersV1.ListParkedOutboxRequest(pageSize: limit), options: options).entries
    }

    static func resume(_ oms: OMSClients, id: String, options: CallOptions) async throws -> OrdersV1.OutboxEntry? {
        try await oms.orders.resumeOutbox(OrdersV1.ResumeOutboxRequest(outboxID: id), options: options).entry
    }
}
