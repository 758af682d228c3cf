import Foundation
import NIOCore
import NIOPosix
import Scuttlebutt
import Server
import Testing
import Whiteboard
import Wire

/// Each hostile input answered as specified, while an honest client in the
/// same room keeps working.
@Suite(.serialized) struct HostileInputTests {
    let text = BoardAction.addText(at: Point(0, 0), text: "still here", style: Style(color: 1))

    /// Sends raw bytes after a valid hello and returns the goodbye.
    func sendRaw(port: Int, room: String, _ bytes: [UInt8]) async throws -> CloseReason? {
        try await exchangeRaw(port: port, helloFrame(room: room) + bytes).reason
    }

    @Test func anOversizedFrameIsRefusedFromItsLength() async throws {
        let server = try await RunningServer { $0.maxFrameSize = 1_024 }
        // A length prefix announcing 1 MiB; the payload never needs to arrive.
        let reason = try await sendRaw(port: server.port, room: "big", [0x80, 0x80, 0x40])
        #expect(reason == .protocolViolation("frame of 1048576 bytes exceeds the limit of 1024"))
        #expect(try await join(port: server.port, room: "big", then: text) == nil)
        await server.stop()
    }

    @Test func aFarFutureStampAndASeqGapAreRejectedAndNothingIsStored() async throws {
        let server = try await RunningServer()
        let port = server.port
        let now = TestClock().milliseconds()
        for (update, expected) in [
            (
                Update<BoardAction>(
                    origin: PeerID(0xE71), seq: 1, timestamp: Timestamp(milliseconds: now + 3_600_000, counter: 0),
                    action: text), "far_future"
            ),
            (
                Update<BoardAction>(
                    origin: PeerID(0xE71), seq: 2, timestamp: Timestamp(milliseconds: now, counter: 0), action: text),
                "sequence_gap"
            ),
        ] {
            var encoder = WireEncoder<BoardActionCodec>()
            _ = encoder.encode(
                .hello(
                    Hello(
                        protocolVersion: 1, peer: PeerID(0xE71), name: "mallory", room: "guarded", role: .editor,
                        credentials: nil, digest: Digest(), clock: .zero)))
            let reason = try await sendRaw(port: port, room: "guarded", encoder.encode(.updates([update])))
            guard case .updateRejected(let rejection)? = reason else {
                Issue.record("expected a rejection, got \(String(describing: reason))")
                continue
            }
            #expect(rejection.reasonCode == expected)
        }
        #expect(try await server.server.log.load(room: "guarded").updates.isEmpty)
        #expect(try await join(port: port, room: "guarded", then: text) == nil)
        await server.stop()
    }

    /// 50,000 pings in one write: the session is cut off at the message
    /// rate (10,000 a second, bursts of 20,000) with a goodbye saying so,
    /// the rest of the flood is not handled, and another room carries on.
    @Test func aFloodOfTinyMessagesIsCutOffAndOtherRoomsCarryOn() async throws {
        let server = try await RunningServer()
        let port = server.port
        let goodbye = try await withTimeout(60, "the flood's goodbye") {
            let flood = try await connect(port: port)
            return try await flood.executeThenClose { inbound, outbound -> CloseReason? in
                let hello = Hello(
                    protocolVersion: 1, peer: PeerID(0xF100D), name: "flood", room: "flooded", role: .viewer,
                    credentials: nil, digest: Digest(), clock: .zero)
                try await outbound.write(.hello(hello))
                try await outbound.write(contentsOf: (0..<50_000).map { Message.ping(UInt64($0)) })
                for try await message in inbound {
                    if case .goodbye(let reason) = message { return reason }
                }
                return nil
            }
        }
        #expect(goodbye == .limitExceeded("more than 10000 messages per second"))
        #expect(
            try await join(port: port, room: "calm", then: .addText(at: .zero, text: "ok", style: Style(color: 1)))
                == nil)
        await server.stop()
    }

    @Test func aReaderThatNeverReadsDoesNotStallTheRoom() async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 1_000_000 }
        let port = server.port
        // A peer that says hello and then never reads a byte.
        let stalled = try await connect(port: port)
        let hello = Hello(
            protocolVersion: 1, peer: PeerID(0x510), name: "sleepy", room: "flow", role: .viewer, credentials: nil,
            digest: Digest(), clock: .zero)
        try await stalled.channel.writeAndFlush(Message.hello(hello))
        // Meanwhile 3 000 updates are drawn and a watcher gets all of them.
        let drawn = try await withPeer(port: port, name: "drawer", room: "flow") { peer, messages, outbound in
            try await LoopbackTests.draw(peer, extends: 3_000, inbound: &messages, outbound: outbound)
            return peer.store.digest
        }
        let watched = try await withPeer(port: port, name: "watcher", room: "flow", role: .viewer) {
            peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.store.digest.covers(drawn) }
            return peer.store.digest
        }
        #expect(watched.covers(drawn))
        // Flow control bounds what waits for the sleeper: at most `window`
        // unacknowledged batches, not the whole stroke.
        let room = try #require(try await server.server.room(named: "flow"))
        let waiting = try #require(await room.unacknowledgedBatches[PeerID(0x510)])
        #expect(waiting >= 1 && waiting <= GossipSessionConfiguration(name: "", room: "", role: .server).window)
        try await stalled.channel.close()
        await server.stop()
    }
}
