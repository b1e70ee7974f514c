import Foundation
import NIOCore
import NIOPosix
import OMSAPI
import OMSClient
import OMSRPCCore
import OMSTestKit
import Testing

/// Issue 17, finding 7, against a real service process: many unauthenticated peers that each send
/// most of a large frame and stall. Before the bounds, 150 such peers took one service from 37 MB
/// to 663 MB resident. Now the service holds at most its incomplete-frame budget, refuses the
/// peers past it, and keeps serving honest callers.
@Suite("Stalled-peer flood against a real service", .serialized)
struct StalledPeerFloodTests {
    /// Resident memory of a process, from /proc (bytes).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    @Test("150 stalled peers: resident memory grows by no more than about the budget; health and calls still answer")
    func flood() async throws {
        let budget = 8 << 20
        try await TestSuite.with(
            services: ["inventory"], settings: ["OMS_INVENTORY_MAX_INCOMPLETE_FRAME_BYTES": "\(budget)"]
        ) { suite in
            let process = try #require(suite.processes["inventory"])
            let pid = try #require(process.pid)
            // Warm the service up so that its own working set is in the baseline.
            for _ in 0..<20 {
                _ = try await suite.clients.inventory.listProducts(InventoryV1.ListProductsRequest(pageSize: 10))
            }
            let before = try #require(Self.residentBytes(pid))

            // Each peer announces a frame just under the unauthenticated limit and sends all but 1 byte.
            let announced = (256 << 10) - 1
            var stalled = ByteBuffer()
            stalled.writeInteger(UInt32(announced))
            stalled.writeBytes([UInt8](repeating: 0x0A, count: announced - 1))
            var peers: [any Channel] = []
            for _ in 0..<150 {
                let peer = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: process.port).get()
                try await peer.writeAndFlush(stalled)
                peers.append(peer)
            }
            // Peers past the budget are answered with a connection error and closed.
            let deadline = ContinuousClock.now + .seconds(20)
            while peers.filter({ !$0.isActive }).count < 150 - budget / announced - 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let refused = peers.filter { !$0.isActive }.count
            #expect(refused >= 150 - budget / announced - 1, "refused \(refused) of 150")
            let after = try #require(Self.residentBytes(pid))
            let growth = after - before
            // 150 × 256 KiB would be 38 MiB held (and more with buffer growth); the budget is 8 MiB.
            #expect(growth < 3 * budget, "resident memory grew by \(growth / 1024) KiB (budget \(budget / 1024) KiB)")

            // Honest callers are served while the stalled peers that fit the budget stay connected.
            let health = await suite.clients.checkHealth(["inventory"], timeout: .seconds(5))["inventory"]
            #expect((try? health?.get().status) == .serving)
            _ = try await suite.clients.inventory.listProducts(InventoryV1.ListProductsRequest(pageSize: 10))
            for peer in peers where peer.isActive { try? await peer.close() }
        }
    }
}
