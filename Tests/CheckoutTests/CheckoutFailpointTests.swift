import Checkout
import OMSServiceKit
import Testing

/// The test-only `failpoint` setting (docs/checkout.md): off by default, parsed strictly.
struct CheckoutFailpointTests {
    @Test func offByDefault() throws {
        let settings = try Settings(service: "checkout", arguments: [], environment: [:])
        #expect(try CheckoutConfiguration(settings: settings).crashAfter == nil)
        #expect(CheckoutConfiguration().crashAfter == nil)
    }

    @Test func readsEveryForwardStep() throws {
        let expected: [String: CheckoutStep] = [
            "reserve": .reserve, "create-order": .createOrder, "authorize": .authorize,
            "confirm-order": .confirmOrder, "commit-reservation": .commitReservation,
        ]
        for (name, step) in expected {
            let settings = try Settings(
                service: "checkout", arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": "crash-after:\(name)"])
            #expect(try CheckoutConfiguration(settings: settings).crashAfter == step)
        }
    }

    @Test func refusesAnythingElse() throws {
        for bad in ["crash-after:", "crash-after:void-payment", "crash-before:reserve", "reserve", "crash-after:Reserve"] {
            let settings = try Settings(service: "checkout", arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": bad])
            #expect(throws: ConfigurationError.self, "\(bad)") { try CheckoutConfiguration(settings: settings) }
        }
    }
}
