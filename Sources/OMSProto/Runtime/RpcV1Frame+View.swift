internal import COMSProto
internal import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Decoding a frame without the generated Swift structs: libprotobuf-c unpacks the bytes (after the
// same `ProtoWireValidator` pass as every message) and the caller reads the protoc-c struct
// through a borrowed view, copying only what it keeps. The transport builds its own call model
// from it in one step instead of going through `RpcV1.Frame` and a `[String: String]` map.

extension RpcV1 {
    /// A read-only view of a frame unpacked by libprotobuf-c. Valid only inside the body of
    /// `RpcV1.Frame.withUnpacked`; nothing it returns may be kept after the body returns.
    public struct FrameView {
        fileprivate let c: UnsafePointer<Oms__Rpc__V1__Frame>

        /// The frame's `call_id`.
        public var callID: UInt64 { c.pointee.call_id }

        /// Which member of `oneof kind` is set.
        public var kind: KindCase {
            switch c.pointee.kind_case.rawValue {
            case 2 where c.pointee.call != nil: .call
            case 3 where c.pointee.reply != nil: .reply
            case 4 where c.pointee.cancel != nil: .cancel
            case 5 where c.pointee.go_away != nil: .goAway
            default: .none
            }
        }

        /// The members of `oneof kind`.
        public enum KindCase: Sendable, Hashable {
            case none, call, reply, cancel, goAway
        }

        /// The `Call`, when `kind` is `.call`.
        public var call: CallView? {
            guard kind == .call, let p = c.pointee.call else { return nil }
            return CallView(c: UnsafePointer(p))
        }

        /// The `Reply`, when `kind` is `.reply`.
        public var reply: ReplyView? {
            guard kind == .reply, let p = c.pointee.reply else { return nil }
            return ReplyView(c: UnsafePointer(p))
        }

        /// `GoAway.reason` (empty unless `kind` is `.goAway`).
        public var goAwayReason: UnsafeRawBufferPointer {
            guard kind == .goAway, let p = c.pointee.go_away else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return cBytes(p.pointee.reason)
        }
    }

    /// A borrowed `oms.rpc.v1.Call` (see `FrameView`). Strings are UTF-8 without NUL (checked by
    /// the validator before unpacking).
    public struct CallView {
        fileprivate let c: UnsafePointer<Oms__Rpc__V1__Call>

        /// The UTF-8 of `method`.
        public var method: UnsafeRawBufferPointer { cBytes(c.pointee.method) }
        public var timeoutMs: UInt32 { c.pointee.timeout_ms }
        /// Entries of the `metadata` map in wire order (a later duplicate key wins).
        public var metadataCount: Int { c.pointee.metadata == nil ? 0 : c.pointee.n_metadata }
        /// The UTF-8 of the key and value of entry `index` (`0..<metadataCount`).
        public func metadataEntry(_ index: Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
            entryBytes(c.pointee.metadata[index])
        }
        /// The request bytes.
        public var payload: UnsafeRawBufferPointer { binaryBytes(c.pointee.payload) }
    }

    /// A borrowed `oms.rpc.v1.Reply` (see `FrameView`).
    public struct ReplyView {
        fileprivate let c: UnsafePointer<Oms__Rpc__V1__Reply>

        public var code: Int32 { c.pointee.code }
        /// The UTF-8 of `message`.
        public var message: UnsafeRawBufferPointer { cBytes(c.pointee.message) }
        /// The response bytes.
        public var payload: UnsafeRawBufferPointer { binaryBytes(c.pointee.payload) }
        /// Entries of the `metadata` map in wire order (a later duplicate key wins).
        public var metadataCount: Int { c.pointee.metadata == nil ? 0 : c.pointee.n_metadata }
        /// The UTF-8 of the key and value of entry `index` (`0..<metadataCount`).
        public func metadataEntry(_ index: Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
            entryBytes(c.pointee.metadata[index])
        }
    }
}

extension RpcV1.Frame {
    /// Validates `bytes`, unpacks them with libprotobuf-c into the thread's scratch arena and
    /// hands `body` a view of the result; the arena is reset when `body` returns.
    ///
    /// Not generic: a generic entry point called from another module runs unspecialised and
    /// looks up type metadata at run time on every frame.
    /// - Parameters:
    ///   - bytes: Exactly the frame's bytes (no length prefix).
    ///   - body: Reads the frame; must copy whatever it keeps.
    /// - Throws: `ProtoDecodingError` when the bytes are not a valid `oms.rpc.v1.Frame`.
    public static func withUnpacked(_ bytes: UnsafeRawBufferPointer, _ body: (RpcV1.FrameView) -> Void) throws {
        try ProtoRuntime.withUnpacked(RpcV1.Frame.self, bytes) { c in
            body(RpcV1.FrameView(c: c))
        }
    }
}

/// The bytes of a protoc-c string (nil reads as empty).
@inline(__always)
private func cBytes(_ p: UnsafeMutablePointer<CChar>?) -> UnsafeRawBufferPointer {
    guard let p else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: p, count: strlen(p))
}

/// The UTF-8 of a map entry's key and value (empty for a missing entry).
@inline(__always)
private func entryBytes<Entry: CMetadataEntry>(
    _ entry: UnsafeMutablePointer<Entry>?
) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    guard let entry else {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        return (empty, empty)
    }
    return (cBytes(entry.pointee.key), cBytes(entry.pointee.value))
}

/// The bytes of protoc-c binary data.
@inline(__always)
private func binaryBytes(_ data: ProtobufCBinaryData) -> UnsafeRawBufferPointer {
    guard data.len > 0, let p = data.data else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: p, count: data.len)
}
