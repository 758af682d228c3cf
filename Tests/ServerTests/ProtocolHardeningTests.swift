import Foundation
import NIOCore
import NIOPosix
import Scuttlebutt
import Server
import Testing
import Whiteboard
import Wire

/// Careless and hostile peers the handshake and validation must refuse
/// (issue #13), each while honest peers carry on.
@Suite(.serialized) struct ProtocolHardeningTests {
    let text = BoardAction.addText(at: Point(0, 0), text: "still here", style: Style(color: 1))

    /// Opens `count` connections that never send anything, once the server
    /// has accepted them all.
    func idleSockets(_ count: Int, on server: RunningServer) async throws -> [any Channel] {
        var idle: [any Channel] = []
        for _ in 0..<count {
            idle.append(
                try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: server.port).get())
        }
        try await eventually(10, "\(count) idle sockets accepted") {
            server.server.counters.snapshot.handshakesOpen == count
        }
        return idle
    }

    @Test func aConnectionThatNeverSaysHelloIsClosedWithTimeout() async throws {
        let server = try await RunningServer { $0.handshakeTimeout = .milliseconds(300) }
        let (reason, elapsed) = try await exchangeRaw(port: server.port, [])
        #expect(reason == .timeout)
        #expect(elapsed < .seconds(5))
        // Half a hello, never finished: the same.
        let partial = Array(helloFrame(room: "r").prefix(5))
        #expect(try await exchangeRaw(port: server.port, partial).0 == .timeout)
        #expect(server.server.counters.snapshot.refusals["timeout"] == 2)
        #expect(server.server.counters.snapshot.handshakesOpen == 0, "their places are given back")
        await server.stop()
    }

    @Test func aSilentPeerThatIgnoresItsGoodbyeGivesItsPlaceBackAllTheSame() async throws {
        // The deadline is long enough for the joiner below to say hello in
        // time on a loaded machine (300 ms failed once under ThreadSanitizer
        // with the whole suite running).
        let server = try await RunningServer {
            $0.handshakeTimeout = .seconds(2)
            $0.maxHandshakes = 1
        }
        // Never writes and never closes, even once the server has closed its side.
        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: server.port).get()
        try await eventually(10, "the silent socket timed out") {
            server.server.counters.snapshot.refusals["timeout"] == 1
        }
        #expect(server.server.counters.snapshot.handshakesOpen == 0)
        let refusal = try await join(port: server.port, room: "r", then: text)
        #expect(refusal == nil, "the one place is free again, not \(String(describing: refusal))")
        try? await silent.close()
        await server.stop()
    }

    @Test func aStopTellsConnectionsWaitingForHelloAndDoesNotWaitForTheirDeadline() async throws {
        let server = try await RunningServer()  // the hello deadline is the default 10 s
        // Never writes and never closes: only the server can end it.
        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: server.port).get()
        try await eventually(10, "the silent socket accepted") {
            server.server.counters.snapshot.handshakesOpen == 1
        }
        let started = ContinuousClock.now
        try await withTimeout(8, "the stop ends well before the 10 s hello deadline") {
            try await server.shutdownAndWait()
        }
        #expect(ContinuousClock.now - started < .seconds(8))
        #expect(server.server.counters.snapshot.handshakesOpen == 0)
        try? await silent.close()
        await server.stop()
    }

    @Test func idleSocketsWaitingForHelloDoNotTakeTheSessionsPlaces() async throws {
        let server = try await RunningServer { $0.maxConnections = 6 }
        let idle = try await idleSockets(6, on: server)
        #expect(try await join(port: server.port, room: "r", then: text) == nil, "a real client gets in")
        for channel in idle { try? await channel.close() }
        await server.stop()
    }

    @Test func waitingForHelloHasALimitOfItsOwn() async throws {
        let server = try await RunningServer { $0.maxHandshakes = 2 }
        let idle = try await idleSockets(2, on: server)
        let (reason, _) = try await exchangeRaw(port: server.port, [])
        #expect(reason == .limitExceeded("2 connections are already waiting to say hello"))
        for channel in idle { try? await channel.close() }
        await server.stop()
    }

    @Test func aHelloFromAVersionBeyondSixteenBitsIsAVersionMismatch() async throws {
        let server = try await RunningServer()
        var frame = helloFrame(room: "r")
        // The payload's version varint (1) becomes 70 000: three bytes.
        #expect(frame[1] == 1 && frame[2] == 1)
        frame.replaceSubrange(2...2, with: [0xF0, 0xA2, 0x04])
        frame[0] += 2
        let (reason, _) = try await exchangeRaw(port: server.port, frame)
        #expect(reason == .versionMismatch(local: 1, remote: UInt16.max))
        await server.stop()
    }

    @Test func messagesRightBehindTheHelloWaitForTheRoomAndArriveInOrder() async throws {
        let server = try await RunningServer()
        // 20,000 pings in the same write as the hello: they arrive before the
        // room is loaded, more than the connection holds before it stops
        // reading (1,024), and must all be answered, in order, with no goodbye.
        var encoder = WireEncoder<BoardActionCodec>()
        var pipelined = helloFrame(room: "pipelined")
        for nonce in UInt64(1)...20_000 { pipelined += encoder.encode(.ping(nonce)) }
        let bytes = pipelined
        let pongs = try await withTimeout(30, "20,000 pongs") {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: server.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>()))
                        return try NIOAsyncChannel<Message, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                var pongs: [UInt64] = []
                for try await message in inbound {
                    switch message {
                    case .pong(let nonce): pongs.append(nonce)
                    case .goodbye(let reason): Issue.record("goodbye after \(pongs.count) pongs: \(reason)")
                    default: break
                    }
                    if pongs.count == 20_000 { break }
                }
                return pongs
            }
        }
        #expect(pongs.count == 20_000)
        let outOfOrder = zip(pongs, 1...20_000).first { $0.0 != $0.1 }
        #expect(
            outOfOrder == nil,
            "pong \(String(describing: outOfOrder?.0)) where \(String(describing: outOfOrder?.1)) was due")
        await server.stop()
    }

    @Test func anUpdatesMessageOfNoUpdatesIsRefused() async throws {
        let server = try await RunningServer()
        // type 2 (updates), count 0.
        let (reason, _) = try await exchangeRaw(port: server.port, helloFrame(room: "r") + [2, 2, 0])
        guard case .protocolViolation(let what)? = reason else {
            Issue.record("\(String(describing: reason))")
            return
        }
        #expect(what.contains("update count"), "\(what)")
        await server.stop()
    }

    @Test func extendingOrEndingAnotherOriginsStrokeIsRefusedAndNotStored() async throws {
        let server = try await RunningServer()
        let port = server.port
        let stroke = try await withPeer(port: port, name: "ada", room: "strokes", id: PeerID(0xADA)) {
            peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            let begun = try await peer.record(.beginStroke(at: Point(0, 0), style: Style(color: 1)), outbound)
            try await peer.run(&messages, outbound) { peer.store.confirmedOwnSeq == 1 }
            return begun.id
        }
        for action in [BoardAction.extendStroke(stroke, points: [Point(5, 5)]), .endStroke(stroke)] {
            let reason = try await withPeer(port: port, name: "mallory", room: "strokes", id: PeerID(0xBAD)) {
                peer, messages, outbound in
                try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
                let forged = Update<BoardAction>(
                    origin: PeerID(0xBAD), seq: 1,
                    timestamp: Timestamp(milliseconds: TestClock().milliseconds(), counter: 0), action: action)
                try await outbound.write(.updates([forged]))
                try await peer.run(&messages, outbound) { peer.goodbye != nil }
                return peer.goodbye
            }
            guard case .updateRejected(.invalid(_, let why))? = reason else {
                Issue.record("\(action): \(String(describing: reason))")
                continue
            }
            #expect(why.contains("only the peer that began"), "\(why)")
        }
        let stored = try await server.server.log.load(room: "strokes").updates
        #expect(stored.map(\.origin) == [PeerID(0xADA)])
        await server.stop()
    }
}
