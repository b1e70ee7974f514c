import OMSAPI
import OMSProto
import OMSRPCCore

/// Field checks shared by the request validations. Every failure is 3 INVALID_ARGUMENT naming the field.
enum ShipmentsValidation {
    /// Most lines in one shipment.
    static let maxLines = 200
    /// Most units of one line in one shipment.
    static let maxQuantity: Int64 = 1_000_000
    /// Longest identifier-like text (line ids, SKUs, warehouses, carriers, tracking numbers).
    static let maxIdentifierLength = 64
    /// Longest idempotency key.
    static let maxIdempotencyKeyLength = 128
    /// Longest cancel reason.
    static let maxReasonLength = 500
    /// Largest page.
    static let maxPageSize: UInt32 = 500
    /// Page size when the request gives none.
    static let defaultPageSize: UInt32 = 50

    /// Parses a suite id (decimal form of a positive 64-bit integer).
    /// - Parameters:
    ///   - text: the field's value.
    ///   - field: the field's name, for the message.
    /// - Throws: 3 INVALID_ARGUMENT.
    static func id(_ text: String, field: String) throws -> Int64 {
        guard !text.isEmpty else { throw RPCError.invalidArgument("\(field) is required") }
        guard text.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int64(text), v > 0 else {
            throw RPCError.invalidArgument("\(field) must be a positive decimal 64-bit id")
        }
        return v
    }

    /// Checks printable ASCII without spaces, 1...max characters.
    /// - Throws: 3 INVALID_ARGUMENT.
    static func identifier(_ text: String, field: String, max: Int = maxIdentifierLength) throws {
        guard !text.isEmpty else { throw RPCError.invalidArgument("\(field) is required") }
        guard text.utf8.count <= max else {
            throw RPCError.invalidArgument("\(field) must be at most \(max) characters")
        }
        guard text.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw RPCError.invalidArgument("\(field) must be printable ASCII without spaces")
        }
    }

    /// Checks free text: at most `max` bytes, no control characters.
    /// - Throws: 3 INVALID_ARGUMENT.
    static func text(_ text: String, field: String, max: Int) throws {
        guard text.utf8.count <= max else {
            throw RPCError.invalidArgument("\(field) must be at most \(max) bytes")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCError.invalidArgument("\(field) must not contain control characters")
        }
    }

    /// Whether `carrier` (as sent) means the built-in sandbox carrier.
    static func isSandbox(_ carrier: String) -> Bool { carrier.isEmpty || carrier == "sandbox" }
}

extension ShipmentsV1.CreateShipmentRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT naming the first bad field.
    public func validate() throws {
        if !idempotencyKey.isEmpty {
            try ShipmentsValidation.identifier(
                idempotencyKey, field: "idempotency_key", max: ShipmentsValidation.maxIdempotencyKeyLength)
        }
        _ = try ShipmentsValidation.id(orderID, field: "order_id")
        try ShipmentsValidation.identifier(warehouse, field: "warehouse")
        guard !lines.isEmpty else { throw RPCError.invalidArgument("lines must not be empty") }
        guard lines.count <= ShipmentsValidation.maxLines else {
            throw RPCError.invalidArgument("lines must have at most \(ShipmentsValidation.maxLines) entries")
        }
        var seen = Set<String>()
        for (i, line) in lines.enumerated() {
            try ShipmentsValidation.identifier(line.lineID, field: "lines[\(i)].line_id")
            if !line.sku.isEmpty { try ShipmentsValidation.identifier(line.sku, field: "lines[\(i)].sku") }
            guard line.quantity > 0, line.quantity <= ShipmentsValidation.maxQuantity else {
                throw RPCError.invalidArgument(
                    "lines[\(i)].quantity must be in 1...\(ShipmentsValidation.maxQuantity)")
            }
            guard seen.insert(line.lineID).inserted else {
                throw RPCError.invalidArgument("lines[\(i)].line_id repeats line \(line.lineID)")
            }
        }
    }
}

extension ShipmentsV1.MarkLabelCreatedRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT naming the first bad field.
    public func validate() throws {
        _ = try ShipmentsValidation.id(shipmentID, field: "shipment_id")
        if !carrier.isEmpty { try ShipmentsValidation.identifier(carrier, field: "carrier") }
        if ShipmentsValidation.isSandbox(carrier) {
            guard trackingNumber.isEmpty else {
                throw RPCError.invalidArgument("tracking_number must be empty: the sandbox carrier issues it")
            }
        } else {
            try ShipmentsValidation.identifier(trackingNumber, field: "tracking_number")
        }
    }
}

extension ShipmentsV1.MarkShippedRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT when `shipment_id` is not an id.
    public func validate() throws {
        _ = try ShipmentsValidation.id(shipmentID, field: "shipment_id")
    }
}

extension ShipmentsV1.MarkDeliveredRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT when `shipment_id` is not an id.
    public func validate() throws {
        _ = try ShipmentsValidation.id(shipmentID, field: "shipment_id")
    }
}

extension ShipmentsV1.CancelShipmentRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT naming the first bad field.
    public func validate() throws {
        _ = try ShipmentsValidation.id(shipmentID, field: "shipment_id")
        try ShipmentsValidation.text(reason, field: "reason", max: ShipmentsValidation.maxReasonLength)
    }
}

extension ShipmentsV1.GetShipmentRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT when `shipment_id` is not an id.
    public func validate() throws {
        _ = try ShipmentsValidation.id(shipmentID, field: "shipment_id")
    }
}

extension ShipmentsV1.ListShipmentsRequest: RPCValidatable {
    /// - Throws: 3 INVALID_ARGUMENT naming the first bad field.
    public func validate() throws {
        _ = try ShipmentsValidation.id(orderID, field: "order_id")
        guard pageSize <= ShipmentsValidation.maxPageSize else {
            throw RPCError.invalidArgument("page_size must be at most \(ShipmentsValidation.maxPageSize)")
        }
        if !pageToken.isEmpty { _ = try ShipmentsValidation.id(pageToken, field: "page_token") }
    }
}
