import Foundation
import Testing

/// The committed generated code (COMSProto, OMSProto/Generated, OMSAPI/Generated) must equal
/// a fresh generation from proto/. Fix a failure with `make proto`.
@Suite struct GeneratedCodeTests {
    @Test func generatedCodeIsUpToDate() throws {
        let result = try TestSupport.run("bash", ["tools/gen-proto.sh", "--check"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
