import OMSAPI
import OMSCore

/// The fingerprints shipments stored before `RequestFingerprint` (no version prefix). Used only to
/// check rows written in that form: a legacy value matches the request whose legacy computation gives
/// the same value. New rows store `RequestFingerprint.value`.
enum LegacyFingerprint {
    /// The `request_hash` of a create request: SHA-256 hex (SQL `SHA2(…, 256)`) of order id, warehouse
    /// and the sorted lines (line id, SKU, quantity joined by U+001F), joined by U+001E.
    static func shipments(_ r: ShipmentsV1.CreateShipmentRequest) -> String {
        let lines = r.lines.map { "\($0.lineID)\u{1F}\($0.sku)\u{1F}\($0.quantity)" }.sorted()
        return SHA256Hex.digest(of: ([r.orderID, r.warehouse] + lines).joined(separator: "\u{1E}"))
    }
}
