import ArgumentParser
import OMSClient
import Testing

@testable import OMSServiceKit

/// The crash points of a made-up service.
enum SampleFailpoint: String, FailpointName {
    case afterCommit = "after-commit"
    case afterReserve = "after-reserve"
    case outboxAfterDelivery = "outbox-after-delivery"
}

struct SampleFailpointOptions: ParsableArguments, Sendable, FailpointSettings {
    @Option(failpoints: SampleFailpoint.self) var failpoint: Failpoints<SampleFailpoint>
    init() {}
}

/// The TEST-ONLY `failpoint` setting (docs/operations.md, "Failpoints"): parsing only, nothing is killed here.
@Suite struct FailpointTests {
    typealias Points = Failpoints<SampleFailpoint>

    @Test func offByDefaultAndWhenEmpty() throws {
        let settings = try ServiceSettings<SampleFailpointOptions>.parse(service: .orders, arguments: [], environment: [:])
        #expect(settings.own.failpoint == .off && !settings.own.failpoint.isArmed)
        #expect(settings.own.armedFailpoints == nil)
        #expect(try Points(parsing: "") == .off)
        #expect(try Points(parsing: " , ") == .off)
        #expect(!Points.off.fires(at: .afterCommit, roll: 0))
    }

    @Test func crashAtArmsThePointForItsFirstReach() throws {
        let points = try Points(parsing: "crash-at:after-commit")
        #expect(points.armed == [.afterCommit: .first])
        #expect(points.fires(at: .afterCommit, roll: 0.999))
        #expect(!points.fires(at: .outboxAfterDelivery, roll: 0))
        #expect(points.description == "crash-at:after-commit")
    }

    @Test func probabilityFiresOnlyBelowIt() throws {
        let points = try Points(parsing: "crash-at:outbox-after-delivery@0.25")
        #expect(points.armed == [.outboxAfterDelivery: .probability(0.25)])
        #expect(points.fires(at: .outboxAfterDelivery, roll: 0.2))
        #expect(!points.fires(at: .outboxAfterDelivery, roll: 0.25))
        #expect(try Points(parsing: "crash-at:after-commit@1").armed == [.afterCommit: .first])
    }

    @Test func crashAfterIsCrashAtAfterAndListsCombine() throws {
        #expect(try Points(parsing: "crash-after:reserve").armed == [.afterReserve: .first])
        let both = try Points(parsing: "crash-after:commit, crash-at:outbox-after-delivery@0.5")
        #expect(both.armed == [.afterCommit: .first, .outboxAfterDelivery: .probability(0.5)])
        #expect(try Points(parsing: both.description) == both)
    }

    @Test func refusesWhatItCannotRead() {
        let bad = [
            "after-commit", "crash-at:", "crash-at:nowhere", "crash-at:After-Commit", "crash-before:commit",
            "crash-after:after-commit", "crash-at:after-commit@0", "crash-at:after-commit@1.5",
            "crash-at:after-commit@half", "crash-at:after-commit,crash-after:commit",
        ]
        for text in bad {
            #expect(throws: ConfigurationError.self, "\(text)") { try Points(parsing: text) }
        }
    }

    @Test func anUnknownPointIsAUsageErrorNamingTheValidOnes() {
        do {
            _ = try ServiceSettings<SampleFailpointOptions>.parse(
                service: .orders, arguments: [], environment: ["OMS_ORDERS_FAILPOINT": "crash-at:after-intent"])
            Issue.record("accepted")
        } catch {
            let (message, status) = ServiceSettings<SampleFailpointOptions>.report(error, service: .orders)
            #expect(status == 64, "\(message)")
            #expect(message.contains("--failpoint"), "\(message)")
            #expect(message.contains("points: after-commit, after-reserve, outbox-after-delivery"), "\(message)")
        }
    }

    @Test func flagAndVariableBothArmAndHelpListsThePoints() throws {
        let flag = try ServiceSettings<SampleFailpointOptions>.parse(
            service: .orders, arguments: ["--failpoint", "crash-at:after-commit"], environment: [:])
        #expect(flag.own.armedFailpoints == "crash-at:after-commit")
        let variable = try ServiceSettings<SampleFailpointOptions>.parse(
            service: .orders, arguments: [], environment: ["OMS_ORDERS_FAILPOINT": "crash-after:reserve"])
        #expect(variable.own.failpoint.armed == [.afterReserve: .first])
        let help = ServiceSettings<SampleFailpointOptions>.helpText(service: .orders)
        #expect(help.contains("OMS_ORDERS_FAILPOINT") && help.contains("outbox-after-delivery"), "\(help)")
    }
}
