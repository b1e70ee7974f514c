/// A carrier that can issue labels (tracking numbers) for shipments.
public protocol Carrier: Sendable {
    /// The carrier's name as stored on the shipment (`sandbox`).
    var name: String { get }

    /// Issues the tracking number of a shipment's label. Must be deterministic per shipment id, so a
    /// retried MarkLabelCreated (or a transaction rerun after a deadlock) gets the same number.
    /// - Parameters:
    ///   - shipmentID: the shipment id.
    ///   - warehouse: where it ships from.
    /// - Returns: the tracking number.
    func issueTrackingNumber(shipmentID: Int64, warehouse: String) -> String
}

/// The built-in carrier: issues `SBX` + 19 digits of the shipment id + a mod-10 check digit, no network.
///
/// Unique because shipment ids are; the check digit lets support staff spot typos.
public struct SandboxCarrier: Carrier {
    /// `sandbox`.
    public let name = "sandbox"

    /// Creates the sandbox carrier.
    public init() {}

    /// - Parameters:
    ///   - shipmentID: the shipment id.
    ///   - warehouse: unused.
    /// - Returns: e.g. `SBX00000123456789012345674`.
    public func issueTrackingNumber(shipmentID: Int64, warehouse: String) -> String {
        let raw = String(shipmentID.magnitude)
        let digits = String(repeating: "0", count: max(0, 19 - raw.count)) + raw
        return "SBX" + digits + String(Self.checkDigit(digits))
    }

    /// Luhn check digit of a string of decimal digits.
    static func checkDigit(_ digits: String) -> Int {
        var sum = 0
        for (i, ch) in digits.reversed().enumerated() {
            var d = Int(ch.asciiValue! - 48)
            if i % 2 == 0 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return (10 - sum % 10) % 10
    }
}
