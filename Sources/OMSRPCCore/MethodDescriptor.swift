/// Names one RPC method: `/oms.inventory.v1.Inventory/Reserve` on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Fully qualified service name, e.g. `oms.inventory.v1.Inventory`.
    public var service: String { didSet { path = Self.path(service, method) } }
    /// Method name, e.g. `Reserve`.
    public var method: String { didSet { path = Self.path(service, method) } }
    /// Whether repeating the call is harmless (clients may retry it on 14 UNAVAILABLE).
    public var idempotent: Bool
    /// The wire form: `/<service>/<method>`. Built once: every call sends it.
    public private(set) var path: String

    public init(service: String, method: String, idempotent: Bool = false) {
        self.service = service
        self.method = method
        self.idempotent = idempotent
        self.path = Self.path(service, method)
    }

    private static func path(_ service: String, _ method: String) -> String { "/\(service)/\(method)" }

    public var description: String { path }
}
