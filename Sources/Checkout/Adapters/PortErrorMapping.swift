import OMSAPI

extension PortError {
    /// Maps a failed RPC onto the port error kinds.
    ///
    /// - 4 DEADLINE_EXCEEDED, 1 CANCELLED, 2 UNKNOWN, 13 INTERNAL, 10 ABORTED ("in progress") and
    ///   14 UNAVAILABLE on a call with effects → unknown outcome (the transport does not tell the
    ///   callers of `RPCClientTransport` whether a 14 happened before sending, so an effectful 14
    ///   is resolved by asking, which is always safe).
    /// - The same codes on a read, and 8 RESOURCE_EXHAUSTED → unavailable (retry).
    /// - Every other code (3, 5, 6, 7, 9, 11, 12, 16, …) → definite: the step did not happen.
    /// - Parameters:
    ///   - error: what the client threw.
    ///   - effectful: whether the call may change state.
    /// - Returns: the port error.
    public static func from(_ error: any Error, effectful: Bool) -> PortError {
        guard let e = error as? RPCError else {
            return effectful
                ? .unknownOutcome(.unknown, "transport error: \(error)") : .unavailable("transport error: \(error)")
        }
        switch e.code {
        case .deadlineExceeded, .cancelled, .unknown, .internalError, .aborted, .unavailable:
            return effectful ? .unknownOutcome(e.code, e.message) : PortError(.unavailable, code: e.code, e.message)
        case .resourceExhausted:
            return PortError(.unavailable, code: e.code, e.message)
        default:
            return .definite(e.code, e.message)
        }
    }
}

/// Runs a client call, mapping its failure onto `PortError`.
func mapped<T>(effectful: Bool, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as PortError {
        throw e
    } catch {
        throw PortError.from(error, effectful: effectful)
    }
}

/// Call options with the time left before `deadline` (at least 1 ms).
func options(_ deadline: ContinuousClock.Instant, idempotencyKey: String? = nil) -> CallOptions {
    let left = deadline - ContinuousClock.now
    var metadata: Metadata = [:]
    if let idempotencyKey { metadata[Metadata.Keys.idempotencyKey] = idempotencyKey }
    return CallOptions(timeout: max(left, .milliseconds(1)), metadata: metadata)
}

extension CheckoutMoney {
    init(_ m: CommonV1.Money?) {
        self.init(amountMinor: m?.amountMinor ?? 0, currency: m?.currency ?? "")
    }

    var wire: CommonV1.Money { CommonV1.Money(amountMinor: amountMinor, currency: currency) }
}
