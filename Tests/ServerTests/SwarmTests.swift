import Bots
import Foundation
import Scuttlebutt
import Server
import Testing
import Whiteboard

/// A small swarm against the real server on loopback: load flows, latency is
/// measured, and every room converges to the server's own board.
@Suite(.serialized) struct SwarmTests {
    @Test(arguments: [SwarmPattern.thunderingHerd, .bursty])
    func aSwarmDrawsAndEveryRoomConvergesWithTheServer(pattern: SwarmPattern) async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 1_000_000 }
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 6, rooms: 2, duration: 2, pattern: pattern, seed: 7)
        configuration.disconnectsPerMinute = 60
        let running = server.server
        let report = try await Swarm(configuration: configuration).run(
            authority: { name in
                guard let room = (try? await running.room(named: name)) ?? nil else { return nil }
                let digest = await room.digest
                let hash = await room.board.stateHash
                return (digest, hash)
            })
        #expect(report.sent > 0)
        #expect(report.delivered > 0, "bots in a room see each other's updates")
        #expect(report.latency.p50 <= report.latency.p99 && report.latency.p99 <= report.latency.max)
        #expect(report.convergence.map(\.room) == ["swarm-0", "swarm-1"])
        #expect(report.converged, "\(report.convergence)")
        // A peer that saw seq N+1 before N would refuse it and hang up.
        #expect(server.server.counters.snapshot.refusals["update_rejected"] == nil)
        let stored =
            try server.server.log.history(room: "swarm-0").count + server.server.log.history(room: "swarm-1").count
        #expect(stored == report.sent - report.refused.values.reduce(0, +), "everything sent is stored once")
        await server.stop()
    }
}
