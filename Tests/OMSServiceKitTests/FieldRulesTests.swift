import OMSAPI
import OMSRPCCore
import Testing

@testable import OMSServiceKit

@Suite struct FieldRulesTests {
    static func code(_ body: () throws -> Void) -> RPCStatusCode {
        do {
            try body()
            return .ok
        } catch let e as RPCError { return e.code } catch { return .unknown }
    }

    static func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch let e as RPCError { return e.message } catch { return "\(error)" }
    }

    @Test func textCountsCharactersNotBytes() {
        let atLimit = String(repeating: "é", count: 20)
        #expect(Self.code { try FieldRules.text(atLimit, field: "f", max: 20) } == .ok)
        #expect(Self.code { try FieldRules.text(atLimit + "e", field: "f", max: 20) } == .invalidArgument)
        #expect(Self.message { try FieldRules.text(atLimit + "e", field: "a.b", max: 20) } == "a.b: is longer than 20 characters")
    }

    @Test func textRefusesControlsAndReplacementCharacters() {
        #expect(Self.code { try FieldRules.text("a\u{7}b", field: "f", max: 20) } == .invalidArgument)
        #expect(Self.code { try FieldRules.text("a\nb", field: "f", max: 20) } == .invalidArgument)
        #expect(Self.code { try FieldRules.text("a\nb", field: "f", max: 20, multiline: true) } == .ok)
        #expect(Self.code { try FieldRules.text("bad \u{FFFD}", field: "f", max: 20) } == .invalidArgument)
        #expect(Self.code { try FieldRules.text("", field: "f", max: 20, required: true) } == .invalidArgument)
        #expect(Self.code { try FieldRules.text("", field: "f", max: 20) } == .ok)
    }

    @Test func identifiersAndSKUs() {
        #expect(Self.code { try FieldRules.identifier("cust-1.a_b:c", field: "f") } == .ok)
        #expect(Self.code { try FieldRules.identifier("has space", field: "f") } == .invalidArgument)
        #expect(Self.code { try FieldRules.sku("SKU/RED-1", field: "f") } == .ok)
        #expect(Self.code { try FieldRules.sku(String(repeating: "S", count: 65), field: "f") } == .invalidArgument)
        #expect(Self.code { try FieldRules.sku("mug ☕", field: "f") } == .invalidArgument)
    }

    @Test func quantitiesAndMoney() {
        #expect(Self.code { try FieldRules.quantity(FieldLimits.maxLineQuantity, field: "q") } == .ok)
        #expect(Self.code { try FieldRules.quantity(FieldLimits.maxLineQuantity + 1, field: "q") } == .invalidArgument)
        #expect(Self.code { try FieldRules.quantity(0, field: "q") } == .invalidArgument)
        #expect(Self.code { try FieldRules.money(CommonV1.Money(amountMinor: 100, currency: "EUR"), field: "m") } == .ok)
        #expect(Self.code { try FieldRules.money(CommonV1.Money(amountMinor: 100, currency: "XXY"), field: "m") } == .invalidArgument)
        #expect(Self.code { try FieldRules.money(CommonV1.Money(amountMinor: -1, currency: "EUR"), field: "m") } == .invalidArgument)
        #expect(Self.code { try FieldRules.money(nil, field: "m") } == .invalidArgument)
    }

    @Test func customerEmailIsOptionalButShaped() {
        #expect(Self.code { try FieldRules.customer(id: "c1", name: "", email: "") } == .ok)
        #expect(Self.code { try FieldRules.customer(id: "c1", name: "Ada", email: "ada@example.org") } == .ok)
        #expect(Self.code { try FieldRules.customer(id: "c1", name: "Ada", email: "not-an-address") } == .invalidArgument)
        #expect(Self.code { try FieldRules.customer(id: "", name: "Ada", email: "") } == .invalidArgument)
        #expect(Self.code { try FieldRules.customer(nil) } == .invalidArgument)
    }

    @Test func addressRequiresNameLineCityAndCountry() {
        var a = CommonV1.Address(name: "Ada", line1: "1 Row", city: "London", country: "GB")
        #expect(Self.code { try FieldRules.address(a) } == .ok)
        a.country = "gb"
        #expect(Self.message { try FieldRules.address(a) } == "shipping_address.country: must be an ISO 3166-1 alpha-2 code")
        a.country = "GB"
        a.postalCode = String(repeating: "1", count: FieldLimits.maxPostalCodeLength + 1)
        #expect(Self.message { try FieldRules.address(a) }.hasPrefix("shipping_address.postal_code:"))
        #expect(Self.code { try FieldRules.address(nil) } == .invalidArgument)
    }

    @Test func jsonDocuments() {
        #expect(Self.code { _ = try FieldRules.jsonObject("", field: "j") } == .ok)
        #expect(Self.code { _ = try FieldRules.jsonObject("[1]", field: "j") } == .invalidArgument)
        #expect(Self.code { _ = try FieldRules.jsonObject("{not json", field: "j") } == .invalidArgument)
        let deep = String(repeating: #"{"a":"#, count: 9) + "1" + String(repeating: "}", count: 9)
        #expect(Self.code { _ = try FieldRules.jsonObject(deep, field: "j") } == .invalidArgument)
        let big = #"{"a":""# + String(repeating: "x", count: FieldLimits.maxJSONBytes) + #""}"#
        #expect(Self.code { _ = try FieldRules.jsonObject(big, field: "j") } == .invalidArgument)
    }

    @Test func metadataAndAttributeMembers() {
        #expect(Self.code { try FieldRules.orderMetadata(#"{"gift": true, "delivery_preference": "express"}"#, field: "m") } == .ok)
        #expect(Self.code { try FieldRules.orderMetadata(#"{"gift": "yes"}"#, field: "m") } == .invalidArgument)
        #expect(Self.code { try FieldRules.orderMetadata(#"{"gift": 1}"#, field: "m") } == .invalidArgument)
        #expect(Self.code { try FieldRules.orderMetadata(#"{"gift_message": "Happy\nbirthday"}"#, field: "m") } == .ok)
        let longColour = #"{"colour": ""# + String(repeating: "r", count: FieldLimits.maxAttributeLength + 1) + #""}"#
        #expect(Self.code { try FieldRules.lineAttributes(longColour, field: "a") } == .invalidArgument)
        #expect(Self.code { try FieldRules.lineAttributes(#"{"size": 42}"#, field: "a") } == .invalidArgument)
    }
}
