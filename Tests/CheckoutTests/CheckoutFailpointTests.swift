import Checkout
import OMSServiceKit
import Testing

/// The test-only `failpoint` setting (docs/checkout.md): off by default, parsed strictly.
struct CheckoutFailpointTests {
    typealias Settings = ServiceSettings<CheckoutOptions>

    @Test func offByDefault() throws {
        let settings = try Settings.parse(service: .checkout, arguments: [], environment: [:])
        #expect(try CheckoutConfiguration(options: settings.own).crashAfter == nil)
        #expect(CheckoutConfiguration().crashAfter == nil)
    }

    @Test func readsEveryForwardStep() throws {
        let expected: [String: CheckoutStep] = [
            "reserve": .reserve, "create-order": .createOrder, "authorize": .authorize,
            "confirm-order": .confirmOrder, "commit-reservation": .commitReservation,
        ]
        for (name, step) in expected {
            let settings = try Settings.parse(
                service: .checkout, arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": "crash-after:\(name)"])
            #expect(try CheckoutConfiguration(options: settings.own).crashAfter == step)
        }
    }

    @Test func refusesAnythingElse() throws {
        for bad in ["crash-after:", "crash-after:void-payment", "crash-before:reserve", "reserve", "crash-after:Reserve"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try CheckoutConfiguration.parseFailpoint(bad) }
            do {
                _ = try Settings.parse(service: .checkout, arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": bad])
                Issue.record("\(bad) was accepted")
            } catch {
                let (message, status) = Settings.report(error, service: .checkout)
                #expect(status == 64 && message.contains("--failpoint must be crash-after:<step>"), "\(message)")
            }
        }
    }

    @Test func leaseMustExceedStepTimeout() {
        do {
            _ = try Settings.parse(service: .checkout, arguments: ["--lease", "5s", "--step-timeout", "8s"], environment: [:])
            Issue.record("accepted")
        } catch {
            let (message, status) = Settings.report(error, service: .checkout)
            #expect(status == 64 && message.contains("--lease must exceed --step-timeout"), "\(message)")
        }
    }
}
