import OMSCore
import Testing

@Suite struct RequestFingerprintTests {
    private func fingerprint(_ build: (inout RequestFingerprint) -> Void) -> RequestFingerprint {
        var f = RequestFingerprint("op")
        build(&f)
        return f
    }

    @Test func separatorsInsideFieldsDoNotCollide() {
        let a = fingerprint { $0.append("a|b"); $0.append("c") }
        let b = fingerprint { $0.append("a"); $0.append("b|c") }
        #expect(a.value != b.value)
        let c = fingerprint { $0.append("ab"); $0.append("c") }
        let d = fingerprint { $0.append("a"); $0.append("bc") }
        #expect(c.value != d.value)
        let e = fingerprint { $0.append(list: ["a|b", "c"]) }
        let f = fingerprint { $0.append(list: ["a", "b|c"]) }
        #expect(e.value != f.value)
    }

    @Test func emptyAndAbsentOptionalsDiffer() {
        let absent = fingerprint { $0.append(String?.none) }
        let empty = fingerprint { $0.append(String?.some("")) }
        let plain = fingerprint { $0.append("") }
        let omitted = fingerprint { _ in }
        #expect(Set([absent.value, empty.value, plain.value, omitted.value]).count == 4)
        #expect(fingerprint { $0.append(Int64?.none) }.value != fingerprint { $0.append(Int64?.some(0)) }.value)
    }

    @Test func fieldOrderMatters() {
        let ab = fingerprint { $0.append("a"); $0.append("b") }
        let ba = fingerprint { $0.append("b"); $0.append("a") }
        #expect(ab.value != ba.value)
        #expect(fingerprint { $0.append(list: ["a", "b"]) }.value != fingerprint { $0.append(list: ["b", "a"]) }.value)
    }

    @Test func typesAndShapesAreTagged() {
        let values = [
            fingerprint { $0.append("1") }, fingerprint { $0.append(Int64(1)) }, fingerprint { $0.append(UInt64(1)) },
            fingerprint { $0.append(true) }, fingerprint { $0.append(list: ["1"]) },
            fingerprint { $0.append(list: []) }, fingerprint { $0.append(list: [""]) },
            fingerprint { $0.append(list: ["a", "b"]) }, fingerprint { $0.append("a"); $0.append("b") },
            fingerprint { $0.append(list: ["a"]); $0.append(list: ["b"]) },
        ].map(\.value)
        #expect(Set(values).count == values.count)
        #expect(fingerprint { $0.append(false) }.value != fingerprint { $0.append(true) }.value)
        #expect(RequestFingerprint("capture").value != RequestFingerprint("refund").value)
    }

    @Test func elementsOfAListCannotRunIntoEachOther() {
        let a = fingerprint { $0.append(list: [["a", "b"], ["c"]]) { $0.append(list: $1) } }
        let b = fingerprint { $0.append(list: [["a"], ["b", "c"]]) { $0.append(list: $1) } }
        #expect(a.value != b.value)
        let c = fingerprint { $0.append(list: ["ab", "c"]) { f, s in f.append(s) } }
        let d = fingerprint { $0.append(list: ["a", "bc"]) { f, s in f.append(s) } }
        #expect(c.value != d.value)
    }

    /// The encoding is part of every stored fingerprint: a change must come with a new version prefix.
    @Test func knownVectorIsStable() {
        var f = RequestFingerprint("authorize")
        f.append("abc")
        f.append(Int64(-1))
        f.append(UInt64(7))
        f.append(true)
        f.append(String?.none)
        f.append(String?.some(""))
        f.append(list: [("x", nil), ("y", Int64(2))]) { inner, element in
            inner.append(element.0)
            if let n = element.1 { inner.append(n) }
        }
        let hex = f.encoded.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(
            hex
                == "730000000000000009617574686f72697a6573000000000000000361626369ffffffffffffffff7500000000000000"
                + "0762016e6f7300000000000000006c0000000000000002000000000000000a730000000000000001780000000000"
                + "00001373000000000000000179690000000000000002")
        #expect(f.value == "v2:12666ba400ee33cd1e98f4f4dfcd9f4d015cf64ee6cac4bc3a6055b4cbeddae1")
    }

    @Test func storedFormIsVersioned() {
        let value = RequestFingerprint("op").value
        #expect(value.hasPrefix("v2:"))
        #expect(value.count == 67)
        #expect(value.dropFirst(3).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(RequestFingerprint.isCurrent(value))
        #expect(!RequestFingerprint.isCurrent(String(value.dropFirst(3))))
    }

    @Test func verifierComparesEachStoredFormWithItsOwnComputation() {
        let request = RequestFingerprint("op")
        let other = fingerprint { $0.append("x") }
        let verifier = FingerprintVerifier(request, legacy: "legacy-1")
        #expect(verifier.value == request.value)
        #expect(verifier.matches(request.value))
        #expect(!verifier.matches(other.value))
        #expect(verifier.matches("legacy-1"))
        #expect(!verifier.matches("legacy-2"))
        // A legacy value equal to the current one's hex part is still a different form.
        #expect(!verifier.matches(String(request.value.dropFirst(3))))
        let noLegacy = FingerprintVerifier(request, legacy: nil)
        #expect(noLegacy.matches(request.value))
        #expect(!noLegacy.matches(""))
        #expect(!noLegacy.matches("legacy-1"))
    }

    /// FIPS 180-4 example vectors (and the empty message).
    @Test func sha256KnownAnswers() {
        #expect(SHA256Hex.digest(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Hex.digest(of: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Hex.digest(of: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256Hex.digest(of: Array("abc".utf8)) == SHA256Hex.digest(of: "abc"))
    }
}
