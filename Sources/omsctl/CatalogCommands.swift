import ArgumentParser
import Foundation
import OMSAPI

struct ProductCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product", abstract: "Catalog: create or update, show, list products.",
        subcommands: [Upsert.self, Get.self, List.self])

    static func json(_ p: InventoryV1.Product) -> JSON {
        .object([
            ("sku", .string(p.sku)), ("name", .string(p.name)), ("price", Out.moneyJSON(p.price)),
            ("attributes", JSON.embedded(p.attributesJson)), ("active", .bool(p.active)), ("version", .int(p.version)),
            ("created_at", .string(Out.time(p.createdAtUs))), ("updated_at", .string(Out.time(p.updatedAtUs))),
        ])
    }

    static func row(_ p: InventoryV1.Product) -> [String] {
        [p.sku, p.name, Out.money(p.price), p.active ? "yes" : "no", "\(p.version)", p.attributesJson.isEmpty ? "{}" : p.attributesJson]
    }

    static let headers = ["SKU", "NAME", "PRICE", "ACTIVE", "VERSION", "ATTRIBUTES"]

    struct Upsert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a product, or update it when the SKU exists (stock is not touched).")
        @Option(help: "SKU (1-64 characters).") var sku: String
        @Option(help: "Display name.") var name: String
        @Option(help: "Price in minor units (cents).") var priceMinor: Int64
        @Option(help: "ISO 4217 currency.") var currency: String = "USD"
        @Option(help: "JSON object of attributes.") var attributesJson: String = "{}"
        @Flag(help: "Mark the product inactive (not sellable).") var inactive = false
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var p = InventoryV1.Product()
                p.sku = sku
                p.name = name
                p.price = CommonV1.Money(amountMinor: priceMinor, currency: currency)
                p.attributesJson = attributesJson
                p.active = !inactive
                var req = InventoryV1.UpsertProductRequest()
                req.product = p
                let r = try await oms.inventory.upsertProduct(req, options: global.callOptions)
                let product = r.product ?? p
                Out.emit(.object([("created", .bool(r.created)), ("product", ProductCommand.json(product))]), asJSON: global.json) {
                    (r.created ? "created\n" : "updated\n") + Out.table(ProductCommand.headers, [ProductCommand.row(product)])
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one product.")
        @Argument(help: "SKU.") var sku: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                let r = try await oms.inventory.getProduct(InventoryV1.GetProductRequest(sku: sku), options: global.callOptions)
                guard let p = r.product else { throw RPCError(.notFound, "no product \(sku)") }
                Out.emit(ProductCommand.json(p), asJSON: global.json) { Out.table(ProductCommand.headers, [ProductCommand.row(p)]) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List products by SKU.")
        @Option(help: "Products per page (1-500).") var pageSize: UInt32 = 100
        @Option(help: "Cursor from a previous page.") var pageToken: String = ""
        @Flag(help: "Include inactive products.") var includeInactive = false
        @Flag(help: "Follow every page (at most 100,000 products).") var all = false
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var products: [InventoryV1.Product] = []
                var token = pageToken
                repeat {
                    var req = InventoryV1.ListProductsRequest()
                    req.pageSize = pageSize
                    req.pageToken = token
                    req.includeInactive = includeInactive
                    let r = try await oms.inventory.listProducts(req, options: global.callOptions)
                    products += r.products
                    token = r.nextPageToken
                } while all && !token.isEmpty && products.count < 100_000
                Out.emit(
                    .object([("products", .array(products.map(ProductCommand.json))), ("next_page_token", .string(token))]),
                    asJSON: global.json
                ) {
                    Out.table(ProductCommand.headers, products.map(ProductCommand.row))
                        + (token.isEmpty ? "" : "\nnext page: --page-token \(token)")
                }
            }
        }
    }
}

struct StockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stock", abstract: "Stock: adjust (receive, correct, set) and show.", subcommands: [Adjust.self, Get.self])

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case receive, correct, set
        var proto: InventoryV1.AdjustmentKind {
            switch self {
            case .receive: .receive
            case .correct: .correct
            case .set: .set
            }
        }
    }

    static func json(_ s: InventoryV1.StockLevel) -> JSON {
        .object([
            ("sku", .string(s.sku)), ("on_hand", .int(s.onHand)), ("reserved", .int(s.reserved)),
            ("available", .int(s.available)), ("source", .string(Out.name(s.source))),
        ])
    }

    static func row(_ s: InventoryV1.StockLevel) -> [String] {
        [s.sku, "\(s.onHand)", "\(s.reserved)", "\(s.available)", Out.name(s.source)]
    }

    static let headers = ["SKU", "ON HAND", "RESERVED", "AVAILABLE", "SOURCE"]

    struct Adjust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Receive goods (+n), correct after a count (±n) or set on hand (=n); writes the ledger.",
            discussion: "Not idempotent: a timeout is reported, never retried.")
        @Argument(help: "SKU.") var sku: String
        @Option(help: "receive, correct or set.") var kind: Kind = .receive
        @Option(help: "Units (negative only for correct).") var quantity: Int64
        @Option(help: "Why (written to the ledger).") var reason: String = "omsctl"
        @Option(help: "External reference (purchase order, count sheet).") var reference: String = ""
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                var req = InventoryV1.AdjustStockRequest()
                req.sku = sku
                req.kind = kind.proto
                req.quantity = quantity
                req.reason = reason
                req.reference = reference
                var options = global.callOptions
                options.idempotent = false
                let r = try await oms.inventory.adjustStock(req, options: options)
                let level = r.stock ?? InventoryV1.StockLevel()
                Out.emit(.object([("stock", StockCommand.json(level)), ("ledger_entry_id", .string(r.ledgerEntryID))]), asJSON: global.json) {
                    Out.table(StockCommand.headers, [StockCommand.row(level)]) + "\nledger entry \(r.ledgerEntryID)"
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show stock of one or more SKUs.")
        @Argument(help: "SKUs (1-1000).") var skus: [String]
        @Flag(help: "Read MySQL even when the Redis gate is warm.") var consistent = false
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Ctl.withClients(timeout: global.timeout) { oms in
                let r = try await oms.inventory.getStock(
                    InventoryV1.GetStockRequest(skus: skus, consistent: consistent), options: global.callOptions)
                Out.emit(
                    .object([("levels", .array(r.levels.map(StockCommand.json))), ("unknown_skus", .array(r.unknownSkus.map { .string($0) }))]),
                    asJSON: global.json
                ) {
                    Out.table(StockCommand.headers, r.levels.map(StockCommand.row))
                        + (r.unknownSkus.isEmpty ? "" : "\nunknown: " + r.unknownSkus.joined(separator: ", "))
                }
                if r.levels.isEmpty { throw ExitCode(CtlExit.notFound) }
            }
        }
    }
}
