import OMSAPI
import OMSProto
import OMSRPCCore

/// `PaymentsPort` over the typed payments client (`oms.payments.v1.Payments`).
public struct PaymentsClientAdapter: PaymentsPort {
    /// The typed client.
    public let client: PaymentsV1.PaymentsClient
    /// Options for every call (deadline, metadata).
    public let options: CallOptions

    /// - Parameters:
    ///   - client: the typed payments client.
    ///   - options: call options.
    public init(client: PaymentsV1.PaymentsClient, options: CallOptions = CallOptions(timeout: .seconds(10))) {
        self.client = client
        self.options = options
    }

    /// Calls Capture with the command's idempotency key (in the request and the `idempotency-key` metadata).
    /// - Returns: the capture id.
    /// - Throws: `RPCError`.
    public func capture(_ command: CaptureCommand) async throws -> String {
        var request = PaymentsV1.CaptureRequest()
        request.paymentID = command.paymentID
        var amount = CommonV1.Money()
        amount.amountMinor = command.amountMinor
        amount.currency = command.currency
        request.amount = amount
        request.idempotencyKey = command.idempotencyKey
        var options = self.options
        options.metadata[Metadata.Keys.idempotencyKey] = command.idempotencyKey
        return try await client.capture(request, options: options).captureID
    }
}
