import Foundation
import NIOCore
import Scuttlebutt
import Server
import Storage
import Testing
import Whiteboard

/// Folded history on the real server: late joiners get a snapshot, restarts
/// start from a checkpoint.
@Suite(.serialized) struct CheckpointTests {
    /// Draws a stroke of `extends` points as a new peer and returns its digest
    /// and the board's hash once the server acknowledged everything.
    static func drawStroke(port: Int, room: String, extends: Int) async throws -> (Digest, UInt64) {
        try await withPeer(port: port, name: "alice", room: room) { peer, messages, outbound in
            try await LoopbackTests.draw(peer, extends: extends, inbound: &messages, outbound: outbound)
            return (peer.store.digest, peer.store.state.stateHash)
        }
    }

    /// Waits until `room` holds `count` updates, all folded into its base.
    static func waitUntilFolded(_ room: Room, count: UInt64) async throws {
        try await eventually(20, "the room to fold its history") {
            let held = await room.digest.totalCount
            let unfolded = await room.unfoldedCount
            return held == count && unfolded == 0
        }
    }

    @Test func aLateJoinerGetsTheFoldedBoardAsASnapshotThenTheRest() async throws {
        let server = try await RunningServer { $0.frontierGrace = 50 }
        let port = server.port
        let drawn = try await Self.drawStroke(port: port, room: "late", extends: 300)
        let room = try #require(try await server.server.room(named: "late"))
        try await Self.waitUntilFolded(room, count: 302)
        let joined = try await withPeer(port: port, name: "bob", room: "late") { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            let hash = peer.store.state.stateHash
            // Bob draws on top of the snapshot, and the server takes it.
            let begin = try await peer.record(.beginStroke(at: Point(5, 5), style: Style(color: 2)), outbound)
            try await peer.run(&messages, outbound) { peer.store.confirmedOwnSeq == begin.seq }
            return (hash, peer.snapshotsInstalled, peer.store.timeline.count)
        }
        #expect(joined.0 == drawn.1, "bob's board equals alice's")
        #expect(joined.1 == 1, "one snapshot")
        #expect(joined.2 < 302, "bob did not replay the whole history")
        #expect(server.server.counters.snapshot.snapshotsSent == 1)
        #expect(try await server.server.log.history(room: "late").count == 303)
        await server.stop()
    }

    @Test func aRestartLoadsTheCheckpointAndOnlyTheUpdatesAboveIt() async throws {
        let server = try await RunningServer {
            $0.frontierGrace = 50
            $0.checkpointInterval = 100
        }
        let drawn = try await Self.drawStroke(port: server.port, room: "saved", extends: 400)
        try await eventually(20, "a checkpoint") {
            let checkpoint = try? await server.server.log.load(room: "saved").checkpoint
            return (checkpoint?.digest.totalCount ?? 0) >= 100
        }
        let stored = try await server.server.log.load(room: "saved")
        let checkpoint = try #require(stored.checkpoint)
        #expect(stored.updates.count == 402 - Int(checkpoint.digest.totalCount), "only the suffix is loaded")
        try await server.restart()
        let reloaded = try await withPeer(port: server.port, name: "carol", room: "saved") { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            return (peer.store.digest, peer.store.state.stateHash)
        }
        #expect(reloaded.0 == drawn.0)
        #expect(reloaded.1 == drawn.1)
        await server.stop()
    }

    @Test func aGracefulShutdownCheckpointsEveryFoldedRoom() async throws {
        let server = try await RunningServer { $0.frontierGrace = 50 }
        let drawn = try await Self.drawStroke(port: server.port, room: "closing", extends: 50)
        let room = try #require(try await server.server.room(named: "closing"))
        try await Self.waitUntilFolded(room, count: 52)
        #expect(try await server.server.log.load(room: "closing").checkpoint == nil, "the interval is 10 000")
        await server.server.shutdown()
        try await eventually(20, "the shutdown checkpoint") {
            (try? await server.server.log.load(room: "closing").checkpoint) != nil
        }
        let checkpoint = try #require(try await server.server.log.load(room: "closing").checkpoint)
        #expect(checkpoint.digest == drawn.0)
        #expect(try BoardSnapshotCodec.decode(checkpoint.state).stateHash == drawn.1)
        await server.stop()
    }
}
