/// Names one RPC method: `/oms.inventory.v1.Inventory/Reserve` on the wire.
///
/// The names live in one immutable shared object, so copying a descriptor (every call's
/// `ServerContext` holds one) costs a single retain.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    private final class Names: Sendable {
        let service: String
        let method: String
        let path: String

        init(service: String, method: String) {
            self.service = service
            self.method = method
            self.path = "/\(service)/\(method)"
        }
    }

    private var names: Names

    /// Fully qualified service name, e.g. `oms.inventory.v1.Inventory`.
    public var service: String {
        get { names.service }
        set { names = Names(service: newValue, method: names.method) }
    }
    /// Method name, e.g. `Reserve`.
    public var method: String {
        get { names.method }
        set { names = Names(service: names.service, method: newValue) }
    }
    /// Whether repeating the call is harmless (clients may retry it on 14 UNAVAILABLE).
    public var idempotent: Bool
    /// The wire form: `/<service>/<method>`. Built once: every call sends it.
    public var path: String { names.path }

    public init(service: String, method: String, idempotent: Bool = false) {
        self.names = Names(service: service, method: method)
        self.idempotent = idempotent
    }

    public static func == (lhs: MethodDescriptor, rhs: MethodDescriptor) -> Bool {
        lhs.idempotent == rhs.idempotent
            && (lhs.names === rhs.names || (lhs.service == rhs.service && lhs.method == rhs.method))
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(service)
        hasher.combine(method)
        hasher.combine(idempotent)
    }

    public var description: String { path }
}
