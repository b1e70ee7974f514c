import OMSRPCCore
import Testing

@Suite("Method descriptors and the frame length prefix")
struct DescriptorAndPrefixTests {
    @Test("a descriptor's path is /<service>/<method>, and follows changes of either")
    func path() {
        var method = MethodDescriptor(service: "oms.inventory.v1.Inventory", method: "Reserve")
        #expect(method.path == "/oms.inventory.v1.Inventory/Reserve")
        #expect(method.description == method.path)
        #expect(!method.idempotent)
        method.method = "Release"
        #expect(method.path == "/oms.inventory.v1.Inventory/Release")
        method.service = "oms.orders.v1.Orders"
        #expect(method.path == "/oms.orders.v1.Orders/Release")
        let same = MethodDescriptor(service: "oms.orders.v1.Orders", method: "Release")
        #expect(method == same)
        #expect(method.hashValue == same.hashValue)
        #expect(method != MethodDescriptor(service: "oms.orders.v1.Orders", method: "Release", idempotent: true))
    }

    func parse(_ bytes: [UInt8], maximum: Int) -> FrameLengthPrefix.Header {
        bytes.withUnsafeBytes { FrameLengthPrefix.parse($0, maximumFrameLength: maximum) }
    }

    @Test("the prefix is 4 bytes big-endian, judged against the limit before the body arrives")
    func limits() {
        #expect(FrameLengthPrefix.size == 4)
        #expect(FrameLengthPrefix.defaultMaximumFrameLength == 4 * 1024 * 1024)
        #expect(parse([], maximum: 64) == .incomplete)
        #expect(parse([0, 0, 0], maximum: 64) == .incomplete)
        #expect(parse([0, 0, 0, 0], maximum: 64) == .length(0))
        #expect(parse([0, 0, 0, 64], maximum: 64) == .length(64))
        #expect(parse([0, 0, 0, 65], maximum: 64) == .tooLarge(65))
        #expect(parse([0xFF, 0xFF, 0xFF, 0xFF], maximum: 64) == .tooLarge(0xFFFF_FFFF))
        #expect(parse([0x00, 0x40, 0x00, 0x00, 0xAA], maximum: FrameLengthPrefix.defaultMaximumFrameLength)
            == .length(4 * 1024 * 1024))
        #expect(parse([0x00, 0x40, 0x00, 0x01], maximum: FrameLengthPrefix.defaultMaximumFrameLength)
            == .tooLarge(4 * 1024 * 1024 + 1))
    }

    @Test("write puts the length big-endian into the first 4 bytes and leaves the rest")
    func write() {
        var bytes: [UInt8] = [9, 9, 9, 9, 9]
        bytes.withUnsafeMutableBytes { FrameLengthPrefix.write(0x0102_0304, to: $0) }
        #expect(bytes == [1, 2, 3, 4, 9])
        #expect(parse(bytes, maximum: Int(UInt32.max)) == .length(0x0102_0304))
    }
}
