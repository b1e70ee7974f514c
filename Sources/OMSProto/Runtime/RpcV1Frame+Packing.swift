internal import COMSProto
internal import CProtobufC

// The transport's hot path: a frame is packed by libprotobuf-c straight into the socket buffer
// and unpacked from the bytes the socket delivered, with no intermediate `[UInt8]`.

extension RpcV1.Frame {
    /// Builds the protoc-c struct and hands `body` the packed size and a function that packs the
    /// frame (`protobuf_c_message_pack`) into caller memory.
    /// - Parameter body: Receives the size N; may call `pack` once with at least N writable
    ///   bytes. Neither argument may be used after `body` returns.
    /// - Returns: What `body` returns.
    public func withPackedEncoding<R>(
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> R
    ) rethrows -> R {
        try ProtoRuntime.withPacked(self, body)
    }

    /// Decodes the packed bytes of a frame in place (validated, then unpacked by libprotobuf-c).
    /// - Parameter bytes: Exactly the frame's bytes.
    /// - Throws: `ProtoDecodingError` when they are not a valid `oms.rpc.v1.Frame`.
    public init(packedBytes bytes: UnsafeRawBufferPointer) throws {
        self = try ProtoRuntime.decode(RpcV1.Frame.self, bytes)
    }
}

// Packing a `Call` or `Reply` frame from its parts: the protoc-c structs are filled directly
// (no `RpcV1.Frame` value, no sorted copy of a metadata dictionary) and the payload is packed
// from the caller's memory without an intermediate copy. The bytes are those of
// `withPackedEncoding` for the same frame when the entries are given sorted by key, as the
// generated code sorts map entries.

extension RpcV1 {
    /// One entry of a frame's metadata map, for `Frame.withPackedCall` and `Frame.withPackedReply`
    /// (a struct rather than a tuple: its type metadata is static, never looked up at run time).
    public struct MetadataEntry: Sendable, Hashable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }
}

extension RpcV1.Frame {
    /// Packs a frame carrying a `Call`: hands `body` the size N and a function that packs the
    /// frame (`protobuf_c_message_pack`) into caller memory.
    /// - Parameters:
    ///   - callID: The frame's `call_id`.
    ///   - method: `Call.method`.
    ///   - timeoutMs: `Call.timeout_ms`.
    ///   - metadata: `Call.metadata` entries, in the order to write them (sorted by key for the
    ///     same bytes as the generated encoder).
    ///   - payload: `Call.payload`.
    ///   - body: Receives N; may call `pack` once with at least N writable bytes. Neither
    ///     argument may be used after `body` returns.
    ///
    /// Not generic (see `RpcV1.Frame.withUnpacked`): the caller keeps its result in a local variable.
    public static func withPackedCall(
        callID: UInt64, method: String, timeoutMs: UInt32, metadata: UnsafeBufferPointer<RpcV1.MetadataEntry>,
        payload: [UInt8], _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> Void
    ) rethrows {
        try payload.withUnsafeBufferPointer { payloadBytes in
            try ProtoArena.withScratch { arena in
                let call = arena.allocate(Oms__Rpc__V1__Call.self)
                oms__rpc__v1__call__init(call)
                if !method.isEmpty { call.pointee.method = arena.cString(method) }
                call.pointee.timeout_ms = timeoutMs
                if !metadata.isEmpty {
                    call.pointee.n_metadata = metadata.count
                    call.pointee.metadata = cEntries(metadata, in: arena)
                }
                if let base = payloadBytes.baseAddress, !payloadBytes.isEmpty {
                    call.pointee.payload = ProtobufCBinaryData(len: payloadBytes.count, data: UnsafeMutablePointer(mutating: base))
                }
                let frame = arena.allocate(Oms__Rpc__V1__Frame.self)
                oms__rpc__v1__frame__init(frame)
                frame.pointee.call_id = callID
                frame.pointee.kind_case = .init(rawValue: 2)
                frame.pointee.call = call
                try ProtoRuntime.withPacked(UnsafeRawPointer(frame), body)
            }
        }
    }

    /// Packs a frame carrying a `Reply` (see `withPackedCall`).
    /// - Parameters:
    ///   - callID: The frame's `call_id`.
    ///   - code: `Reply.code`.
    ///   - message: `Reply.message`.
    ///   - payload: `Reply.payload`.
    ///   - metadata: `Reply.metadata` entries, in the order to write them.
    ///   - body: Receives N; may call `pack` once with at least N writable bytes.
    public static func withPackedReply(
        callID: UInt64, code: Int32, message: String, payload: [UInt8],
        metadata: UnsafeBufferPointer<RpcV1.MetadataEntry>,
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) throws -> Void
    ) rethrows {
        try payload.withUnsafeBufferPointer { payloadBytes in
            try ProtoArena.withScratch { arena in
                let reply = arena.allocate(Oms__Rpc__V1__Reply.self)
                oms__rpc__v1__reply__init(reply)
                reply.pointee.code = code
                if !message.isEmpty { reply.pointee.message = arena.cString(message) }
                if let base = payloadBytes.baseAddress, !payloadBytes.isEmpty {
                    reply.pointee.payload = ProtobufCBinaryData(len: payloadBytes.count, data: UnsafeMutablePointer(mutating: base))
                }
                if !metadata.isEmpty {
                    reply.pointee.n_metadata = metadata.count
                    reply.pointee.metadata = cEntries(metadata, in: arena)
                }
                let frame = arena.allocate(Oms__Rpc__V1__Frame.self)
                oms__rpc__v1__frame__init(frame)
                frame.pointee.call_id = callID
                frame.pointee.kind_case = .init(rawValue: 3)
                frame.pointee.reply = reply
                try ProtoRuntime.withPacked(UnsafeRawPointer(frame), body)
            }
        }
    }

    /// The protoc-c map entries of `metadata`, built in `arena`.
    private static func cEntries<Entry: CMetadataEntry>(
        _ metadata: UnsafeBufferPointer<RpcV1.MetadataEntry>, in arena: ProtoArena
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>? {
        arena.array(metadata) { entry in
            let e = arena.allocate(Entry.self)
            Entry.initialize(e)
            if !entry.key.isEmpty { e.pointee.key = arena.cString(entry.key) }
            if !entry.value.isEmpty { e.pointee.value = arena.cString(entry.value) }
            return Optional(e)
        }
    }
}

/// The two protoc-c map-entry types of a frame, `Call.metadata` and `Reply.metadata`: the same
/// fields under two names, so one packing and one reading path serve both.
protocol CMetadataEntry {
    var key: UnsafeMutablePointer<CChar>! { get set }
    var value: UnsafeMutablePointer<CChar>! { get set }
    /// The protoc-c `…__init` of the type.
    static func initialize(_ entry: UnsafeMutablePointer<Self>)
}

extension Oms__Rpc__V1__Call__MetadataEntry: CMetadataEntry {
    static func initialize(_ entry: UnsafeMutablePointer<Self>) { oms__rpc__v1__call__metadata_entry__init(entry) }
}

extension Oms__Rpc__V1__Reply__MetadataEntry: CMetadataEntry {
    static func initialize(_ entry: UnsafeMutablePointer<Self>) { oms__rpc__v1__reply__metadata_entry__init(entry) }
}
