import Foundation
import Testing
import OMSProto

/// Interop with the reference implementation (protoc 3.21's C++ runtime) both ways.
@Suite struct InteropTests {
    typealias T = TestingV1
    static let types = "oms/testing/v1/types.proto"

    @Test func swiftBytesDecodeWithProtoc() throws {
        let text = try TestSupport.protocDecode("oms.testing.v1.Scalars", file: Self.types, RoundTripTests.fullScalars().serializedBytes())
        #expect(text == """
            i32: -5
            i64: -9000000000
            u32: 4000000000
            u64: 18446744073709551615
            s32: -2147483648
            s64: -9223372036854775808
            f32: 4294967295
            f64: 18446744073709551615
            sf32: -11
            sf64: -9223372036854775808
            flt: 1.5
            dbl: -2.25
            flag: true
            text: "h\\303\\251llo \\342\\234\\223 \\346\\263\\250\\346\\226\\207 \\360\\237\\232\\232"
            data: "\\000\\001\\377"
            color: COLOR_BLUE

            """)
    }

    @Test func swiftRepeatedMapsOneofDecodeWithProtoc() throws {
        let repeated = T.Repeateds(i32: [-1, 2], flag: [true, false], text: ["x", "y"], color: [.red, .unrecognized(9)],
                                   unpackedDbl: [0.5])
        #expect(try TestSupport.protocDecode("oms.testing.v1.Repeateds", file: Self.types, repeated.serializedBytes()) == """
            i32: -1
            i32: 2
            flag: true
            flag: false
            text: "x"
            text: "y"
            color: COLOR_RED
            color: 9
            unpacked_dbl: 0.5

            """)
        let maps = T.Maps(stringToString: ["b": "2", "a": "1"], intToLong: [-3: 4])
        #expect(try TestSupport.protocDecode("oms.testing.v1.Maps", file: Self.types, maps.serializedBytes()) == """
            string_to_string {
              key: "a"
              value: "1"
            }
            string_to_string {
              key: "b"
              value: "2"
            }
            int_to_long {
              key: -3
              value: 4
            }

            """)
        let choice = T.Choice(name: "c", value: .nested(T.Nested(inner: .init(value: 1), mode: .safe)))
        #expect(try TestSupport.protocDecode("oms.testing.v1.Choice", file: Self.types, choice.serializedBytes()) == """
            name: "c"
            nested {
              inner {
                value: 1
              }
              mode: MODE_SAFE
            }

            """)
        let optionals = T.Optionals(i32: 0, text: "")
        #expect(try TestSupport.protocDecode("oms.testing.v1.Optionals", file: Self.types, optionals.serializedBytes()) == """
            i32: 0
            text: ""

            """)
    }

    @Test func frameDecodesWithProtoc() throws {
        let frame = RpcV1.Frame(callID: 9, kind: .call(RpcV1.Call(method: "/oms.health.v1.Health/Check", timeoutMs: 250,
                                                                  metadata: ["x-request-id": "r"], payload: [0x0a])))
        #expect(try TestSupport.protocDecode("oms.rpc.v1.Frame", file: "oms/rpc/v1/frame.proto", frame.serializedBytes()) == """
            call_id: 9
            call {
              method: "/oms.health.v1.Health/Check"
              timeout_ms: 250
              metadata {
                key: "x-request-id"
                value: "r"
              }
              payload: "\\n"
            }

            """)
    }

    @Test func protocBytesDecodeInSwift() throws {
        let bytes = try TestSupport.protocEncode("oms.testing.v1.Scalars", file: Self.types, """
            i32: -5 i64: -9000000000 u32: 4000000000 u64: 18446744073709551615 s32: -2147483648
            s64: -9223372036854775808 f32: 4294967295 f64: 18446744073709551615 sf32: -11
            sf64: -9223372036854775808 flt: 1.5 dbl: -2.25 flag: true
            text: "h\\303\\251llo \\342\\234\\223 \\346\\263\\250\\346\\226\\207 \\360\\237\\232\\232"
            data: "\\000\\001\\377" color: COLOR_BLUE
            """)
        #expect(try T.Scalars(serializedBytes: bytes) == RoundTripTests.fullScalars())
        // Same bytes as libprotobuf-c produces (both write fields in number order).
        #expect(bytes == RoundTripTests.fullScalars().serializedBytes())

        let special = try T.Scalars(serializedBytes: try TestSupport.protocEncode(
            "oms.testing.v1.Scalars", file: Self.types, "flt: -inf dbl: nan color: 42"))
        #expect(special.flt == -.infinity && special.dbl.isNaN && special.color == .unrecognized(42))

        let repeated = try T.Repeateds(serializedBytes: try TestSupport.protocEncode("oms.testing.v1.Repeateds", file: Self.types, """
            i32: [1, -1] unpacked_i32: [3, 4] s64: -5 color: [COLOR_GREEN, 17] scalars { text: "ö" } scalars {}
            data: "" data: "\\001"
            """))
        #expect(repeated == T.Repeateds(i32: [1, -1], s64: [-5], data: [[], [1]], color: [.green, .unrecognized(17)],
                                       scalars: [T.Scalars(text: "ö"), T.Scalars()], unpackedI32: [3, 4]))

        let maps = try T.Maps(serializedBytes: try TestSupport.protocEncode("oms.testing.v1.Maps", file: Self.types, """
            string_to_string { key: "k" value: "v" } id_to_bytes { key: 18446744073709551615 value: "\\377" }
            string_to_message { key: "m" value { i32: 1 } } string_to_message { key: "e" }
            bool_to_color { key: true value: COLOR_RED } sint_to_double { key: -1 value: 0.25 }
            """))
        #expect(maps == T.Maps(stringToString: ["k": "v"], idToBytes: [.max: [0xff]],
                               stringToMessage: ["m": T.Scalars(i32: 1), "e": T.Scalars()], boolToColor: [true: .red],
                               sintToDouble: [-1: 0.25]))

        let choice = try T.Choice(serializedBytes: try TestSupport.protocEncode(
            "oms.testing.v1.Choice", file: Self.types, "name: \"x\" ratio: -0.5"))
        #expect(choice == T.Choice(name: "x", value: .ratio(-0.5)))

        let frame = try RpcV1.Frame(serializedBytes: try TestSupport.protocEncode(
            "oms.rpc.v1.Frame", file: "oms/rpc/v1/frame.proto", "call_id: 0 reply { code: 8 message: \"too big\" }"))
        #expect(frame == RpcV1.Frame(callID: 0, kind: .reply(RpcV1.Reply(code: 8, message: "too big"))))
    }
}
