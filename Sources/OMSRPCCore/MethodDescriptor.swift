/// Names one RPC method: `/oms.inventory.v1.Inventory/Reserve` on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Fully qualified service name, e.g. `oms.inventory.v1.Inventory`.
    public var service: String
    /// Method name, e.g. `Reserve`.
    public var method: String
    /// Whether repeating the call is harmless (clients may retry it on 14 UNAVAILABLE).
    public var idempotent: Bool

    public init(service: String, method: String, idempotent: Bool = false) {
        self.service = service
        self.method = method
        self.idempotent = idempotent
    }

    /// The wire form: `/<service>/<method>`.
    public var path: String { "/\(service)/\(method)" }
    public var description: String { path }
}
