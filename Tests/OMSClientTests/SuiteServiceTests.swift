import OMSClient
import Testing

@Suite("The suite's service table")
struct SuiteServiceTests {
    @Test("names, RPC ports 7100+, metrics ports 9100+ and address variables")
    func table() {
        let expected: [(SuiteService, String, Int, Int)] = [
            (.checkout, "checkout", 7100, 9100), (.inventory, "inventory", 7101, 9101),
            (.orders, "orders", 7102, 9102), (.payments, "payments", 7103, 9103),
            (.shipments, "shipments", 7104, 9104),
        ]
        #expect(SuiteService.allCases.count == expected.count)
        for (service, name, port, metricsPort) in expected {
            #expect(service.rawValue == name)
            #expect(service.description == name)
            #expect(SuiteService(rawValue: name) == service)
            #expect(service.port == port)
            #expect(service.metricsPort == metricsPort)
            #expect(service.environmentPrefix == "OMS_\(name.uppercased())_")
            #expect(service.addressVariable == "OMS_\(name.uppercased())_ADDR")
        }
        #expect(Set(SuiteService.allCases.map(\.port)).count == expected.count)
    }

    @Test("start order: every service once, checkout (which calls the others) last")
    func startOrder() {
        #expect(Set(SuiteService.startOrder) == Set(SuiteService.allCases))
        #expect(SuiteService.startOrder.count == SuiteService.allCases.count)
        #expect(SuiteService.startOrder.last == .checkout)
    }
}
