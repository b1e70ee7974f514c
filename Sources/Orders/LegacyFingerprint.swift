/// The fingerprints orders stored before `RequestFingerprint` (no version prefix). Used only to check
/// rows written in that form: a legacy value matches the request whose legacy computation gives the
/// same value. New rows store `RequestFingerprint.value`.
enum LegacyFingerprint {
    /// The `request_hash` of a create request: two FNV-1a-64 passes with different seeds over the fields
    /// joined with unescaped `|` and `,`, hex, zero-padded to 64 characters. Not cryptographic, and two
    /// different requests can give the same value.
    static func orders(_ o: NewOrder) -> String {
        var text = "\(o.checkoutID)|\(o.customer.id)|\(o.currency)|\(o.reservationID)|"
        text += "\(o.shippingAddressJSON)|\(o.metadataJSON)"
        for l in o.lines { text += "|\(l.sku),\(l.quantity),\(l.unitPriceMinor),\(l.productName),\(l.attributesJSON)" }
        func fnv(_ seed: UInt64) -> String {
            var h = seed
            for b in text.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            let s = String(h, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return fnv(0xcbf2_9ce4_8422_2325) + fnv(0x8422_2325_cbf2_9ce4) + String(repeating: "0", count: 32)
    }
}
