import Foundation
import OMSCore
import Testing
import OMSProto

/// Encode/decode throughput of a typical order message. Not a test: runs only with
/// OMS_BENCH=1, best in release (`swift test -c release --filter ProtoBenchmark`); figures go
/// to docs/benchmarks.md.
@Suite struct ProtoBenchmark {
    static var enabled: Bool { ProcessInfo.processInfo.environment["OMS_BENCH"] == "1" }

    static func typicalOrder() -> OrdersV1.Order {
        let eur = { (minor: Int64) in CommonV1.Money(amountMinor: minor, currency: "EUR") }
        return OrdersV1.Order(
            orderID: "7265891234567168001", checkoutID: "chk_01HZX3K9Q8W5E2R7T4Y6U1I0OP",
            customer: CommonV1.Customer(customerID: "1029384756", name: "Zoë Müller", email: "zoe.mueller@example.com"),
            lines: (1...3).map { i in
                OrdersV1.Order.Line(
                    lineID: "\(i)", sku: "SKU-\(100_000 + i)", productName: "Organic cotton T-shirt \(i)", quantity: Int64(i),
                    unitPrice: eur(1999), lineTotal: eur(1999 * Int64(i)),
                    attributesJson: #"{"size":"M","colour":"navy","engraving":""}"#)
            },
            shippingAddress: CommonV1.Address(
                name: "Zoë Müller", line1: "Hauptstraße 12", city: "Berlin", postalCode: "10115", country: "DE",
                phone: "+49 30 1234567"),
            metadataJson: #"{"gift_message":"Happy birthday!","delivery":"evening"}"#, status: .confirmed,
            subtotal: eur(11994), total: eur(12489), reservationID: "chk_01HZX3K9Q8W5E2R7T4Y6U1I0OP",
            paymentID: "7265891234567168999", createdAtUs: 1_760_000_000_000_000, updatedAtUs: 1_760_000_000_500_000,
            version: 3)
    }

    @Test(.enabled(if: ProtoBenchmark.enabled)) func orderEncodeDecode() throws {
        let order = Self.typicalOrder()
        let bytes = order.serializedBytes()
        let iterations = 200_000
        let clock = ContinuousClock()
        var sink = 0
        for _ in 0..<10_000 { sink &+= order.serializedBytes().count }  // warm-up
        let encode = clock.measure {
            for _ in 0..<iterations { sink &+= order.serializedBytes().count }
        }
        var decodeError: (any Error)?
        let decode = clock.measure {
            do {
                for _ in 0..<iterations { sink &+= try OrdersV1.Order(serializedBytes: bytes).lines.count }
            } catch {
                decodeError = error
            }
        }
        #expect(decodeError == nil)
        let frame = RpcV1.Frame(callID: 1, kind: .call(RpcV1.Call(
            method: "/oms.orders.v1.Orders/GetOrder", timeoutMs: 1000,
            metadata: ["authorization": "Bearer 0123456789abcdef", "x-request-id": "req-1"], payload: bytes)))
        let frameBytes = frame.serializedBytes()
        let frameEncode = clock.measure { for _ in 0..<iterations { sink &+= frame.serializedBytes().count } }
        let frameDecode = clock.measure {
            for _ in 0..<iterations { sink &+= ((try? RpcV1.Frame(serializedBytes: frameBytes)) == nil ? 0 : 1) }
        }
        func report(_ name: String, _ d: Duration, _ size: Int) {
            let seconds = d.inSeconds
            let perSecond = Double(iterations) / seconds
            print(String(format: "BENCH %@: %d bytes, %.0f msg/s, %.2f µs/msg, %.1f MB/s",
                         name, size, perSecond, seconds / Double(iterations) * 1e6, perSecond * Double(size) / 1e6))
        }
        report("order encode", encode, bytes.count)
        report("order decode", decode, bytes.count)
        report("frame(call+order) encode", frameEncode, frameBytes.count)
        report("frame(call+order) decode", frameDecode, frameBytes.count)
        print("BENCH sink \(sink)")
    }
}
