import OMSProto
import OMSRPCCore
import Testing

/// A message whose wire form is its text's UTF-8; bytes that are not UTF-8 do not decode.
struct TextMessage: ProtoMessage, Equatable {
    var text = ""

    init() {}
    init(_ text: String) { self.text = text }

    func serializedBytes() -> [UInt8] { Array(text.utf8) }

    init(serializedBytes bytes: some Collection<UInt8>) throws {
        guard let text = String(validating: Array(bytes), as: UTF8.self) else {
            throw ProtoDecodingError("not UTF-8")
        }
        self.text = text
    }
}

/// Raw bytes (any bytes decode).
struct BytesMessage: ProtoMessage {
    var bytes: [UInt8] = []

    init() {}
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func serializedBytes() -> [UInt8] { bytes }
    init(serializedBytes bytes: some Collection<UInt8>) throws { self.bytes = Array(bytes) }
}

/// A text that must not be empty.
struct NonEmptyText: ProtoMessage, RPCValidatable {
    var inner = TextMessage()

    init() {}
    init(_ text: String) { inner = TextMessage(text) }

    func serializedBytes() -> [UInt8] { inner.serializedBytes() }
    init(serializedBytes bytes: some Collection<UInt8>) throws { inner = try TextMessage(serializedBytes: bytes) }

    func validate() throws {
        if inner.text.isEmpty { throw RPCError.invalidArgument("text must not be empty") }
        if inner.text == "?" { throw Unexpected() }
    }

    struct Unexpected: Error {}
}

@Suite("RPCRouter serves calls in process as the server does")
struct RouterTests {
    static let echo = MethodDescriptor(service: "oms.test.v1.Test", method: "Echo")
    static let checked = MethodDescriptor(service: "oms.test.v1.Test", method: "Checked")

    static let router: RPCRouter = {
        var router = RPCRouter()
        router.register(echo) { (request: TextMessage, context: ServerContext) in
            TextMessage(request.text + "|" + (context.metadata["x-request-id"] ?? "-"))
        }
        router.register(checked) { (request: NonEmptyText, _: ServerContext) in request.inner }
        return router
    }()

    static func context(_ method: MethodDescriptor) -> ServerContext {
        ServerContext(method: method, metadata: ["X-Request-ID": "r-1"], deadline: nil, peer: "test")
    }

    /// The status a call's failure is answered with (nil when it succeeds).
    func code(_ body: () async throws -> Void) async -> RPCStatusCode? {
        do { try await body() } catch { return RPCError(answering: error).code }
        return nil
    }

    @Test("a registered method decodes the request, runs the handler and encodes the response")
    func serves() async throws {
        let router = Self.router
        #expect(router.handler(for: Self.echo.path)?.descriptor == Self.echo)
        let reply: TextMessage = try await router.call(Self.echo, TextMessage("hi"), context: Self.context(Self.echo))
        #expect(reply == TextMessage("hi|r-1"))
        let raw = try await router.serve(Self.echo, TextMessage("a"), context: Self.context(Self.echo))
        #expect(raw == Array("a|r-1".utf8))
    }

    @Test("a payload that does not decode is 3 INVALID_ARGUMENT")
    func decodeFailure() async {
        let router = Self.router
        let context = Self.context(Self.echo)
        #expect(await code { _ = try await router.serve(Self.echo, BytesMessage([0xFF, 0xFE]), context: context) }
            == .invalidArgument)
    }

    @Test("a request failing validate() is 3, whatever it throws, and the handler does not run")
    func validationFailure() async throws {
        let router = Self.router
        let context = Self.context(Self.checked)
        #expect(await code { _ = try await router.serve(Self.checked, NonEmptyText(""), context: context) }
            == .invalidArgument)
        #expect(await code { _ = try await router.serve(Self.checked, NonEmptyText("?"), context: context) }
            == .invalidArgument)
        let reply: TextMessage = try await router.call(Self.checked, NonEmptyText("ok"), context: context)
        #expect(reply == TextMessage("ok"))
    }

    @Test("a method not registered is 12 UNIMPLEMENTED")
    func unknownMethod() async {
        let router = Self.router
        let missing = MethodDescriptor(service: "oms.test.v1.Test", method: "Missing")
        #expect(router.handler(for: missing.path) == nil)
        #expect(await code { _ = try await router.serve(missing, TextMessage("x"), context: Self.context(missing)) }
            == .unimplemented)
    }
}
