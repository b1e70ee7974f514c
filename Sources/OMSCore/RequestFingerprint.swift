import Crypto

/// The idempotency fingerprint of a request: the fields that make two requests "the same request",
/// encoded canonically and hashed with SHA-256.
///
/// Every field is written as a one-byte type tag followed by its value; strings and list elements
/// also carry their byte length (8 bytes, big-endian) and lists their element count, so no two
/// distinct field lists have the same encoding: `["a|b", "c"]` differs from `["a", "b|c"]`, an
/// absent optional from an empty one, and the order of the fields matters.
///
/// The stored form is versioned (`v2:` and 64 lower-case hex digits, see `value`), so a value
/// written by an older computation can be told apart and checked by that computation instead
/// (`FingerprintVerifier`).
public struct RequestFingerprint: Sendable, Hashable {
    /// The prefix of every value this type writes.
    public static let versionPrefix = "v2:"

    /// The canonical encoding of the fields appended so far.
    public private(set) var encoded: [UInt8] = []

    /// A fingerprint whose first field is `operation` (e.g. "authorize"), so the same fields given to
    /// two different operations do not match.
    /// - Parameter operation: the name of the operation.
    public init(_ operation: String) {
        append(operation)
    }

    /// Appends a string field (tag `s`, byte length, UTF-8 bytes).
    /// - Parameter field: the field.
    public mutating func append(_ field: String) {
        encoded.append(Tag.string)
        appendLengthPrefixed(Array(field.utf8))
    }

    /// Appends a signed integer field (tag `i`, 8 bytes big-endian two's complement).
    /// - Parameter field: the field.
    public mutating func append(_ field: Int64) {
        encoded.append(Tag.int64)
        appendBigEndian(UInt64(bitPattern: field))
    }

    /// Appends an unsigned integer field (tag `u`, 8 bytes big-endian).
    /// - Parameter field: the field.
    public mutating func append(_ field: UInt64) {
        encoded.append(Tag.uint64)
        appendBigEndian(field)
    }

    /// Appends a Boolean field (tag `b`, one byte 0 or 1).
    /// - Parameter field: the field.
    public mutating func append(_ field: Bool) {
        encoded.append(Tag.bool)
        encoded.append(field ? 1 : 0)
    }

    /// Appends an optional field: tag `n` when it is nil, else tag `o` followed by the value as `body`
    /// appends it.
    /// - Parameters:
    ///   - field: the field.
    ///   - body: appends the value when there is one.
    public mutating func append<Value>(_ field: Value?, _ body: (inout RequestFingerprint, Value) -> Void) {
        guard let field else {
            encoded.append(Tag.absent)
            return
        }
        encoded.append(Tag.present)
        body(&self, field)
    }

    /// Appends an optional string field (see `append(_:_:)`).
    /// - Parameter field: the field.
    public mutating func append(_ field: String?) { append(field) { $0.append($1) } }

    /// Appends an optional signed integer field (see `append(_:_:)`).
    /// - Parameter field: the field.
    public mutating func append(_ field: Int64?) { append(field) { $0.append($1) } }

    /// Appends a list as one field: tag `l` and the element count, then each element as the byte
    /// length and encoding of the fields `body` appends for it, so elements cannot run into each other.
    /// - Parameters:
    ///   - elements: the list, in the order that counts (sort it first when order does not matter).
    ///   - body: appends the fields of one element.
    public mutating func append<Elements: Collection>(
        list elements: Elements, _ body: (inout RequestFingerprint, Elements.Element) -> Void
    ) {
        encoded.append(Tag.list)
        appendBigEndian(UInt64(elements.count))
        for element in elements {
            var inner = RequestFingerprint()
            body(&inner, element)
            appendLengthPrefixed(inner.encoded)
        }
    }

    /// Appends a list of strings as one field (see `append(list:_:)`).
    /// - Parameter elements: the list.
    public mutating func append(list elements: [String]) { append(list: elements) { $0.append($1) } }

    /// The stored form: `v2:` and the SHA-256 of `encoded` as 64 lower-case hex digits.
    public var value: String { Self.versionPrefix + SHA256Hex.digest(of: encoded) }

    /// Whether a stored value was written by this type (rather than by an older computation).
    /// - Parameter stored: a stored fingerprint.
    public static func isCurrent(_ stored: String) -> Bool { stored.hasPrefix(versionPrefix) }

    private init() {}

    private mutating func appendLengthPrefixed(_ bytes: [UInt8]) {
        appendBigEndian(UInt64(bytes.count))
        encoded.append(contentsOf: bytes)
    }

    private mutating func appendBigEndian(_ n: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            encoded.append(UInt8(truncatingIfNeeded: n >> UInt64(shift)))
        }
    }

    private enum Tag {
        static let string = UInt8(ascii: "s")
        static let int64 = UInt8(ascii: "i")
        static let uint64 = UInt8(ascii: "u")
        static let bool = UInt8(ascii: "b")
        static let absent = UInt8(ascii: "n")
        static let present = UInt8(ascii: "o")
        static let list = UInt8(ascii: "l")
    }
}

/// Checks a stored idempotency fingerprint against an incoming request, in either stored form.
///
/// Rows written before `RequestFingerprint` hold each service's older value (its "legacy"
/// fingerprint). Such a row still matches the request that wrote it, and only that one: a stored
/// value in the current form is compared with `value`, any other with `legacy`.
public struct FingerprintVerifier: Sendable, Hashable {
    /// The request's fingerprint in the current form: what new rows store.
    public let value: String
    /// The request's fingerprint as the service computed it before, or nil when that computation
    /// has no answer for the request (then no legacy value matches).
    public let legacy: String?

    /// - Parameters:
    ///   - fingerprint: the request's current fingerprint.
    ///   - legacy: the request's legacy fingerprint.
    public init(_ fingerprint: RequestFingerprint, legacy: String?) {
        self.value = fingerprint.value
        self.legacy = legacy
    }

    /// Whether `stored` was written for this request.
    /// - Parameter stored: the fingerprint stored with the idempotency key.
    public func matches(_ stored: String) -> Bool {
        if RequestFingerprint.isCurrent(stored) { return stored == value }
        guard let legacy else { return false }
        return stored == legacy
    }
}

/// SHA-256 (FIPS 180-4, swift-crypto) as lower-case hex: migration checksums and fingerprints.
public enum SHA256Hex {
    /// The digest of `input` as 64 lower-case hex characters.
    /// - Parameter input: the bytes.
    public static func digest<Bytes: Sequence>(of input: Bytes) -> String where Bytes.Element == UInt8 {
        var hash = SHA256()
        hash.update(data: Array(input))
        return hash.finalize().map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }

    /// The digest of the UTF-8 bytes of `text` as 64 lower-case hex characters.
    /// - Parameter text: the text.
    public static func digest(of text: String) -> String { digest(of: text.utf8) }
}
