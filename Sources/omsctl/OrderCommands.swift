import ArgumentParser
import Foundation
import OMSAPI

/// `LINE:QTY` pairs (order line id and quantity).
struct LineQuantity: ExpressibleByArgument {
    var line: String
    var quantity: Int64

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let q = Int64(argument[argument.index(after: colon)...]), q > 0 else {
            return nil
        }
        line = String(argument[..<colon])
        guard !line.isEmpty else { return nil }
        quantity = q
    }
}

struct CheckoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkout",
        abstract: "Place an order through the checkout coordinator (reserve → order → authorize).",
        discussion: """
            Sandbox cards: 4242424242424242 is authorized, 4000000000000002 is declined. Exit 2 when the \
            checkout is rejected; the same --idempotency-key returns the first result.
            """)

    @Option(name: .customLong("sku"), help: "SKU:QUANTITY (repeatable).") var lines: [LineQuantity]
    @Option(help: "Idempotency key (default: a new random key).") var idempotencyKey: String?
    @Option(help: "Customer id.") var customerID: String = "omsctl-customer"
    @Option(help: "Customer name.") var customerName: String = "OMS Customer"
    @Option(help: "Customer e-mail.") var email: String = "customer@example.test"
    @Option(help: "Card number.") var card: String = "4242424242424242"
    @Option(help: "Card expiry MM/YYYY.") var expiry: String = "12/2034"
    @Option(help: "Card CVC.") var cvc: String = "123"
    @Option(help: "Ship-to name (default: the customer name).") var shipName: String?
    @Option(help: "Street line.") var line1: String = "1 Main Street"
    @Option(help: "City.") var city: String = "Springfield"
    @Option(help: "Postal code.") var postalCode: String = "12345"
    @Option(help: "ISO 3166-1 alpha-2 country.") var country: String = "US"
    @Option(help: "JSON object of order metadata (gift, delivery_preference, ...).") var metadataJson: String = "{}"
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let parts = expiry.split(separator: "/")
        guard parts.count == 2, let month = UInt32(parts[0]), let year = UInt32(parts[1]) else {
            throw ValidationError("--expiry must be MM/YYYY")
        }
        let key = idempotencyKey ?? "omsctl-" + UUID().uuidString.lowercased()
        var req = CheckoutV1.PlaceOrderRequest()
        req.idempotencyKey = key
        req.customer = CommonV1.Customer(customerID: customerID, name: customerName, email: email)
        req.lines = lines.map { CheckoutV1.PlaceOrderRequest.Line(sku: $0.line, quantity: $0.quantity) }
        var c = PaymentsV1.Card()
        c.number = card
        c.expMonth = month
        c.expYear = year
        c.cvc = cvc
        c.holderName = customerName
        req.paymentMethod = PaymentsV1.PaymentMethod(kind: .card(c))
        var address = CommonV1.Address()
        address.name = shipName ?? customerName
        address.line1 = line1
        address.city = city
        address.postalCode = postalCode
        address.country = country
        req.shippingAddress = address
        req.metadataJson = metadataJson
        var rejected = false
        try await Ctl.withClients(timeout: global.timeout) { oms in
            let r = try await oms.checkout.placeOrder(req, options: global.callOptions)
            var fields: [(String, JSON)] = [("checkout_id", .string(r.checkoutID)), ("idempotency_key", .string(key))]
            var text: [(String, String)] = [("checkout", r.checkoutID), ("idempotency key", key)]
            switch r.outcome {
            case .placed(let p):
                fields += [
                    ("outcome", .string("placed")), ("order_id", .string(p.orderID)), ("subtotal", Out.moneyJSON(p.subtotal)),
                    ("total", Out.moneyJSON(p.total)), ("status", .string(Out.name(p.status))), ("payment_id", .string(p.paymentID)),
                    ("reservation_id", .string(p.reservationID)),
                ]
                text += [
                    ("outcome", "PLACED"), ("order", p.orderID), ("status", Out.name(p.status)), ("total", Out.money(p.total)),
                    ("payment", p.paymentID), ("reservation", p.reservationID),
                ]
            case .rejected(let rej):
                rejected = true
                let (reason, detail) = CheckoutCommand.describe(rej)
                fields += [("outcome", .string("rejected")), ("reason", .string(reason)), ("detail", .string(detail))]
                text += [("outcome", "REJECTED"), ("reason", reason), ("detail", detail)]
            case .inProgress:
                fields += [("outcome", .string("in_progress"))]
                text += [("outcome", "IN PROGRESS (ask again with the same --idempotency-key)")]
            case nil:
                fields += [("outcome", .null)]
            }
            Out.emit(.object(fields), asJSON: global.json) { Out.fields(text) }
        }
        if rejected { throw ExitCode(CtlExit.rejected) }
    }

    static func describe(_ r: CheckoutV1.PlaceOrderResponse.Rejected) -> (String, String) {
        switch r.reason {
        case .outOfStock(let o): ("out_of_stock", o.skus.joined(separator: ", "))
        case .paymentDeclined(let d): ("payment_declined", "\(Out.name(d.code)): \(d.reason)")
        case .invalidRequest(let i):
            ("invalid_request", ([i.reason] + i.violations.map { "\($0.field): \($0.description)" }).joined(separator: "; "))
        case .failed(let f): ("failed", "step \(f.step): \(RPCStatusCode(rawValue: f.code)) \(f.message)")
        case nil: ("unknown", "")
        }
    }
}

struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Orders: show, list by customer, search, cancel, return.",
        subcommands: [Get.self, List.self, Search.self, Cancel.self, Return.self])

    static func json(_ o: OrdersV1.Order) -> JSON {
        .object([
            ("order_id", .string(o.orderID)), ("checkout_id", .string(o.checkoutID)), ("status", .string(Out.name(o.status))),
            ("customer", .object([("customer_id", .string(o.customer?.customerID ?? "")), ("name", .string(o.customer?.name ?? "")),
                                  ("email", .string(o.customer?.email ?? ""))])),
            ("lines", .array(o.lines.map {
                .object([("line_id", .string($0.lineID)), ("sku", .string($0.sku)), ("product_name", .string($0.productName)),
                         ("quantity", .int($0.quantity)), ("unit_price", Out.moneyJSON($0.unitPrice)), ("line_total", Out.moneyJSON($0.lineTotal)),
                         ("attributes", JSON.embedded($0.attributesJson)), ("shipped_quantity", .int($0.shippedQuantity)),
                         ("returned_quantity", .int($0.returnedQuantity))])
            })),
            ("subtotal", Out.moneyJSON(o.subtotal)), ("total", Out.moneyJSON(o.total)), ("paid", Out.moneyJSON(o.paid)),
            ("refunded", Out.moneyJSON(o.refunded)), ("metadata", JSON.embedded(o.metadataJson)),
            ("reservation_id", .string(o.reservationID)), ("payment_id", .string(o.paymentID)),
            ("cancel_reason", .string(o.cancelReason)), ("version", .int(o.version)),
            ("consistency_token", .string(o.consistencyToken)),
            ("created_at", .string(Out.time(o.createdAtUs))), ("updated_at", .string(Out.time(o.updatedAtUs))),
        ])
    }

    static let listHeaders = ["ORDER", "STATUS", "CUSTOMER", "LINES", "TOTAL", "CREATED"]

    static func row(_ o: OrdersV1.Order) -> [String] {
        [o.orderID, Out.name(o.status), o.customer?.customerID ?? "-", "\(o.lines.count)", Out.money(o.total), Out.time(o.createdAtUs)]
    }

    static func detail(_ o: OrdersV1.Order, events: [OrdersV1.OrderEvent] = []) -> String {
        var text = Out.fields([
            ("order", o.orderID), ("status", Out.name(o.status)), ("checkout", o.checkoutID),
            ("customer", "\(o.customer?.customerID ?? "-") \(o.customer?.name ?? "") <\(o.customer?.email ?? "")>"),
            ("total", Out.money(o.total)), ("paid", Out.money(o.paid)), ("refunded", Out.money(o.refunded)),
            ("payment", o.paymentID.isEmpty ? "-" : o.paymentID), ("reservation", o.reservationID.isEmpty ? "-" : o.reservationID),
            ("version", "\(o.version)"), ("created", Out.time(o.createdAtUs)), ("updated", Out.time(o.updatedAtUs)),
        ] + (o.cancelReason.isEmpty ? [] : [("cancel reason", o.cancelReason)]))
        text += "\n\n" + Out.table(
            ["LINE", "SKU", "NAME", "QTY", "UNIT", "TOTAL", "SHIPPED", "RETURNED"],
            o.lines.map { [$0.lineID, $0.sku, $0.productName, "\($0.quantity)", Out.money($0.unitPrice), Out.money($0.lineTotal),
                           "\($0.shippedQuantity)", "\($0.returnedQuantity)"] })
        if !events.isEmpty {
            text += "\n\n" + Out.table(
                ["AT", "EVENT", "FROM", "TO", "DETAIL"],
                events.map { [Out.time($0.atUs), $0.kind, Out.name($0.fromStatus), Out.name($0.toStatus), $0.detailJson] })
        }
        return text
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an order (by id, or by --checkout-id).")
        @Argument(help: "Order id.") var orderID: String?
        @Option(help: "Find the order by its checkout id instead.") var checkoutID: String?
        @Flag(help: "Include the order's audit trail.") var events = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard (orderID == nil) != (checkoutID == nil) else { throw ValidationError("give an order id or --checkout-id") }
        }

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = OrdersV1.GetOrderRequest()
                req.orderID = orderID ?? ""
                req.checkoutID = checkoutID ?? ""
                req.includeEvents = events
                let r = try await oms.orders.getOrder(req, options: global.callOptions)
                guard let o = r.order else { throw RPCError(.notFound, "no such order") }
                let evs = r.events.map { e -> JSON in
                    .object([("event_id", .string(e.eventID)), ("kind", .string(e.kind)), ("from_status", .string(Out.name(e.fromStatus))),
                             ("to_status", .string(Out.name(e.toStatus))), ("detail", JSON.embedded(e.detailJson)), ("at", .string(Out.time(e.atUs)))])
                }
                Out.emit(.object([("order", OrderCommand.json(o)), ("events", .array(evs))]), asJSON: global.json) {
                    OrderCommand.detail(o, events: r.events)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A customer's orders, newest first.")
        @Option(help: "Customer id.") var customer: String
        @Option(help: "Orders per page (1-100).") var pageSize: UInt32 = 20
        @Option(help: "Cursor from a previous page.") var pageToken: String = ""
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = OrdersV1.ListOrdersRequest()
                req.customerID = customer
                req.pageSize = pageSize
                req.pageToken = pageToken
                let r = try await oms.orders.listOrders(req, options: global.callOptions)
                Out.emit(.object([("orders", .array(r.orders.map(OrderCommand.json))), ("next_page_token", .string(r.nextPageToken))]),
                         asJSON: global.json) {
                    Out.table(OrderCommand.listHeaders, r.orders.map(OrderCommand.row))
                        + (r.nextPageToken.isEmpty ? "" : "\nnext page: --page-token \(r.nextPageToken)")
                }
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Full-text and filtered order search.")
        @Argument(help: "Words to find (order id, product name, customer name or e-mail).") var query: [String] = []
        @Option(name: .customLong("status"), help: "Status filter (repeatable): pendingPayment, confirmed, shipped, cancelled, ...")
        var statuses: [String] = []
        @Option(help: "Delivery preference (metadata).") var deliveryPreference: String = ""
        @Flag(help: "Gift orders only.") var giftOnly = false
        @Option(help: "Item colour (line attributes).") var colour: String = ""
        @Option(help: "Item size (line attributes).") var size: String = ""
        @Option(help: "Results per page.") var pageSize: UInt32 = 20
        @Option(help: "Cursor from a previous page.") var pageToken: String = ""
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            var parsed: [OrdersV1.OrderStatus] = []
            for s in statuses {
                let key = s.lowercased().replacingOccurrences(of: "_", with: "")
                guard let status = OrdersV1.OrderStatus.allCases.first(where: { Out.name($0).lowercased() == key }) else {
                    throw ValidationError("unknown status '\(s)'; one of \(OrdersV1.OrderStatus.allCases.dropFirst().map { Out.name($0) }.joined(separator: ", "))")
                }
                parsed.append(status)
            }
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = OrdersV1.SearchOrdersRequest()
                req.query = query.joined(separator: " ")
                req.statuses = parsed
                req.deliveryPreference = deliveryPreference
                req.giftOnly = giftOnly
                req.itemColour = colour
                req.itemSize = size
                req.pageSize = pageSize
                req.pageToken = pageToken
                let r = try await oms.orders.searchOrders(req, options: global.callOptions)
                Out.emit(.object([("orders", .array(r.orders.map(OrderCommand.json))), ("next_page_token", .string(r.nextPageToken))]),
                         asJSON: global.json) {
                    Out.table(OrderCommand.listHeaders, r.orders.map(OrderCommand.row))
                        + (r.nextPageToken.isEmpty ? "" : "\nnext page: --page-token \(r.nextPageToken)")
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel an order.")
        @Argument(help: "Order id.") var orderID: String
        @Option(help: "Why.") var reason: String = "cancelled with omsctl"
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                let r = try await oms.orders.cancelOrder(OrdersV1.CancelOrderRequest(orderID: orderID, reason: reason), options: global.callOptions)
                guard let o = r.order else { throw RPCError(.internalError, "no order in the reply") }
                Out.emit(OrderCommand.json(o), asJSON: global.json) { OrderCommand.detail(o) }
            }
        }
    }

    struct Return: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return shipped units; refund and restock follow through the orders outbox.")
        @Argument(help: "Order id.") var orderID: String
        @Option(name: .customLong("line"), help: "LINE_ID:QUANTITY (repeatable).") var lines: [LineQuantity]
        @Option(help: "Return id (default: a new random id; repeat it to retry safely).") var returnID: String?
        @Option(help: "Why.") var reason: String = "returned with omsctl"
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = OrdersV1.RequestReturnRequest()
                req.orderID = orderID
                req.returnID = returnID ?? "omsctl-" + UUID().uuidString.lowercased()
                req.lines = lines.map { OrdersV1.ReturnLine(lineID: $0.line, quantity: $0.quantity) }
                req.reason = reason
                let r = try await oms.orders.requestReturn(req, options: global.callOptions)
                let ret = r.orderReturn ?? OrdersV1.OrderReturn()
                Out.emit(.object([
                    ("return", .object([("return_id", .string(ret.returnID)), ("status", .string(Out.name(ret.status))),
                                        ("refund_amount", Out.moneyJSON(ret.refundAmount)), ("reason", .string(ret.reason)),
                                        ("lines", .array(ret.lines.map { .object([("line_id", .string($0.lineID)), ("quantity", .int($0.quantity))]) }))])),
                    ("order", r.order.map(OrderCommand.json) ?? .null),
                ]), asJSON: global.json) {
                    Out.fields([("return", ret.returnID), ("status", Out.name(ret.status)), ("refund", Out.money(ret.refundAmount)),
                                ("lines", ret.lines.map { "\($0.lineID)×\($0.quantity)" }.joined(separator: ", "))])
                        + (r.order.map { "\n\n" + OrderCommand.detail($0) } ?? "")
                }
            }
        }
    }
}
