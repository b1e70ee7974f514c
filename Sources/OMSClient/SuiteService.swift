/// The services of the suite and where each listens by default: the one table of names and ports
/// (docs/operations.md). The RPC ports are 7100…7104; each Prometheus endpoint is 9100 plus the same
/// last two digits.
public enum SuiteService: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case checkout, inventory, orders, payments, shipments

    /// The order in which the suite starts its services: the coordinator and shipments call the others.
    public static let startOrder: [SuiteService] = [.inventory, .orders, .payments, .shipments, .checkout]

    /// The default RPC port.
    public var port: Int { 7100 + offset }

    /// The default port of the Prometheus text endpoint.
    public var metricsPort: Int { 9100 + offset }

    /// The prefix of the service's own environment variables, e.g. `OMS_INVENTORY_`.
    public var environmentPrefix: String { "OMS_\(rawValue.uppercased())_" }

    /// The suite-wide variable naming where the service listens for its peers, e.g. `OMS_ORDERS_ADDR`.
    public var addressVariable: String { environmentPrefix + "ADDR" }

    public var description: String { rawValue }

    private var offset: Int {
        switch self {
        case .checkout: 0
        case .inventory: 1
        case .orders: 2
        case .payments: 3
        case .shipments: 4
        }
    }
}
