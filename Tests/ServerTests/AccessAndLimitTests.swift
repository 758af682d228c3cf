import Foundation
import NIOCore
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard
import Wire

@Suite(.serialized) struct AccessAndLimitTests {
    let text = BoardAction.addText(at: Point(0, 0), text: "hi", style: Style(color: 1))

    @Test func aProtectedRoomNeedsItsTokens() async throws {
        let server = try await RunningServer { configuration in
            configuration.roomAccess = ["vault": RoomAccess(editor: "draw-secret", viewer: "look-secret")]
        }
        let port = server.port
        #expect(try await join(port: port, room: "vault") == .unauthorized("room \"vault\" needs an editor token"))
        #expect(
            try await join(port: port, room: "vault", credentials: "look-secret")
                == .unauthorized("room \"vault\" needs an editor token"))
        #expect(
            try await join(port: port, room: "vault", role: .viewer)
                == .unauthorized("room \"vault\" needs a viewer or editor token"))
        // A viewer with its token gets in, but may not draw.
        #expect(try await join(port: port, room: "vault", role: .viewer, credentials: "look-secret") == nil)
        #expect(
            try await join(port: port, room: "vault", role: .viewer, credentials: "look-secret", then: text)
                == .unauthorized("this link does not accept updates"))
        // The editor draws; nothing else reached the log.
        #expect(try await join(port: port, room: "vault", credentials: "draw-secret", then: text) == nil)
        #expect(try await server.server.log.load(room: "vault").updates.count == 1)
        // Rooms not listed stay open.
        #expect(try await join(port: port, room: "lobby", then: text) == nil)
        #expect(server.server.counters.snapshot.refusals["unauthorized"] == 4)
        await server.stop()
    }

    @Test func aFloodIsCutOffAndTheRoomCarriesOn() async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 10 }
        let port = server.port
        let reason = try await withPeer(port: port, name: "flood", room: "busy") { peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            for index in 0..<60 {
                try await peer.record(
                    .addText(at: Point(0, Int32(index) * 2), text: "x", style: Style(color: 1)), outbound)
            }
            try await peer.run(&messages, outbound) { peer.goodbye != nil }
            return peer.goodbye
        }
        #expect(reason == .limitExceeded("more than 10 updates per second"))
        let stored = try await server.server.log.load(room: "busy").updates.count
        // Batches within the burst (twice the rate) are accepted; the batch
        // that exceeds it is refused whole.
        #expect(stored >= 1 && stored <= 20, "stored \(stored)")
        #expect(try await join(port: port, room: "busy", then: text) == nil)
        await server.stop()
    }

    @Test func connectionAndRoomLimitsRefuseByName() async throws {
        let server = try await RunningServer { configuration in
            configuration.maxRooms = 1
        }
        let port = server.port
        #expect(try await join(port: port, room: "first", then: text) == nil)
        #expect(try await join(port: port, room: "second") == .limitExceeded("the server already holds 1 rooms"))
        await server.stop()

        let crowded = try await RunningServer { $0.maxConnections = 1 }
        let crowdedPort = crowded.port
        let second = try await withTimeout(20, "two connections") {
            let holder = try await connect(port: crowdedPort)
            return try await holder.executeThenClose { inbound, outbound in
                // Finish the handshake first, so the server has admitted it.
                var messages = inbound.makeAsyncIterator()
                let peer = LoopbackPeer(name: "holder", room: "any")
                try await peer.start(outbound)
                try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
                return try await join(port: crowdedPort, room: "any")
            }
        }
        #expect(second == .limitExceeded("the server already serves 1 connections"))
        await crowded.stop()
    }

    @Test func aWrongProtocolVersionIsToldBothVersions() async throws {
        let server = try await RunningServer()
        let port = server.port
        let reason = try await withTimeout(20, "the version refusal") {
            let channel = try await connect(port: port)
            return try await channel.executeThenClose { inbound, outbound -> CloseReason? in
                let hello = Hello(
                    protocolVersion: 7, peer: PeerID(1), name: "future", room: "r", role: .editor, credentials: nil,
                    digest: Digest(), clock: .zero)
                try await outbound.write(.hello(hello))
                for try await message in inbound { if case .goodbye(let reason) = message { return reason } }
                return nil
            }
        }
        #expect(reason == .versionMismatch(local: 1, remote: 7))
        await server.stop()
    }
}
