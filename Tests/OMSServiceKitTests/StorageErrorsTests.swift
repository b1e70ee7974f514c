import OMSMySQL
import OMSRPCCore
import OMSRedis
import Testing

@testable import OMSServiceKit

/// The one mapping from storage failures to status codes (docs/protocol.md).
@Suite struct StorageErrorsTests {
    @Test(
        "MySQL failures map to one status each",
        arguments: [
            (UInt32(2003), RPCStatusCode.unavailable),  // cannot connect
            (2002, .unavailable),  // socket
            (2013, .unavailable),  // lost during query
            (2006, .unavailable),  // gone away
            (1969, .unavailable),  // statement timeout
            (1213, .aborted),  // deadlock, retries exhausted
            (1205, .aborted),  // lock wait timeout
            (1062, .aborted),  // duplicate the operation did not expect
            (4025, .failedPrecondition),  // CHECK constraint
            (1406, .invalidArgument),  // data too long
            (1045, .internalError),  // access denied: misconfiguration
            (1064, .internalError),  // syntax: a defect
        ])
    func mysql(_ number: UInt32, _ code: RPCStatusCode) {
        let error = MySQLError(number: number, message: "driver text for user 'oms'@'db.internal'")
        let answer = RPCError(answering: error)
        #expect(answer.code == code)
        #expect(!answer.message.contains("db.internal"))
        #expect(answer.cause is MySQLError)
    }

    @Test("a closed pool is unavailable")
    func poolClosed() {
        #expect(RPCError(answering: MySQLError(kind: .poolClosed, message: "closed")).code == .unavailable)
    }

    @Test("Redis failures: unreachable, timed out or closed → 14; a server error → 13")
    func redis() {
        #expect(RPCError(answering: RedisError(kind: .connection, message: "refused")).code == .unavailable)
        #expect(RPCError(answering: RedisError(kind: .timeout, message: "slow")).code == .unavailable)
        #expect(RPCError(answering: RedisError(kind: .closed, message: "shut down")).code == .unavailable)
        #expect(RPCError(answering: RedisError(kind: .server, message: "WRONGTYPE x")).code == .internalError)
    }

    @Test("an RPCError passes through; an unknown error is 13 with a generic message")
    func passThrough() {
        struct Secret: Error { var password = "hunter2" }
        #expect(RPCError(answering: RPCError(.notFound, "no such order")).code == .notFound)
        let unknown = RPCError(answering: Secret())
        #expect(unknown.code == .internalError)
        #expect(unknown.message == "internal error")
        #expect(RPCError(answering: CancellationError()).code == .cancelled)
    }
}
