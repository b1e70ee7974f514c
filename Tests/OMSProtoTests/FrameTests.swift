import Testing
import OMSProto

@Suite struct FrameTests {
    @Test func callRoundTrip() throws {
        let frame = RpcV1.Frame(
            callID: 42,
            kind: .call(RpcV1.Call(
                method: "/oms.inventory.v1.Inventory/Reserve", timeoutMs: 1500,
                metadata: ["authorization": "Bearer t", "x-request-id": "r-1"], payload: [1, 2, 3, 0, 255])))
        let bytes = frame.serializedBytes()
        #expect(try RpcV1.Frame(serializedBytes: bytes) == frame)
        // Field numbers are the contract: call_id = 1 (varint), call = 2 (length-delimited).
        #expect(Array(bytes.prefix(3)) == [0x08, 42, 0x12])
    }

    @Test func everyKind() throws {
        let kinds: [RpcV1.Frame.Kind?] = [
            nil, .cancel(RpcV1.Cancel()), .goAway(RpcV1.GoAway(reason: "shutdown")),
            .reply(RpcV1.Reply(code: 3, message: "bad", payload: [9], metadata: ["k": "v"])),
            .reply(RpcV1.Reply()),
        ]
        for kind in kinds {
            let frame = RpcV1.Frame(callID: .max, kind: kind)
            #expect(try RpcV1.Frame(serializedBytes: frame.serializedBytes()) == frame)
        }
        #expect(RpcV1.Frame().serializedBytes() == [])
        #expect(try RpcV1.Frame(serializedBytes: [UInt8]()) == RpcV1.Frame())
    }
}
