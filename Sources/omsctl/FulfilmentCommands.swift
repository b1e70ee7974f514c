import ArgumentParser
import Foundation
import OMSAPI

struct ShipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship", abstract: "Shipments: create, label, ship, deliver, cancel, show, list.",
        subcommands: [Create.self, Label.self, Ship.self, Deliver.self, Cancel.self, Get.self, List.self])

    static func json(_ s: ShipmentsV1.Shipment) -> JSON {
        .object([
            ("shipment_id", .string(s.shipmentID)), ("order_id", .string(s.orderID)), ("warehouse", .string(s.warehouse)),
            ("status", .string(Out.name(s.status))), ("carrier", .string(s.carrier)), ("tracking_number", .string(s.trackingNumber)),
            ("lines", .array(s.lines.map { .object([("line_id", .string($0.lineID)), ("sku", .string($0.sku)), ("quantity", .int($0.quantity))]) })),
            ("events", .array(s.events.map { .object([("status", .string(Out.name($0.status))), ("detail", .string($0.detail)), ("at", .string(Out.time($0.atUs)))]) })),
            ("version", .int(s.version)), ("created_at", .string(Out.time(s.createdAtUs))), ("updated_at", .string(Out.time(s.updatedAtUs))),
        ])
    }

    static let headers = ["SHIPMENT", "ORDER", "STATUS", "CARRIER", "TRACKING", "LINES"]

    static func row(_ s: ShipmentsV1.Shipment) -> [String] {
        [s.shipmentID, s.orderID, Out.name(s.status), s.carrier.isEmpty ? "-" : s.carrier,
         s.trackingNumber.isEmpty ? "-" : s.trackingNumber, s.lines.map { "\($0.lineID)×\($0.quantity)" }.joined(separator: ", ")]
    }

    /// Makes one shipments call and shows the shipment it answers.
    static func call(
        _ global: GlobalOptions, _ body: (ShipmentsV1.ShipmentsClient, CallOptions) async throws -> ShipmentsV1.Shipment?
    ) async throws {
        try await Ctl.withClients(timeout: global.timeout) { oms in
            try show(try await body(oms.shipments, global.callOptions), json: global.json)
        }
    }

    static func show(_ s: ShipmentsV1.Shipment?, json asJSON: Bool) throws {
        guard let s else { throw RPCError(.internalError, "no shipment in the reply") }
        Out.emit(ShipCommand.json(s), asJSON: asJSON) {
            var text = Out.table(ShipCommand.headers, [ShipCommand.row(s)])
            if !s.events.isEmpty {
                text += "\n\n" + Out.table(["AT", "STATUS", "DETAIL"], s.events.map { [Out.time($0.atUs), Out.name($0.status), $0.detail] })
            }
            return text
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a shipment for some of an order's lines.")
        @Argument(help: "Order id.") var orderID: String
        @Option(name: .customLong("line"), help: "LINE_ID:QUANTITY (repeatable).") var lines: [LineQuantity]
        @Option(help: "Warehouse.") var warehouse: String = "main"
        @Option(help: "Idempotency key (default: a new random key).") var idempotencyKey: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = ShipmentsV1.CreateShipmentRequest()
                req.idempotencyKey = idempotencyKey ?? "omsctl-" + UUID().uuidString.lowercased()
                req.orderID = orderID
                req.warehouse = warehouse
                req.lines = lines.map {
                    var l = ShipmentsV1.ShipmentLine()
                    l.lineID = $0.line
                    l.quantity = $0.quantity
                    return l
                }
                try ShipCommand.show(try await oms.shipments.createShipment(req, options: global.callOptions).shipment, json: global.json)
            }
        }
    }

    struct Label: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the label (carrier and tracking number).")
        @Argument(help: "Shipment id.") var shipmentID: String
        @Option(help: "Carrier (default: the sandbox carrier).") var carrier: String = ""
        @Option(help: "Tracking number (default: issued by the carrier).") var trackingNumber: String = ""
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let req = ShipmentsV1.MarkLabelCreatedRequest(shipmentID: shipmentID, carrier: carrier, trackingNumber: trackingNumber)
            try await ShipCommand.call(global) { try await $0.markLabelCreated(req, options: $1).shipment }
        }
    }

    struct Ship: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ship", abstract: "Mark shipped (captures the payment for it).")
        @Argument(help: "Shipment id.") var shipmentID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let req = ShipmentsV1.MarkShippedRequest(shipmentID: shipmentID)
            try await ShipCommand.call(global) { try await $0.markShipped(req, options: $1).shipment }
        }
    }

    struct Deliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark delivered.")
        @Argument(help: "Shipment id.") var shipmentID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let req = ShipmentsV1.MarkDeliveredRequest(shipmentID: shipmentID)
            try await ShipCommand.call(global) { try await $0.markDelivered(req, options: $1).shipment }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a shipment that has not shipped.")
        @Argument(help: "Shipment id.") var shipmentID: String
        @Option(help: "Why.") var reason: String = "cancelled with omsctl"
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let req = ShipmentsV1.CancelShipmentRequest(shipmentID: shipmentID, reason: reason)
            try await ShipCommand.call(global) { try await $0.cancelShipment(req, options: $1).shipment }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a shipment with its tracking events.")
        @Argument(help: "Shipment id.") var shipmentID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let req = ShipmentsV1.GetShipmentRequest(shipmentID: shipmentID)
            try await ShipCommand.call(global) { try await $0.getShipment(req, options: $1).shipment }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An order's shipments.")
        @Option(help: "Order id.") var order: String
        @Option(help: "Shipments per page.") var pageSize: UInt32 = 50
        @Option(help: "Cursor from a previous page.") var pageToken: String = ""
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = ShipmentsV1.ListShipmentsRequest()
                req.orderID = order
                req.pageSize = pageSize
                req.pageToken = pageToken
                let r = try await oms.shipments.listShipments(req, options: global.callOptions)
                Out.emit(.object([("shipments", .array(r.shipments.map(ShipCommand.json))), ("next_page_token", .string(r.nextPageToken))]),
                         asJSON: global.json) {
                    Out.table(ShipCommand.headers, r.shipments.map(ShipCommand.row))
                }
            }
        }
    }
}

