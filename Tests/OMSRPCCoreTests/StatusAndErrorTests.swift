import OMSRPCCore
import Testing

@Suite("Status codes and the errors a call answers with")
struct StatusAndErrorTests {
    @Test("every canonical code has its gRPC number and name; others are named by number")
    func codes() {
        let expected: [(RPCStatusCode, Int32, String)] = [
            (.ok, 0, "OK"), (.cancelled, 1, "CANCELLED"), (.unknown, 2, "UNKNOWN"),
            (.invalidArgument, 3, "INVALID_ARGUMENT"), (.deadlineExceeded, 4, "DEADLINE_EXCEEDED"),
            (.notFound, 5, "NOT_FOUND"), (.alreadyExists, 6, "ALREADY_EXISTS"),
            (.permissionDenied, 7, "PERMISSION_DENIED"), (.resourceExhausted, 8, "RESOURCE_EXHAUSTED"),
            (.failedPrecondition, 9, "FAILED_PRECONDITION"), (.aborted, 10, "ABORTED"),
            (.outOfRange, 11, "OUT_OF_RANGE"), (.unimplemented, 12, "UNIMPLEMENTED"),
            (.internalError, 13, "INTERNAL"), (.unavailable, 14, "UNAVAILABLE"), (.dataLoss, 15, "DATA_LOSS"),
            (.unauthenticated, 16, "UNAUTHENTICATED"),
        ]
        for (code, number, name) in expected {
            #expect(code.rawValue == number)
            #expect(code.description == name)
            #expect(RPCStatusCode(rawValue: number) == code)
        }
        #expect(RPCStatusCode(rawValue: 17).description == "CODE_17")
        #expect(RPCStatusCode(rawValue: -1).description == "CODE_-1")
    }

    @Test("an error describes itself by code name, number and message")
    func errorDescription() {
        let error = RPCError.notFound("order 7")
        #expect(error.code == .notFound)
        #expect(error.description == "NOT_FOUND (5): order 7")
        #expect(RPCError.invalidArgument("x").code == .invalidArgument)
        #expect(RPCError.failedPrecondition("x").code == .failedPrecondition)
        #expect(RPCError.unavailable("x").code == .unavailable)
    }

    struct Conflict: RPCErrorConvertible {
        var rpcError: RPCError { RPCError(.alreadyExists, "taken", metadata: ["retry": "no"]) }
    }

    struct Secret: Error, CustomStringConvertible {
        var description: String { "password=hunter2" }
    }

    @Test("answering: RPCError as is, convertible errors by their status, cancellation 1, anything else 13")
    func answering() {
        let own = RPCError(.aborted, "try again", metadata: ["k": "v"])
        let answeredOwn = RPCError(answering: own)
        #expect(answeredOwn.code == .aborted)
        #expect(answeredOwn.message == "try again")
        #expect(answeredOwn.metadata["k"] == "v")

        let converted = RPCError(answering: Conflict())
        #expect(converted.code == .alreadyExists)
        #expect(converted.message == "taken")
        #expect(converted.metadata["retry"] == "no")

        let cancelled = RPCError(answering: CancellationError())
        #expect(cancelled.code == .cancelled)

        let other = RPCError(answering: Secret())
        #expect(other.code == .internalError)
        #expect(other.message == "internal error")
        #expect(!other.message.contains("hunter2"))
        #expect(other.cause is Secret)
    }
}
