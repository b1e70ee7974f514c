internal import CProtobufC

/// A strict pass over the wire bytes before libprotobuf-c unpacks them. It gives a precise
/// `ProtoDecodingError` for malformed input (truncated varint, length past the end, a wire
/// type that does not fit the field, groups) and enforces what protoc-c does not:
/// every `string` field must be valid UTF-8 without NUL bytes (protoc-c strings are
/// NUL-terminated, so an embedded NUL would silently truncate the value).
/// Unknown fields are skipped (forward compatibility).
enum ProtoWireValidator {
    /// Deeper nesting than this is refused (our schemas nest a few levels at most).
    static let maximumDepth = 64

    static func validate(
        _ bytes: UnsafeRawBufferPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int = 0
    ) throws {
        if depth > maximumDepth { throw ProtoDecodingError("message nesting deeper than \(maximumDepth)") }
        var reader = Reader(bytes: bytes)
        while !reader.atEnd {
            let tag = try reader.varint()
            let fieldNumber = tag >> 3
            let wireType = UInt8(tag & 7)
            guard fieldNumber > 0, fieldNumber <= 536_870_911 else {
                throw ProtoDecodingError("invalid field number \(fieldNumber)")
            }
            let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(fieldNumber))
            if let field, !wireTypeFits(wireType, field) {
                throw ProtoDecodingError(
                    "field \(fieldNumber) of \(ProtoRuntime.messageName(descriptor)) has wire type \(wireType)")
            }
            switch wireType {
            case 0:
                _ = try reader.varint()
            case 1:
                try reader.skip(8)
            case 5:
                try reader.skip(4)
            case 2:
                let length = try reader.varint()
                guard length <= UInt64(reader.remaining) else {
                    throw ProtoDecodingError("length \(length) of field \(fieldNumber) runs past the end")
                }
                let payload = try reader.take(Int(length))
                guard let field else { break }
                if field.pointee.type.rawValue == CType.string {
                    guard UTF8Check.isValidWithoutNUL(payload) else {
                        throw ProtoDecodingError(
                            "field \(String(cString: field.pointee.name)) of \(ProtoRuntime.messageName(descriptor)) "
                                + "is not valid UTF-8 (or contains NUL)")
                    }
                } else if field.pointee.type.rawValue == CType.message {
                    guard let sub = field.pointee.descriptor else { break }
                    try validate(payload, sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
                }
            case 3, 4:
                throw ProtoDecodingError("groups are not supported (field \(fieldNumber))")
            default:
                throw ProtoDecodingError("invalid wire type \(wireType) (field \(fieldNumber))")
            }
        }
    }

    private static func wireTypeFits(_ wireType: UInt8, _ field: UnsafePointer<ProtobufCFieldDescriptor>) -> Bool {
        let expected: UInt8
        switch field.pointee.type.rawValue {
        case CType.int32, CType.sint32, CType.int64, CType.sint64,
            CType.uint32, CType.uint64, CType.bool, CType.`enum`:
            expected = 0
        case CType.fixed64, CType.sfixed64, CType.double:
            expected = 1
        case CType.fixed32, CType.sfixed32, CType.float:
            expected = 5
        default:
            expected = 2
        }
        if wireType == expected { return true }
        // Repeated scalars may come packed or not, whatever the schema says.
        return wireType == 2 && expected != 2 && field.pointee.label.rawValue == CType.labelRepeated
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }
        var remaining: Int { bytes.count - offset }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard offset < bytes.count else { throw ProtoDecodingError("truncated varint") }
                let byte = bytes[offset]
                offset += 1
                if shift == 63 && byte > 1 { throw ProtoDecodingError("varint overflows 64 bits") }
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
                if shift > 63 { throw ProtoDecodingError("varint longer than 10 bytes") }
            }
        }

        mutating func skip(_ n: Int) throws {
            guard n <= remaining else { throw ProtoDecodingError("truncated fixed-width field") }
            offset += n
        }

        mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n <= remaining else { throw ProtoDecodingError("truncated field") }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
            offset += n
            return slice
        }
    }
}

/// `ProtobufCType` / `ProtobufCLabel` values (protobuf-c.h), compared by raw value.
private enum CType {
    static let int32: UInt32 = 0
    static let sint32: UInt32 = 1
    static let sfixed32: UInt32 = 2
    static let int64: UInt32 = 3
    static let sint64: UInt32 = 4
    static let sfixed64: UInt32 = 5
    static let uint32: UInt32 = 6
    static let fixed32: UInt32 = 7
    static let uint64: UInt32 = 8
    static let fixed64: UInt32 = 9
    static let float: UInt32 = 10
    static let double: UInt32 = 11
    static let bool: UInt32 = 12
    static let `enum`: UInt32 = 13
    static let string: UInt32 = 14
    static let bytes: UInt32 = 15
    static let message: UInt32 = 16
    static let labelRepeated: UInt32 = 2
}

/// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
enum UTF8Check {
    static func isValidWithoutNUL(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                if b0 == 0 { return false }
                i += 1
                continue
            }
            if b0 < 0xC2 || b0 > 0xF4 { return false }
            if b0 < 0xE0 {
                guard i + 1 < n, bytes[i + 1] & 0xC0 == 0x80 else { return false }
                i += 2
            } else if b0 < 0xF0 {
                guard i + 2 < n else { return false }
                let b1 = bytes[i + 1]
                let b2 = bytes[i + 2]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return false }
                if b0 == 0xE0 && b1 < 0xA0 { return false }  // overlong
                if b0 == 0xED && b1 >= 0xA0 { return false }  // surrogates
                i += 3
            } else {
                guard i + 3 < n else { return false }
                let b1 = bytes[i + 1]
                guard b1 & 0xC0 == 0x80, bytes[i + 2] & 0xC0 == 0x80, bytes[i + 3] & 0xC0 == 0x80 else { return false }
                if b0 == 0xF0 && b1 < 0x90 { return false }  // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return false }  // above U+10FFFF
                i += 4
            }
        }
        return true
    }
}
