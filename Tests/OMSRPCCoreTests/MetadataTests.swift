import OMSRPCCore
import Testing

/// Metadata keeps a few entries in an array; these pin down that it still behaves as a
/// case-insensitive map, also for what a peer can send on the wire.
@Suite("Metadata and the connection's string cache")
struct MetadataTests {
    /// A `Call` frame (call id 1) whose metadata entries are written in the given order, duplicates
    /// and all (a dictionary could not produce them).
    static func callFrame(method: String, entries: [(String, String)]) -> [UInt8] {
        func lengthDelimited(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] {
            [field << 3 | 2] + varint(bytes.count) + bytes
        }
        func varint(_ value: Int) -> [UInt8] {
            var value = UInt64(value)
            var out: [UInt8] = []
            repeat {
                out.append(UInt8(value & 0x7F) | (value >= 0x80 ? 0x80 : 0))
                value >>= 7
            } while value > 0
            return out
        }
        var call = lengthDelimited(1, Array(method.utf8))
        for (key, value) in entries {
            call += lengthDelimited(3, lengthDelimited(1, Array(key.utf8)) + lengthDelimited(2, Array(value.utf8)))
        }
        return [0x08, 0x01] + lengthDelimited(2, call)
    }

    static func metadata(of bytes: [UInt8], strings: inout FrameStringCache) throws -> Metadata {
        let frame = try bytes.withUnsafeBytes { try RPCFrame(decodingBytesIn: $0, strings: &strings) }
        guard case .call(let call)? = frame.kind else {
            Issue.record("not a call")
            return [:]
        }
        return call.metadata
    }

    @Test("lookups ignore case, a later duplicate wins, removal and replacement work")
    func mapSemantics() {
        var metadata: Metadata = ["X-Request-ID": "a", "traceparent": "t"]
        #expect(metadata["x-request-id"] == "a")
        #expect(metadata["X-REQUEST-ID"] == "a")
        metadata["x-request-id"] = "b"
        #expect(metadata["x-request-id"] == "b")
        #expect(metadata.count == 2)
        metadata["TRACEPARENT"] = nil
        #expect(metadata["traceparent"] == nil)
        #expect(metadata.count == 1)
        metadata["missing"] = nil
        #expect(metadata.count == 1)
        #expect(Array(metadata).map(\.key) == ["x-request-id"])
        #expect(Metadata(["A": "1", "b": "2"]).storage == ["a": "1", "b": "2"])
    }

    @Test("equality and hashing do not depend on the order of the entries")
    func orderIndependence() {
        var first = Metadata()
        first["a"] = "1"
        first["b"] = "2"
        var second = Metadata()
        second["b"] = "2"
        second["a"] = "1"
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(Set([first, second]).count == 1)
        second["a"] = "3"
        #expect(first != second)
        #expect(Metadata() == [:])
    }

    @Test("wire entries: keys lower-cased, the last duplicate wins, few or many entries")
    func wireEntries() throws {
        var strings = FrameStringCache()
        let few = try Self.metadata(
            of: Self.callFrame(method: "/a.B/C", entries: [("Key", "1"), ("other", "x"), ("key", "2")]),
            strings: &strings)
        #expect(few.count == 2)
        #expect(few["key"] == "2")
        #expect(few["other"] == "x")

        // Past the point where duplicates are found by hashing: same answers, linear time.
        var entries: [(String, String)] = []
        for index in 0..<5_000 { entries.append(("k\(index % 1_000)", "v\(index)")) }
        let many = try Self.metadata(of: Self.callFrame(method: "/a.B/C", entries: entries), strings: &strings)
        #expect(many.count == 1_000)
        #expect(many["k0"] == "v4000")
        #expect(many["K999"] == "v4999")
    }

    @Test("the string cache hands back equal strings for equal bytes, and new ones for others")
    func stringCache() throws {
        var strings = FrameStringCache()
        let token = "Bearer " + String(repeating: "ab", count: 32)
        var methods: [String] = []
        for index in 0..<12 {
            // Six methods alternate: more than the cache holds, so some are evicted and decoded again.
            let method = "/oms.test.v1.Test/Method\(index % 6)"
            let bytes = Self.callFrame(method: method, entries: [("authorization", token), ("x-request-id", "r\(index)")])
            let frame = try bytes.withUnsafeBytes { try RPCFrame(decodingBytesIn: $0, strings: &strings) }
            guard case .call(let call)? = frame.kind else {
                Issue.record("not a call")
                return
            }
            #expect(call.method == method)
            #expect(call.metadata["authorization"] == token)
            #expect(call.metadata["x-request-id"] == "r\(index)")
            methods.append(call.method)
        }
        #expect(methods == (0..<12).map { "/oms.test.v1.Test/Method\($0 % 6)" })
        // Short strings bypass the cache; empty ones too.
        let short: [UInt8] = Array("abc".utf8)
        #expect(short.withUnsafeBytes { strings.string($0) } == "abc")
        #expect([UInt8]().withUnsafeBytes { strings.string($0) } == "")
    }
}
