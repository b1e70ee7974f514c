import Foundation
import OMSAPI
import OMSCore
import OMSProto
import OMSRPCCore
import OMSServiceKit

// Every request is checked before any work is done; a failure is 3 INVALID_ARGUMENT naming the field
// and changes nothing. The router runs these after decoding (which already refuses invalid UTF-8).

extension InventoryV1.ReserveRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        try FieldCheck.reservationID(reservationID)
        guard !lines.isEmpty else { throw RPCError.invalidArgument("lines must not be empty") }
        guard lines.count <= InventoryLimits.maxLines else {
            throw RPCError.invalidArgument("lines must hold at most \(InventoryLimits.maxLines) lines")
        }
        var seen = Set<String>()
        for (i, line) in lines.enumerated() {
            try FieldRules.sku(line.sku, field: "lines[\(i)].sku")
            guard line.quantity > 0 else { throw RPCError.invalidArgument("lines[\(i)].quantity must be positive") }
            guard line.quantity <= InventoryLimits.maxLineQuantity else {
                throw RPCError.invalidArgument("lines[\(i)].quantity must be at most \(InventoryLimits.maxLineQuantity)")
            }
            guard seen.insert(line.sku).inserted else {
                throw RPCError.invalidArgument("lines[\(i)].sku duplicates an earlier line (\(line.sku))")
            }
        }
        try FieldCheck.ttl(ttlMs, field: "ttl_ms")
        try FieldCheck.text(reference, field: "reference")
    }
}

extension InventoryV1.CommitReservationRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        try FieldCheck.reservationID(reservationID)
        try FieldCheck.text(orderID, field: "order_id")
    }
}

extension InventoryV1.ReleaseReservationRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        try FieldCheck.reservationID(reservationID)
        try FieldCheck.text(reason, field: "reason", max: 200)
    }
}

extension InventoryV1.ExtendReservationRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        try FieldCheck.reservationID(reservationID)
        guard ttlMs > 0 else { throw RPCError.invalidArgument("ttl_ms must be positive") }
        try FieldCheck.ttl(ttlMs, field: "ttl_ms")
    }
}

extension InventoryV1.GetProductRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws { try FieldRules.sku(sku, field: "sku") }
}

extension InventoryV1.ListProductsRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        guard pageSize <= InventoryLimits.maxPageSize else {
            throw RPCError.invalidArgument("page_size must be at most \(InventoryLimits.maxPageSize)")
        }
        if !pageToken.isEmpty, ProductCursor.decode(pageToken) == nil {
            throw RPCError.invalidArgument("page_token is not a token returned by ListProducts")
        }
    }
}

extension InventoryV1.GetStockRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        guard !skus.isEmpty else { throw RPCError.invalidArgument("skus must not be empty") }
        guard skus.count <= InventoryLimits.maxSKUsPerRequest else {
            throw RPCError.invalidArgument("skus must hold at most \(InventoryLimits.maxSKUsPerRequest) SKUs")
        }
        for (i, sku) in skus.enumerated() { try FieldRules.sku(sku, field: "skus[\(i)]") }
    }
}

extension InventoryV1.ReconcileRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        guard skus.count <= InventoryLimits.maxSKUsPerRequest else {
            throw RPCError.invalidArgument("skus must hold at most \(InventoryLimits.maxSKUsPerRequest) SKUs")
        }
        for (i, sku) in skus.enumerated() { try FieldRules.sku(sku, field: "skus[\(i)]") }
    }
}

extension InventoryV1.AdjustStockRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        try FieldRules.sku(sku, field: "sku")
        let limit = InventoryLimits.maxStockQuantity
        switch kind {
        case .receive:
            guard quantity > 0, quantity <= limit else {
                throw RPCError.invalidArgument("quantity must be in 1...\(limit) for RECEIVE")
            }
        case .correct:
            guard quantity != 0, quantity.magnitude <= UInt64(limit) else {  // abs(Int64.min) would trap
                throw RPCError.invalidArgument("quantity must be non-zero and at most \(limit) in magnitude for CORRECT")
            }
        case .set:
            guard quantity >= 0, quantity <= limit else {
                throw RPCError.invalidArgument("quantity must be in 0...\(limit) for SET")
            }
        default:
            throw RPCError.invalidArgument("kind must be RECEIVE, CORRECT or SET")
        }
        guard !reason.isEmpty else { throw RPCError.invalidArgument("reason must not be empty") }
        try FieldCheck.text(reason, field: "reason", max: 200)
        try FieldCheck.text(reference, field: "reference")
    }
}

extension InventoryV1.UpsertProductRequest: RPCValidatable {
    /// - Throws: `RPCError` 3 naming the offending field.
    public func validate() throws {
        guard let p = product else { throw RPCError.invalidArgument("product is required") }
        try FieldRules.sku(p.sku, field: "product.sku")
        guard !p.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw RPCError.invalidArgument("product.name must not be empty")
        }
        try FieldCheck.text(p.name, field: "product.name", max: InventoryLimits.maxNameLength)
        guard let price = p.price else { throw RPCError.invalidArgument("product.price is required") }
        guard price.amountMinor >= 0 else { throw RPCError.invalidArgument("product.price.amount_minor must not be negative") }
        guard price.currency.utf8.count == 3, price.currency.utf8.allSatisfy({ (65...90).contains($0) }) else {
            throw RPCError.invalidArgument("product.price.currency must be an ISO 4217 code such as USD")
        }
        guard p.version >= 0 else { throw RPCError.invalidArgument("product.version must not be negative") }
        let json = p.attributesJson.isEmpty ? "{}" : p.attributesJson
        guard json.utf8.count <= InventoryLimits.maxAttributesBytes else {
            throw RPCError.invalidArgument("product.attributes_json must be at most \(InventoryLimits.maxAttributesBytes) bytes")
        }
        guard JSONText.parseObject(json) != nil else {
            throw RPCError.invalidArgument("product.attributes_json must be a JSON object")
        }
    }
}

/// The opaque ListProducts cursor: the last SKU of the page, base64url without padding.
enum ProductCursor {
    static func encode(_ sku: String) -> String {
        Data(("p1:" + sku).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String) -> String? {
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let text = String(data: data, encoding: .utf8),
            text.hasPrefix("p1:")
        else { return nil }
        let sku = String(text.dropFirst(3))
        guard (try? FieldRules.sku(sku, field: "page_token")) != nil else { return nil }
        return sku
    }
}
