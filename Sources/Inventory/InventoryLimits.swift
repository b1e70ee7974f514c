import OMSRPCCore
import OMSServiceKit

/// The limits every inventory request is checked against (docs/inventory.md, "Validation").
public enum InventoryLimits {
    /// Most characters in a SKU (the suite's shared limit).
    public static let maxSKULength = FieldLimits.maxSKULength
    /// Most characters in a reservation id (the checkout id).
    public static let maxReservationIDLength = 128
    /// Largest quantity of one reservation line.
    public static let maxLineQuantity: Int64 = 1_000_000
    /// Most lines in one reservation.
    public static let maxLines = 100
    /// Most SKUs in one GetStock or Reconcile request.
    public static let maxSKUsPerRequest = 1000
    /// Largest absolute stock adjustment and largest on-hand count.
    public static let maxStockQuantity: Int64 = 1_000_000_000
    /// Most characters of free text (reasons, references, order ids).
    public static let maxTextLength = 128
    /// Most characters of a product name.
    public static let maxNameLength = 200
    /// Most bytes of a product's attributes JSON.
    public static let maxAttributesBytes = 16 * 1024
    /// Largest page of ListProducts.
    public static let maxPageSize: UInt32 = 500
    /// Longest reservation time to live (7 days).
    public static let maxTTLMilliseconds: UInt32 = 7 * 24 * 3600 * 1000
}

/// Inventory's own field checks (SKUs use the shared `FieldRules.sku`). Each throws 3 INVALID_ARGUMENT
/// naming the field.
enum FieldCheck {
    /// Reservation ids: 1-128 characters, no control characters.
    static func reservationID(_ value: String, field: String = "reservation_id") throws {
        guard !value.isEmpty else { throw RPCError.invalidArgument("\(field) must not be empty") }
        guard value.unicodeScalars.count <= InventoryLimits.maxReservationIDLength else {
            throw RPCError.invalidArgument("\(field) must be at most \(InventoryLimits.maxReservationIDLength) characters")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCError.invalidArgument("\(field) must not contain control characters")
        }
    }

    /// Optional free text: at most `max` characters, no control characters except none.
    static func text(_ value: String, field: String, max: Int = InventoryLimits.maxTextLength) throws {
        guard value.unicodeScalars.count <= max else {
            throw RPCError.invalidArgument("\(field) must be at most \(max) characters")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCError.invalidArgument("\(field) must not contain control characters")
        }
    }

    static func ttl(_ value: UInt32, field: String) throws {
        guard value <= InventoryLimits.maxTTLMilliseconds else {
            throw RPCError.invalidArgument("\(field) must be at most \(InventoryLimits.maxTTLMilliseconds) ms")
        }
        guard value == 0 || value >= 1000 else {
            throw RPCError.invalidArgument("\(field) must be 0 (server default) or at least 1000 ms")
        }
    }
}
