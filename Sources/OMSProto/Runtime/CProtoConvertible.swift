internal import CProtobufC

/// Implemented by every generated message: how it maps onto its protoc-c struct.
protocol CProtoConvertible: ProtoMessage {
    /// The protoc-c struct, e.g. `Oms__Rpc__V1__Frame`.
    associatedtype CMessage
    /// Runs the protoc-c `…__init` function on zeroed memory.
    static func cInit(_ c: UnsafeMutablePointer<CMessage>)
    /// Fills an initialised struct; every allocation comes from `arena`.
    func toC(_ c: UnsafeMutablePointer<CMessage>, _ arena: ProtoArena)
    /// Reads a struct produced by `protobuf_c_message_unpack`; copies everything it keeps.
    init(_fromC c: UnsafePointer<CMessage>) throws
}
