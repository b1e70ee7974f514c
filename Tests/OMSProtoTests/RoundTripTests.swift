import Testing
import OMSProto

@Suite struct RoundTripTests {
    typealias T = TestingV1

    static func fullScalars() -> T.Scalars {
        T.Scalars(
            i32: -5, i64: -9_000_000_000, u32: 4_000_000_000, u64: .max, s32: .min, s64: .min,
            f32: .max, f64: .max, sf32: -11, sf64: .min, flt: 1.5, dbl: -2.25, flag: true,
            text: "héllo ✓ 注文 🚚", data: [0, 1, 0xff], color: .blue)
    }

    @Test func everyScalarType() throws {
        let value = Self.fullScalars()
        let decoded = try T.Scalars(serializedBytes: value.serializedBytes())
        #expect(decoded == value)

        let extremes: [T.Scalars] = [
            T.Scalars(i32: .min, i64: .min, u32: .max, u64: .max, s32: .max, s64: .max, sf32: .min, sf64: .max),
            T.Scalars(i32: .max, i64: .max, s32: -1, s64: -1, flt: -.infinity, dbl: .infinity),
            T.Scalars(flt: .leastNonzeroMagnitude, dbl: -.greatestFiniteMagnitude),
            T.Scalars(i32: -1),
        ]
        for value in extremes {
            #expect(try T.Scalars(serializedBytes: value.serializedBytes()) == value)
        }
    }

    @Test func nanSurvives() throws {
        let value = T.Scalars(flt: .nan, dbl: -.nan)
        let decoded = try T.Scalars(serializedBytes: value.serializedBytes())
        #expect(decoded.flt.isNaN)
        #expect(decoded.dbl.isNaN)
        #expect(decoded.dbl.bitPattern == value.dbl.bitPattern)
    }

    @Test func negativeInt32IsTenByteVarint() {
        // Like every protobuf implementation: int32 -1 is sign-extended to 64 bits.
        #expect(T.Scalars(i32: -1).serializedBytes() == [0x08] + Array(repeating: 0xff, count: 9) + [0x01])
        // sint32 uses zigzag: -1 -> 1.
        #expect(T.Scalars(s32: -1).serializedBytes() == [0x28, 0x01])
    }

    @Test func defaultsAreNotEncoded() throws {
        #expect(T.Scalars().serializedBytes() == [])
        #expect(T.Repeateds().serializedBytes() == [])
        #expect(T.Maps().serializedBytes() == [])
        #expect(T.Choice().serializedBytes() == [])
        #expect(T.Empty().serializedBytes() == [])
        let decoded = try T.Scalars(serializedBytes: [UInt8]())
        #expect(decoded == T.Scalars())
        #expect(decoded.text == "" && decoded.data == [] && decoded.color == .unspecified && !decoded.flag)
    }

    @Test func optionalPresence() throws {
        let zeroes = T.Optionals(i32: 0, i64: 0, u64: 0, dbl: 0, flag: false, text: "", data: [], color: .unspecified)
        let decoded = try T.Optionals(serializedBytes: zeroes.serializedBytes())
        #expect(decoded == zeroes)
        #expect(decoded.i32 == 0 && decoded.text == "" && decoded.flag == false && decoded.color == .unspecified)
        #expect(try T.Optionals(serializedBytes: T.Optionals().serializedBytes()) == T.Optionals())
        let set = T.Optionals(i32: -3, text: "x", data: [7], color: .red, scalars: T.Scalars())
        let back = try T.Optionals(serializedBytes: set.serializedBytes())
        #expect(back == set)
        #expect(back.scalars == T.Scalars())  // an empty submessage is still present
    }

