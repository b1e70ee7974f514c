import OMSMySQL
import OMSRPCCore
import OMSRedis

// The one mapping from storage failures to status codes (docs/protocol.md, "Status codes"). A
// handler lets these errors escape and the server answers with the status given here; an operation
// for which a failure means something else catches it first (a duplicate idempotency key is a
// replay, a duplicate SKU on create is 6 ALREADY_EXISTS). Messages are fixed texts: the driver's
// message, user and host reach the log only, through `cause`.

extension MySQLError: RPCErrorConvertible {
    /// - 14 UNAVAILABLE: the database cannot be reached, the connection broke, the pool is closed,
    ///   or a statement timed out. The caller may retry; an idempotent write resolves an unknown outcome.
    /// - 10 ABORTED: a deadlock or lock-wait timeout whose retries ran out, or a duplicate key that
    ///   the operation did not expect (a concurrent write of the same row).
    /// - 9 FAILED_PRECONDITION: a CHECK constraint (a stored invariant) refused the change.
    /// - 3 INVALID_ARGUMENT: a value does not fit its column.
    /// - 13 INTERNAL: anything else (syntax, access denied, decoding): a defect or a misconfiguration.
    public var rpcError: RPCError {
        switch kind {
        case .connectionFailed, .connectionLost, .poolClosed, .timeout:
            RPCError(.unavailable, "database unavailable; retry", cause: self)
        case .deadlock, .lockWaitTimeout, .duplicateKey:
            RPCError(.aborted, "concurrent update; retry", cause: self)
        case .checkViolation:
            RPCError(.failedPrecondition, "the change would break a stored invariant", cause: self)
        case .dataError:
            RPCError(.invalidArgument, "a value does not fit its stored field", cause: self)
        default:
            RPCError(.internalError, "storage error", cause: self)
        }
    }
}

extension RedisError: RPCErrorConvertible {
    /// 14 UNAVAILABLE when Redis cannot be reached, timed out or was shut down; 13 otherwise.
    public var rpcError: RPCError {
        switch kind {
        case .connection, .timeout, .closed: RPCError(.unavailable, "cache unavailable; retry", cause: self)
        default: RPCError(.internalError, "cache error", cause: self)
        }
    }
}