struct PaymentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payment", abstract: "Payments: show.", subcommands: [Get.self])

    static func json(_ p: PaymentsV1.Payment) -> JSON {
        .object([
            ("payment_id", .string(p.paymentID)), ("order_id", .string(p.orderID)), ("idempotency_key", .string(p.idempotencyKey)),
            ("status", .string(Out.name(p.status))), ("authorized", Out.moneyJSON(p.authorized)), ("captured", Out.moneyJSON(p.captured)),
            ("refunded", Out.moneyJSON(p.refunded)),
            ("card", p.card.map { .object([("brand", .string($0.brand)), ("last4", .string($0.last4)),
                                           ("exp_month", .int(Int64($0.expMonth))), ("exp_year", .int(Int64($0.expYear)))]) } ?? .null),
            ("decline_code", .string(Out.name(p.declineCode))), ("failure_message", .string(p.failureMessage)),
            ("provider_reference", .string(p.providerReference)), ("version", .int(p.version)),
            ("created_at", .string(Out.time(p.createdAtUs))), ("updated_at", .string(Out.time(p.updatedAtUs))),
        ])
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a payment by id, by --order-id (all of the order's), or by --key.")
        @Argument(help: "Payment id.") var paymentID: String?
        @Option(help: "Every payment of this order.") var orderID: String?
        @Option(help: "The Authorize idempotency key (the checkout id).") var key: String?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard [paymentID, orderID, key].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of a payment id, --order-id, --key")
            }
        }

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = PaymentsV1.GetPaymentRequest()
                if let paymentID { req.lookup = .paymentID(paymentID) }
                if let orderID { req.lookup = .orderID(orderID) }
                if let key { req.lookup = .idempotencyKey(key) }
                let r = try await oms.payments.getPayment(req, options: global.callOptions)
                let all = r.payments.isEmpty ? (r.payment.map { [$0] } ?? []) : r.payments
                if all.isEmpty { throw RPCError(.notFound, "no payment found") }
                Out.emit(.array(all.map(PaymentCommand.json)), asJSON: global.json) {
                    Out.table(
                        ["PAYMENT", "ORDER", "STATUS", "AUTHORIZED", "CAPTURED", "REFUNDED", "CARD", "DECLINE"],
                        all.map { p in
                            [p.paymentID, p.orderID, Out.name(p.status), Out.money(p.authorized), Out.money(p.captured), Out.money(p.refunded),
                             p.card.map { "\($0.brand) •••• \($0.last4)" } ?? "-",
                             p.declineCode == .unspecified ? "-" : Out.name(p.declineCode)]
                        })
                }
            }
        }
    }
}
