import Checkout
import OMSServiceKit
import Testing

/// Checkout's points of the shared test-only `failpoint` setting (docs/checkout.md): off by default, one point
/// after each forward step, and the old `crash-after:<step>` spelling still read.
struct CheckoutFailpointTests {
    typealias Settings = ServiceSettings<CheckoutOptions>

    @Test func offByDefault() throws {
        let settings = try Settings.parse(service: .checkout, arguments: [], environment: [:])
        #expect(try CheckoutConfiguration(options: settings.own).failpoints == .off)
        #expect(CheckoutConfiguration().failpoints == .off)
    }

    @Test func readsEveryForwardStep() throws {
        let expected: [String: CheckoutStep] = [
            "reserve": .reserve, "create-order": .createOrder, "authorize": .authorize,
            "confirm-order": .confirmOrder, "commit-reservation": .commitReservation,
        ]
        for (name, step) in expected {
            for text in ["crash-after:\(name)", "crash-at:after-\(name)"] {
                let settings = try Settings.parse(
                    service: .checkout, arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": text])
                let point = try #require(CheckoutFailpoint(after: step))
                #expect(try CheckoutConfiguration(options: settings.own).failpoints.armed == [point: .first], "\(text)")
            }
        }
        #expect(CheckoutStep.allCases.filter(\.isCompensation).allSatisfy { CheckoutFailpoint(after: $0) == nil })
    }

    @Test func refusesAnythingElse() throws {
        for bad in ["crash-after:", "crash-after:void-payment", "crash-before:reserve", "reserve", "crash-after:Reserve"] {
            do {
                _ = try Settings.parse(service: .checkout, arguments: [], environment: ["OMS_CHECKOUT_FAILPOINT": bad])
                Issue.record("\(bad) was accepted")
            } catch {
                let (message, status) = Settings.report(error, service: .checkout)
                #expect(status == 64 && message.contains("points: after-authorize, after-commit-reservation"), "\(message)")
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