    @Test func repeatedPackedAndUnpacked() throws {
        let value = T.Repeateds(
            i32: [0, -1, .max, .min], i64: [.min, 0, .max], u32: [0, .max], u64: [.max, 1],
            s32: [-1, 1, .min], s64: [.min, .max], f32: [1, .max], f64: [.max], sf32: [-1], sf64: [.min],
            flt: [1.5, -.infinity], dbl: [0.1, -0.0], flag: [true, false, true], text: ["a", "", "ü"],
            data: [[], [0], [1, 2]], color: [.red, .unrecognized(99), .unspecified],
            scalars: [T.Scalars(), Self.fullScalars()], unpackedI32: [1, -2, 3], unpackedDbl: [2.5, -1],
            unpackedColor: [.green, .unrecognized(-4)])
        let bytes = value.serializedBytes()
        #expect(try T.Repeateds(serializedBytes: bytes) == value)
        // Field 1 packed (wire type 2), field 18 not (wire type 0 per element).
        #expect(bytes.first == 0x0a)
        #expect(bytes.contains(0x90) && bytes.contains(0x01))
    }

    @Test func repeatedAcceptsBothEncodings() throws {
        // i32 = 1 unpacked (08 05 08 06), unpacked_i32 = 18 packed (92 01 02 07 08).
        let bytes: [UInt8] = [0x08, 0x05, 0x08, 0x06, 0x92, 0x01, 0x02, 0x07, 0x08]
        let decoded = try T.Repeateds(serializedBytes: bytes)
        #expect(decoded.i32 == [5, 6])
        #expect(decoded.unpackedI32 == [7, 8])
    }

    @Test func maps() throws {
        let value = T.Maps(
            stringToString: ["a": "1", "ключ": "значение", "": "empty key", "k": ""],
            intToLong: [-1: .min, 0: 0, .max: .max], idToBytes: [.max: [1, 2, 3], 0: []],
            stringToMessage: ["full": Self.fullScalars(), "empty": T.Scalars()],
            boolToColor: [true: .red, false: .unrecognized(1234)], sintToDouble: [.min: -.infinity, 5: 0.5])
        let bytes = value.serializedBytes()
        #expect(try T.Maps(serializedBytes: bytes) == value)
        // Map entries are written in key order, so the encoding is deterministic.
        #expect(value.serializedBytes() == bytes)
        let copy = T.Maps(stringToString: Dictionary(uniqueKeysWithValues: value.stringToString.reversed()))
        #expect(copy.serializedBytes() == T.Maps(stringToString: value.stringToString).serializedBytes())
    }

    @Test func duplicateMapKeyLastWins() throws {
        // Two entries for key "k": values "1" then "2".
        let entry1: [UInt8] = [0x0a, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x31]
        let entry2: [UInt8] = [0x0a, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x32]
        #expect(try T.Maps(serializedBytes: entry1 + entry2).stringToString == ["k": "2"])
    }

    @Test func nestedMessages() throws {
        typealias N = T.Nested
        let value = N(
            inner: N.Inner(value: 7, deepest: N.Inner.Deepest(note: "deep"), more: [N.Inner.Deepest(note: "a"), .init()]),
            inners: [N.Inner(), N.Inner(value: -1)], mode: .safe, orderID: "123", itemIDs: ["1", "2"])
        #expect(try N(serializedBytes: value.serializedBytes()) == value)
    }

    @Test func oneofs() throws {
        let cases: [T.Choice.Value?] = [
            nil, .number(0), .number(-9), .word(""), .word("wörd"), .blob([]), .blob([0, 0]), .color(.unspecified),
            .color(.unrecognized(50)), .nested(T.Nested(mode: .fast)), .yes(false), .yes(true), .ratio(.infinity),
        ]
        for value in cases {
            let choice = T.Choice(name: "n", value: value)
            #expect(try T.Choice(serializedBytes: choice.serializedBytes()) == choice)
        }
        // Last member on the wire wins, as in every protobuf implementation.
        let twoMembers = T.Choice(value: .number(1)).serializedBytes() + T.Choice(value: .word("w")).serializedBytes()
        #expect(try T.Choice(serializedBytes: twoMembers).value == .word("w"))
    }

