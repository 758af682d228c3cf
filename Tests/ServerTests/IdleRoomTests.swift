import Foundation
import Scuttlebutt
import Server
import Testing
import Whiteboard

@Suite(.serialized) struct IdleRoomTests {
    func loadedRooms(_ server: ScuttleboardServer) async -> Int {
        let line = await server.metricsText().split(separator: "\n").first { $0.hasPrefix("scuttleboard_rooms ") }
        return line.flatMap { Double($0.split(separator: " ")[1]).map { Int($0) } } ?? -1
    }

    @Test func anIdleRoomUnloadsAndReloadsFromTheLog() async throws {
        let server = try await RunningServer { $0.idleRoomTimeout = 50 }
        let port = server.port
        // While someone is in the room it stays, however long they stay.
        let drawn = try await withPeer(port: port, name: "alice", room: "nap") { peer, messages, outbound in
            try await LoopbackTests.draw(peer, extends: 5, inbound: &messages, outbound: outbound)
            // A room nobody joins unloads after the timeout: once it has,
            // the timer has run, and the occupied room must still be there.
            _ = try await server.server.room(named: "empty")
            try await eventually(10, "the empty room to unload") {
                server.server.counters.snapshot.rooms["empty"] == nil
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(server.server.counters.snapshot.rooms.keys.sorted() == ["nap"])
            #expect(await loadedRooms(server.server) == 1)
            return peer.store.digest
        }
        // Once they leave, it goes.
        try await eventually(10, "the idle room to unload") { await loadedRooms(server.server) == 0 }
        // The next joiner finds everything, reloaded from the durable log.
        let seen = try await withPeer(port: port, name: "bob", room: "nap", role: .viewer) { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            return peer.store.digest
        }
        #expect(seen == drawn)
        await server.stop()
    }
}
