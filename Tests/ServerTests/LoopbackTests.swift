import Foundation
import NIOCore
import NIOPosix
import Scuttlebutt
import Server
import Testing
import Whiteboard
import Wire

/// The real server on a loopback port, real clients, a real SQLite file.
@Suite(.serialized) struct LoopbackTests {
    /// Draws a stroke of `extends` extends as `peer`, and waits until the
    /// server has acknowledged all of it.
    static func draw(
        _ peer: LoopbackPeer, extends: Int, inbound: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>
    ) async throws {
        try await peer.run(&inbound, outbound) { peer.session.isCaughtUp }
        let begin = try await peer.record(.beginStroke(at: Point(0, 0), style: Style(color: 1)), outbound)
        for step in 1...extends {
            try await peer.record(.extendStroke(begin.id, points: [Point(Int32(step), Int32(step % 7))]), outbound)
        }
        try await peer.record(.endStroke(begin.id), outbound)
        let last = peer.store.digest[peer.store.peer]
        try await peer.run(&inbound, outbound) { peer.store.confirmedOwnSeq == last }
    }

    @Test func twoClientsInARoomConverge() async throws {
        let server = try await RunningServer()
        let port = server.port
        let drawn = try await withPeer(port: port, name: "alice", room: "sketch") { peer, messages, outbound in
            try await Self.draw(peer, extends: 60, inbound: &messages, outbound: outbound)
            return (peer.store.digest, peer.store.state.stateHash)
        }
        let seen = try await withPeer(port: port, name: "bob", room: "sketch", role: .viewer) {
            peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.store.digest.covers(drawn.0) }
            return (peer.store.digest, peer.store.state.stateHash)
        }
        #expect(seen.0 == drawn.0)
        #expect(seen.1 == drawn.1)
        let room = try await server.server.room(named: "sketch")
        #expect(await room?.board.stateHash == drawn.1)
        #expect(try await server.server.log.history(room: "sketch").count == 62)
        await server.stop()
    }

    @Test func acknowledgedUpdatesSurviveARestart() async throws {
        let server = try await RunningServer()
        let port = server.port
        let drawn = try await withPeer(port: port, name: "alice", room: "durable") { peer, messages, outbound in
            try await Self.draw(peer, extends: 30, inbound: &messages, outbound: outbound)
            return (peer.store.digest, peer.store.state.stateHash)
        }
        try await server.restart()
        let newPort = server.port
        let reloaded = try await withPeer(port: newPort, name: "carol", room: "durable") { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            return (peer.store.digest, peer.store.state.stateHash)
        }
        #expect(reloaded.0 == drawn.0)
        #expect(reloaded.1 == drawn.1)
        await server.stop()
    }

    @Test func aMalformedFrameGetsANamedGoodbyeAndOthersCarryOn() async throws {
        let server = try await RunningServer()
        let port = server.port
        // A raw connection that sends a hello, then a frame of unknown type.
        let reason = try await exchangeRaw(port: port, helloFrame(peer: PeerID(7), room: "shared") + [2, 99, 0]).reason
        #expect(reason == .protocolViolation("unknown message type 99"))
        // The room still serves everyone else.
        let digest = try await withPeer(port: port, name: "alice", room: "shared") { peer, messages, outbound in
            try await Self.draw(peer, extends: 5, inbound: &messages, outbound: outbound)
            return peer.store.digest
        }
        #expect(digest.totalCount == 7)
        await server.stop()
    }

    @Test func anotherOriginsUpdateIsRefusedByNameNotStoredAndTheLinkStays() async throws {
        let server = try await RunningServer()
        let port = server.port
        let (rejection, stillOpen) = try await withPeer(
            port: port, name: "mallory", room: "guarded", id: PeerID(0xBAD)
        ) { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            let forged = Update<BoardAction>(
                origin: PeerID(0xA11CE), seq: 1,
                timestamp: Timestamp(milliseconds: TestClock().milliseconds(), counter: 0),
                action: .clear)
            try await outbound.write(.updates([forged]))
            try await peer.run(&messages, outbound) { !peer.rejections.isEmpty || peer.goodbye != nil }
            return (peer.rejections.first, peer.goodbye == nil)
        }
        #expect(rejection == .notAuthor(UpdateID(origin: PeerID(0xA11CE), seq: 1)))
        #expect(stillOpen)
        #expect(try await server.server.log.load(room: "guarded").updates.isEmpty)
        await server.stop()
    }
}