    @Test func unknownEnumValuesArePreserved() throws {
        let value = T.Scalars(color: .unrecognized(77))
        let decoded = try T.Scalars(serializedBytes: value.serializedBytes())
        #expect(decoded.color == .unrecognized(77))
        #expect(decoded.color.rawValue == 77)
        #expect(T.Color(rawValue: 2) == .green)
        #expect(T.Color(rawValue: -1) == .unrecognized(-1))
        #expect(T.Color.allCases == [.unspecified, .red, .green, .blue])
        let negative = T.Scalars(color: .unrecognized(-2))
        #expect(try T.Scalars(serializedBytes: negative.serializedBytes()).color == .unrecognized(-2))
    }

    @Test func unknownFieldsAreSkipped() throws {
        let known = T.Scalars(i32: 3, text: "t").serializedBytes()
        // field 99 varint, field 100 length-delimited, field 101 fixed32, field 102 fixed64
        let unknown: [UInt8] = [0x98, 0x06, 0x2a, 0xa2, 0x06, 0x02, 0xff, 0xfe, 0xad, 0x06, 1, 2, 3, 4,
                                0xb1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]
        let decoded = try T.Scalars(serializedBytes: unknown + known + unknown)
        #expect(decoded == T.Scalars(i32: 3, text: "t"))
        // A newer Frame with an unknown oneof member still decodes (kind unknown = nil).
        #expect(try RpcV1.Frame(serializedBytes: [0x08, 0x07, 0x32, 0x00]) == RpcV1.Frame(callID: 7))
    }

    @Test func decodesFromAnyCollection() throws {
        let bytes = Self.fullScalars().serializedBytes()
        let slice = ([0xde, 0xad] + bytes)[2...]
        #expect(try T.Scalars(serializedBytes: slice) == Self.fullScalars())
        #expect(try T.Scalars(serializedBytes: AnySequenceCollection(bytes)) == Self.fullScalars())
    }

    @Test func embeddedNULIsCutOnEncodeAndRejectedOnDecode() throws {
        // protoc-c strings are C strings: documented behaviour.
        #expect(try T.Scalars(serializedBytes: T.Scalars(text: "ab\u{0}cd").serializedBytes()).text == "ab")
        #expect(throws: ProtoDecodingError.self) { try T.Scalars(serializedBytes: [0x72, 0x03, 0x61, 0x00, 0x62]) }
    }

    @Test func serviceMessagesRoundTrip() throws {
        let order = OrdersV1.Order(
            orderID: "7265891234567168", checkoutID: "c-1",
            customer: CommonV1.Customer(customerID: "42", name: "Zoë", email: "zoe@example.com"),
            lines: [OrdersV1.Order.Line(lineID: "1", sku: "SKU-1", quantity: 2,
                                        unitPrice: CommonV1.Money(amountMinor: 1999, currency: "EUR"),
                                        attributesJson: #"{"size":"M"}"#)],
            status: .pendingPayment, total: CommonV1.Money(amountMinor: 3998, currency: "EUR"))
        #expect(try OrdersV1.Order(serializedBytes: order.serializedBytes()) == order)
        let result = CheckoutV1.PlaceOrderResponse(
            checkoutID: "1", outcome: .rejected(.init(reason: .outOfStock(.init(skus: ["A", "B"])))))
        #expect(try CheckoutV1.PlaceOrderResponse(serializedBytes: result.serializedBytes()) == result)
        let health = HealthV1.HealthCheckResponse(
            status: .serving, dependencies: [HealthV1.DependencyCheck(name: "mysql", status: .notServing, detail: "down")])
        #expect(try HealthV1.HealthCheckResponse(serializedBytes: health.serializedBytes()) == health)
    }
}

/// A collection without contiguous storage, to exercise the copying path.
struct AnySequenceCollection: Collection {
    let base: [UInt8]
    init(_ base: [UInt8]) { self.base = base }
    var startIndex: Int { base.startIndex }
    var endIndex: Int { base.endIndex }
    subscript(i: Int) -> UInt8 { base[i] }
    func index(after i: Int) -> Int { i + 1 }
}
