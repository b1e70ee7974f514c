import Foundation
import OMSAPI
import OMSRPCCore
import OMSServiceKit

/// Input checks of the orders RPCs: each failure is 3 INVALID_ARGUMENT naming the field, raised
/// before anything is written. The shared types (customer, address, lines, money, metadata) are
/// checked with the suite's `FieldRules`, the same rules checkout applies before it calls here.
public enum OrderValidation {
    static func bad(_ field: String, _ why: String) -> RPCError { FieldRules.invalid(field, why) }

    /// Checks a whole new order.
    /// - Throws: `RPCError` 3 naming the first bad field.
    public static func validate(_ order: NewOrder) throws {
        try FieldRules.identifier(order.checkoutID, field: "checkout_id")
        try FieldRules.customer(id: order.customer.id, name: order.customer.name, email: order.customer.email)
        try FieldRules.currency(order.currency, field: "currency")
        guard !order.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        guard order.lines.count <= FieldLimits.maxLines else { throw bad("lines", "more than \(FieldLimits.maxLines) lines") }
        for (i, line) in order.lines.enumerated() {
            let f = "lines[\(i)]"
            try FieldRules.sku(line.sku, field: "\(f).sku")
            try FieldRules.text(line.productName, field: "\(f).product_name", max: FieldLimits.maxNameLength, required: true)
            try FieldRules.quantity(Int64(line.quantity), field: "\(f).quantity")
            guard line.unitPriceMinor >= 0 else { throw bad("\(f).unit_price", "must not be negative") }
            guard line.unitPriceMinor <= FieldLimits.maxUnitPriceMinor else { throw bad("\(f).unit_price", "is too large") }
            try FieldRules.lineAttributes(line.attributesJSON, field: "\(f).attributes_json")
        }
        guard order.totalMinor != nil else { throw bad("lines", "the total overflows") }
        let address = try FieldRules.jsonObject(order.shippingAddressJSON, field: "shipping_address_json")
        guard !address.isEmpty else { throw bad("shipping_address_json", "is required") }
        try FieldRules.orderMetadata(order.metadataJSON, field: "metadata_json")
    }

    /// Checks a return request.
    /// - Throws: `RPCError` 3.
    public static func validate(_ request: ReturnRequest) throws {
        guard request.orderID > 0 else { throw bad("order_id", "is required") }
        try FieldRules.identifier(request.requestKey, field: "request_key")
        try FieldRules.text(request.reason, field: "reason", max: 500)
        guard !request.lines.isEmpty else { throw bad("lines", "at least one line is required") }
        try validateLines(request.lines)
    }

    /// Checks a shipment report.
    /// - Throws: `RPCError` 3.
    public static func validate(_ report: ShipmentReport) throws {
        guard report.orderID > 0 else { throw bad("order_id", "is required") }
        try FieldRules.identifier(report.shipmentID, field: "shipment_id")
        if report.kind == .shipped, report.lines.isEmpty { throw bad("lines", "a shipment needs at least one line") }
        try validateLines(report.lines)
    }

    /// Checks the lines of a return or a shipment report: at most `FieldLimits.maxLines`, each naming an order
    /// line number in range once, with a valid quantity.
    /// - Throws: `RPCError` 3.
    static func validateLines(_ lines: [OrderLineQuantity]) throws {
        guard lines.count <= FieldLimits.maxLines else { throw bad("lines", "more than \(FieldLimits.maxLines) lines") }
        var seen = Set<Int>()
        for (i, line) in lines.enumerated() {
            guard line.lineNo >= 1, line.lineNo <= FieldLimits.maxLines else {
                throw bad("lines[\(i)].line_no", "is out of range")
            }
            guard seen.insert(line.lineNo).inserted else { throw bad("lines[\(i)].line_no", "appears twice") }
            try FieldRules.quantity(Int64(line.quantity), field: "lines[\(i)].quantity")
        }
    }

    /// Checks search filters.
    /// - Throws: `RPCError` 3.
    public static func validate(_ query: OrderSearchQuery) throws {
        try FieldRules.text(query.text, field: "query", max: 200)
        guard (1...100).contains(query.limit) else { throw bad("limit", "must be in 1...100") }
        if let p = query.deliveryPreference {
            try FieldRules.text(p, field: "delivery_preference", max: FieldLimits.maxDeliveryPreferenceLength, required: true)
        }
        if let c = query.itemColour {
            try FieldRules.text(c, field: "item_colour", max: FieldLimits.maxAttributeLength, required: true)
        }
        if let s = query.itemSize {
            try FieldRules.text(s, field: "item_size", max: FieldLimits.maxAttributeLength, required: true)
        }
        if let from = query.createdFrom, let before = query.createdBefore, from >= before {
            throw bad("created_from", "must be before created_before")
        }
    }
}

extension OrdersV1.ListParkedOutboxRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 for a page size over 500.
    public func validate() throws {
        guard pageSize <= 500 else { throw OrderValidation.bad("page_size", "must be at most 500") }
    }
}

extension OrdersV1.ResumeOutboxRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 unless the id is an outbox row id.
    public func validate() throws {
        guard let n = Int64(outboxID), n > 0 else { throw OrderValidation.bad("outbox_id", "is not an outbox row id") }
    }
}
