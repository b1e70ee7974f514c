import Foundation
import OMSCore
import OMSRPCCore

/// A reservation as stored in MySQL.
struct ReservationRecord: Sendable, Hashable {
    var id: String
    var status: ReservationStatus
    var isTombstone: Bool
    var reference: String
    var orderID: String?
    var gateToken: String?
    var digest: String
    var expiresAt: Date
    var createdAt: Date
    var version: Int64
    /// Sorted by SKU.
    var lines: [StockLine]

    var machine: ReservationStateMachine {
        ReservationStateMachine(status: status, expiresAt: expiresAt, isTombstone: isTombstone)
    }
}

/// One stock row.
struct StockRecord: Sendable, Hashable {
    var sku: String
    var onHand: Int64
    var reserved: Int64
    var available: Int64 { onHand - reserved }
}

/// One line that could not be reserved.
struct Shortage: Sendable, Hashable {
    var sku: String
    var requested: Int64
    var available: Int64
}

/// A Reserve as the repository runs it.
struct ReserveCommand: Sendable {
    var id: String
    /// Sorted by SKU, distinct SKUs.
    var lines: [StockLine]
    var digest: String
    var ttl: Duration
    var reference: String
    /// The gate token of this call's take, or of the take that owns the id (see docs/inventory.md).
    var token: String?
}

/// What MySQL decided for one Reserve.
enum ReserveDecision: Sendable {
    /// Written by this call.
    case reserved(ReservationRecord)
    /// The id already had a reservation with the same lines.
    case existing(ReservationRecord)
    /// Not enough units (nothing written).
    case outOfStock([Shortage])
    /// Some SKUs have no stock row.
    case unknownSKUs([String])
    /// Refused (tombstone, different lines).
    case refused(RPCError)
}

/// A product row.
struct ProductRecord: Sendable, Hashable {
    var sku: String
    var name: String
    var priceMinor: Int64
    var currency: String
    var attributesJSON: String
    var active: Bool
    var version: Int64
    var createdAt: Date
    var updatedAt: Date
}

extension Date {
    /// This date plus a duration.
    func adding(_ d: Duration) -> Date {
        addingTimeInterval(d.inSeconds)
    }
}
