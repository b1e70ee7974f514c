import OMSAPI
import OMSRPCCore

/// `CheckoutLookup` over the coordinator's `GetCheckout` (by checkout id) through the typed client.
///
/// 5 NOT_FOUND is `.unknown`. So is a checkout id that is not one the coordinator issues (not a positive
/// decimal number: an order created directly through CreateOrder), which is not asked about. Every other
/// failure (unreachable, deadline, refused) is `CheckoutLookupUnavailable`: the sweep tries again later.
public struct CheckoutClientLookup: CheckoutLookup {
    public let client: CheckoutV1.CheckoutClient
    public let timeout: Duration

    public init(client: CheckoutV1.CheckoutClient, timeout: Duration = .seconds(5)) {
        self.client = client
        self.timeout = timeout
    }

    public func standing(ofCheckout checkoutID: String) async throws -> CheckoutStanding {
        guard let id = Int64(checkoutID), id > 0 else { return .unknown }
        let response: CheckoutV1.GetCheckoutResponse
        do {
            response = try await client.getCheckout(
                CheckoutV1.GetCheckoutRequest(lookup: .checkoutID(String(id))),
                options: CallOptions(timeout: timeout, idempotent: true))
        } catch let e as RPCError where e.code == .notFound {
            return .unknown
        } catch {
            throw CheckoutLookupUnavailable("GetCheckout \(checkoutID): \(error)")
        }
        guard let record = response.checkout else { throw CheckoutLookupUnavailable("GetCheckout answered no checkout") }
        return Self.standing(of: record)
    }

    /// A checkout record's standing: ended once it has a result (placed or rejected), open before.
    public static func standing(of record: CheckoutV1.CheckoutRecord) -> CheckoutStanding {
        switch record.result?.outcome {
        case .placed?: .placed
        case .rejected?: .ended
        case .inProgress?, nil: .open
        }
    }
}
