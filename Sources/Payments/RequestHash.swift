import OMSCore

/// The canonical form of a request for idempotency: fields in a fixed order, each
/// length-prefixed so that no two different field lists produce the same text. The card enters
/// only as brand, last four and expiry, so the hash reveals nothing more than the stored columns.
struct RequestFingerprint {
    private var text = ""

    init(_ operation: String) { append(operation) }

    mutating func append(_ field: String) {
        text += "\(field.utf8.count):\(field);"
    }

    mutating func append(_ field: Int64) { append(String(field)) }
    mutating func append(_ field: UInt64) { append(String(field)) }

    /// SHA-256 hex of the canonical text.
    var hash: String { SHA256.hex(text) }
}
