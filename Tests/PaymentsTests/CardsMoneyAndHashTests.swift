import OMSCore
import OMSRPCCore
import Testing

@testable import Payments

@Suite struct CardsMoneyAndHashTests {
    @Test(arguments: [
        SandboxPaymentProvider.TestCard.success, SandboxPaymentProvider.TestCard.genericDecline,
        SandboxPaymentProvider.TestCard.insufficientFunds, SandboxPaymentProvider.TestCard.processingError,
        SandboxPaymentProvider.TestCard.slow, "5555555555554444", "378282246310005", "6011111111111117",
    ])
    func testCardsPassLuhn(_ number: String) throws {
        let card = try CardNumber(number)
        #expect(card.fullNumber == number)
        #expect(card.lastFour == String(number.suffix(4)))
        #expect(!"\(card)".contains(number))
        #expect(!String(reflecting: card).contains(number))
    }

    @Test func brands() throws {
        #expect(try CardNumber("4242 4242 4242 4242").brand == .visa)
        #expect(try CardNumber("5555-5555-5555-4444").brand == .mastercard)
        #expect(try CardNumber("378282246310005").brand == .amex)
        #expect(try CardNumber("6011111111111117").brand == .discover)
    }

    @Test(arguments: ["4242424242424241", "4242", "", "4242abcd42424242", "42424242424242424242", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"])
    func malformedNumbersAreRefused(_ text: String) {
        do {
            _ = try CardNumber(text, field: "payment_method.card.number")
            Issue.record("accepted \(text)")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("payment_method.card.number"))
            #expect(text.isEmpty || !error.message.contains(text))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func currencies() throws {
        #expect(Currency(code: "EUR")?.minorUnitDigits == 2)
        #expect(Currency(code: "JPY")?.minorUnitDigits == 0)
        #expect(Currency(code: "KWD")?.minorUnitDigits == 3)
        #expect(Currency(code: "eur") == nil)
        #expect(Currency(code: "XXX") == nil)
        #expect(Currency(code: "") == nil)
    }

    @Test func amounts() throws {
        #expect(try MoneyRules.validateAmount(1, field: "a") == 1)
        #expect(try MoneyRules.validateAmount(MoneyRules.maximumMinorUnits, field: "a") == MoneyRules.maximumMinorUnits)
        for bad in [0, -1, Int64.min, Int64.max, MoneyRules.maximumMinorUnits + 1] {
            #expect(throws: RPCError.self) { try MoneyRules.validateAmount(bad, field: "a") }
        }
    }

    @Test func sha256KnownVectors() {
        #expect(SHA256Hex.digest(of: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Hex.digest(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256Hex.digest(of: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256Hex.digest(of: String(repeating: "a", count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func fingerprintsSeparateFields() {
        var a = RequestFingerprint("x")
        a.append("ab")
        a.append("c")
        var b = RequestFingerprint("x")
        b.append("a")
        b.append("bc")
        #expect(a.value != b.value)
    }

    @Test func idsIncrease() {
        let ids = PaymentIDGenerator(node: 3)
        var last: Int64 = 0
        for _ in 0..<10_000 {
            let id = ids.next()
            #expect(id > last)
            last = id
        }
    }

    @Test func keysAndOrderIDs() throws {
        try PaymentsValidation.validateKey(String(repeating: "k", count: 255), field: "idempotency_key")
        #expect(throws: RPCError.self) {
            try PaymentsValidation.validateKey(String(repeating: "k", count: 256), field: "idempotency_key")
        }
        #expect(throws: RPCError.self) { try PaymentsValidation.validateKey("", field: "idempotency_key") }
        #expect(throws: RPCError.self) { try PaymentsValidation.validateKey("a\nb", field: "idempotency_key") }
        #expect(throws: RPCError.self) { try PaymentsValidation.parsePaymentID("-1", field: "payment_id") }
        #expect(throws: RPCError.self) {
            try PaymentsValidation.parsePaymentID("18446744073709551616", field: "payment_id")
        }
        #expect(try PaymentsValidation.parsePaymentID("42", field: "payment_id") == 42)
    }
}
