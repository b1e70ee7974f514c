/// A message that encodes to and decodes from protobuf wire bytes (via libprotobuf-c).
/// Generated types in this module conform.
public protocol ProtoMessage: Sendable {
    init()
    /// The protobuf encoding of the message.
    func serializedBytes() -> [UInt8]
    /// Decodes protobuf bytes.
    /// - Throws: `ProtoDecodingError` when the bytes are not a valid encoding of the message.
    init(serializedBytes: some Collection<UInt8>) throws
}

/// Why bytes did not decode as a message.
public struct ProtoDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
