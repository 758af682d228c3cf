import Client
import Foundation
import Glibc
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOWebSocket
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard
import Wire

/// Protocol v1 over WebSocket (`GET /ws` on the HTTP port), on a real
/// server: WebSocket and TCP peers in one room, and what a WebSocket peer
/// may not send.
@Suite(.serialized) struct WebSocketTests {
    /// A TCP peer draws and stays; a WebSocket peer joins, sees it, draws
    /// too; the TCP peer sees that live, and the server's board holds both.
    @Test func aWebSocketPeerAndATCPPeerSeeEachOtherLive() async throws {
        try await RunningServer { $0.httpPort = 0 }.stop { server in
            try await withTimeout(30, "a mixed room") { try await Self.mixedRoom(server) }
        }
    }

    private static func mixedRoom(_ server: RunningServer) async throws {
        let httpPort = try #require(server.httpPort)
        let channel = try await connect(port: server.port)
        try await channel.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            let tcp = LoopbackPeer(name: "tcp", room: "mixed")
            try await tcp.start(outbound)
            try await tcp.run(&messages, outbound) { tcp.session.isCaughtUp }
            let drawn = try await tcp.record(
                .addText(at: Point(1, 1), text: "tcp", style: Style(color: 3)), outbound)
            try await tcp.run(&messages, outbound) { tcp.store.confirmedOwnSeq == drawn.seq }

            let web = WebSocketPeer(name: "web", room: "mixed")
            let seen = NIOLockedValueBox<(sawTCP: Bool, drew: UpdateID?)>((false, nil))
            try await web.connect(port: httpPort) { inbound, outbound in
                try await web.run(&inbound, outbound) { web.session.isCaughtUp }
                seen.withLockedValue { $0.sawTCP = web.store.state.elements[drawn.id] != nil }
                let update = try await web.record(
                    .addShape(.ellipse, from: Point(5, 5), to: Point(9, 8), style: Style(color: 4)), outbound)
                seen.withLockedValue { $0.drew = update.id }
                try await web.run(&inbound, outbound) { web.store.confirmedOwnSeq == update.seq }
            }
            let (sawTCP, drew) = seen.withLockedValue { $0 }
            #expect(sawTCP, "the WebSocket peer received the TCP peer's text")
            let webElement = try #require(drew)
            try await tcp.run(&messages, outbound) { tcp.store.state.elements[webElement] != nil }
            let board = try #require(await server.server.room(named: "mixed")?.board)
            #expect(board == tcp.store.state, "the server's board is the TCP peer's")
            #expect(board.elements.count == 2)
        }
    }

    /// Each thing a WebSocket peer may not send ends only its session, with
    /// a goodbye naming it; a TCP peer in the same server carries on.
    @Test func whatAWebSocketPeerMayNotSendIsRefusedByName() async throws {
        let server = try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.maxFrameSize = 4_096
            configuration.roomAccess = ["locked": RoomAccess(editor: "key", viewer: nil)]
        }
        try await server.stop { server in
            try await withTimeout(60, "hostile WebSocket peers") { try await Self.hostilePeers(server) }
        }
    }

    private static func hostilePeers(_ server: RunningServer) async throws {
        let httpPort = try #require(server.httpPort)
        // Each case: what the peer sends after (or instead of) its hello,
        // and what the goodbye must say.
        let cases:
            [(String, room: String, token: String?, after: WebSocketOutboundWriter.OutboundFrame?, says: String)] = [
                ("wrong token", "locked", "nope", nil, "needs an editor token"),
                ("text message", "open", nil, .text("hello?"), "text WebSocket message"),
                ("frame cut in two", "open", nil, .binary(ByteBuffer(bytes: [0x20, 0x01])), "ends inside a frame"),
                ("malformed frame", "open", nil, .binary(ByteBuffer(bytes: [0x01, 0xEE])), "message type"),
                (
                    "message over the size limit", "open", nil, .binary(ByteBuffer(repeating: 0, count: 6_000)),
                    "a WebSocket message of 6000 bytes; at most 4096"
                ),
                (
                    "fragments adding up to more than the limit", "open", nil,
                    .custom(WebSocketFrame(fin: false, opcode: .binary, data: ByteBuffer(repeating: 1, count: 3_000))),
                    "WebSocket layer refused"
                ),
            ]
        for (name, room, token, after, says) in cases {
            let web = WebSocketPeer(name: "web", room: room, credentials: token)
            try await web.connect(port: httpPort) { inbound, outbound in
                try await web.run(&inbound, outbound) { web.session.isCaughtUp || web.goodbye != nil }
                if let after, web.goodbye == nil {
                    try await outbound.write(after)
                    if case .custom = after {
                        // More fragments, each within the limit, together over it.
                        for _ in 0..<2 {
                            try await outbound.write(
                                .custom(
                                    WebSocketFrame(
                                        fin: false, opcode: .continuation, data: ByteBuffer(repeating: 1, count: 3_000))
                                ))
                        }
                    }
                    try await web.run(&inbound, outbound) { web.goodbye != nil }
                }
            }
            let goodbye = web.goodbye.map { "\($0)" } ?? "none"
            #expect(goodbye.contains(says), "\(name): goodbye \(goodbye)")
            // Every other session carries on: a TCP peer still draws.
            #expect(
                try await join(
                    port: server.port, room: "open",
                    then: .addText(at: Point(0, 0), text: name, style: Style(color: 1))) == nil, "\(name)")
        }
        let board = try #require(await server.server.room(named: "open")?.board)
        #expect(board.elements.count == cases.count, "nothing a refused peer sent was applied")

        // A single frame far over the limit never reaches the session: the
        // WebSocket layer closes with 1009.
        let huge = WebSocketPeer(name: "huge", room: "open")
        let close = try await huge.connect(port: httpPort) { inbound, outbound in
            try await huge.run(&inbound, outbound) { huge.session.isCaughtUp }
            try await outbound.write(.binary(ByteBuffer(repeating: 0, count: 100_000)))
            try await huge.run(&inbound, outbound) { false }
        }
        #expect(close?.closeCode == .messageTooLarge, "\(String(describing: close))")

        // Fragments are one message: an update split across two arrives whole.
        let split = WebSocketPeer(name: "split", room: "open")
        try await split.connect(port: httpPort) { inbound, outbound in
            try await split.run(&inbound, outbound) { split.session.isCaughtUp }
            let bytes = try split.encodeRecord(.addText(at: Point(7, 7), text: "split", style: Style(color: 2)))
            let half = bytes.count / 2
            try await outbound.write(
                .custom(WebSocketFrame(fin: false, opcode: .binary, data: ByteBuffer(bytes: bytes[..<half]))))
            try await outbound.write(
                .custom(WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(bytes: bytes[half...]))))
            try await split.run(&inbound, outbound) { split.store.confirmedOwnSeq == 1 }
        }
        #expect(split.goodbye == nil)
        let after = try #require(await server.server.room(named: "open")?.board)
        #expect(after.elements.count == cases.count + 1)
    }
}

extension WebSocketTests {
    /// A WebSocket peer that stops reading stops acknowledging too: its
    /// window stops what the server sends it (nothing piles up for it, it is
    /// not a slow consumer), and once it has been silent for the liveness
    /// timeout it is closed with `timeout`. A TCP peer drawing in that room
    /// meanwhile carries on and loses nothing.
    @Test func aWebSocketPeerThatStopsReadingIsHeldByItsWindowThenTimedOut() async throws {
        let server = try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.outboundBufferLimit = 64
            configuration.maxUpdatesPerSecond = 1_000_000
            configuration.livenessTimeout = .seconds(3)
        }
        try await server.stop { server in
            try await withTimeout(60, "a WebSocket peer that stops reading") { try await Self.stalledReader(server) }
        }
    }

    private static func stalledReader(_ server: RunningServer) async throws {
        let stalled = try await StalledWebSocket.connect(port: try #require(server.httpPort), room: "busy")
        defer { stalled.close() }
        let writer = try BoardClient(
            configuration: ClientConfiguration(host: "127.0.0.1", port: server.port, room: "busy", name: "writer"))
        let running = Task { await writer.run() }
        defer { running.cancel() }
        let counters = server.server.counters
        try await eventually(10, "both in the room") { counters.snapshot.rooms["busy"]?.sessions == 2 }
        // Far more turns than a window of batches and the session's output
        // limit, in text of 500 characters. In rounds that the server takes
        // as they come: a backlog older than the frontier's grace would be
        // refused as stale and re-stamped, which is the client's business,
        // not this test's (and slow: each refusal replays the backlog).
        let text = String(repeating: "x", count: 500)
        for round in 0..<10 {
            for index in 0..<100 {
                try await writer.record(
                    .addText(at: Point(0, Int32(round * 100 + index)), text: text, style: Style(color: 2)))
            }
            try await eventually(30, "round \(round) stored") { await writer.pendingCount == 0 }
        }
        try await eventually(20, "the stalled peer timed out") { counters.snapshot.refusals["timeout"] == 1 }
        let refusals = counters.snapshot.refusals
        #expect(refusals["slow_consumer"] == nil, "held by its window, never a slow consumer: \(refusals)")
        #expect(refusals.values.reduce(0, +) == 1, "only the stalled peer was let go: \(refusals)")
        try await eventually(5, "the room to count one session") { counters.snapshot.rooms["busy"]?.sessions == 1 }
        #expect(await writer.state == .live, "the writer's session carries on")
        #expect(try await server.server.log.history(room: "busy").count == 1_000)
    }
}

/// A WebSocket client that upgrades, says hello and never reads again, with a
/// receive buffer of 4 KiB, so that the server's writes to it stall soon.
/// Plain sockets: no event loop reads for it behind the test's back.
final class StalledWebSocket: Sendable {
    private let descriptor: Int32

    /// Connects on a thread of its own: the handshake blocks, and a blocked
    /// cooperative thread can starve the server's own tasks (2 cores, 2
    /// threads; a run once hung that way).
    static func connect(port: Int, room: String) async throws -> StalledWebSocket {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try StalledWebSocket(port: port, room: room) }) }.start()
        }
    }

    private init(port: Int, room: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4_096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // Never wait more than 10 s for the server's answer.
        var patience = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &patience, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw CocoaError(.fileReadUnknown) }
        try send(
            Array(
                ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        // The 101 response, and nothing after it.
        var response: [UInt8] = []
        var byte: UInt8 = 0
        while !response.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            guard recv(descriptor, &byte, 1, 0) == 1 else { throw CocoaError(.fileReadUnknown) }
            response.append(byte)
        }
        guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var encoder = WireEncoder<BoardActionCodec>()
        let hello = encoder.encode(
            .hello(
                Hello(
                    protocolVersion: 1, peer: .random(), name: "stalled", room: room, role: .viewer,
                    credentials: nil, digest: Digest(), clock: Timestamp(0))))
        // One masked binary message (clients mask, RFC 6455).
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x82, 0x80 | UInt8(hello.count)] + mask
        frame += hello.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try send(frame)
    }

    private func send(_ bytes: [UInt8]) throws {
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// A real client replica over a WebSocket: protocol v1 frames in binary
/// messages, driven within one task.
final class WebSocketPeer: @unchecked Sendable {
    let store: ReplicatedStore<BoardReducer>
    var session: GossipSession<BoardReducer>
    private var encoder = WireEncoder<BoardActionCodec>()
    private var decoder = WireDecoder<BoardActionCodec>()
    private(set) var goodbye: CloseReason?

    init(name: String, room: String, credentials: String? = nil) {
        store = ReplicatedStore(
            peer: .random(), reducer: BoardReducer(), initialState: Board(), configuration: .board(isAuthority: false),
            wallClock: TestClock())
        var configuration = GossipSessionConfiguration(name: name, room: room, role: .editor)
        configuration.remoteIsAuthority = true
        configuration.credentials = credentials
        session = GossipSession(configuration: configuration)
    }

    private var now: UInt64 { TestClock().milliseconds() }

    /// Connects to `ws://127.0.0.1:port/ws`, says hello, runs `body`.
    /// - Returns: The server's close frame, if it sent one.
    @discardableResult
    func connect(
        port: Int,
        _ body:
            @escaping @Sendable (inout WebSocketInboundMessageStream.AsyncIterator, WebSocketOutboundWriter)
            async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        try await connect(url: "ws://127.0.0.1:\(port)/ws", tls: nil, body)
    }

    /// Connects to `url` (with `tls` for `wss:`), says hello, runs `body`.
    @discardableResult
    func connect(
        url: String, tls: TLSConfiguration?,
        _ body:
            @escaping @Sendable (inout WebSocketInboundMessageStream.AsyncIterator, WebSocketOutboundWriter)
            async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        let client = WebSocketClient(
            url: url, configuration: .init(maxFrameSize: 1 << 20), tlsConfiguration: tls,
            logger: Logger(label: "test.ws")
        ) { inbound, outbound, _ in
            do {
                var messages = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()
                try await self.send(self.session.start(store: self.store, now: self.now), outbound)
                try await body(&messages, outbound)
            } catch {
                failure.withLockedValue { $0 = error }
            }
        }
        let close = try await client.run()
        if let error = failure.withLockedValue({ $0 }) { throw error }
        return close
    }

    func send(_ outputs: [GossipSession<BoardReducer>.Output], _ outbound: WebSocketOutboundWriter) async throws {
        var buffer = ByteBuffer()
        for case .send(let message) in outputs { encoder.encode(message, into: &buffer) }
        guard buffer.readableBytes > 0 else { return }
        // After a goodbye the server is closing: what we still say is moot.
        guard goodbye == nil else { return }
        try await outbound.write(.binary(buffer))
    }

    /// Records `action` and returns the frames that carry it, unsent.
    func encodeRecord(_ action: BoardAction) throws -> [UInt8] {
        try store.record(action)
        var buffer = ByteBuffer()
        for case .send(let message) in session.pump(from: store, store: store) {
            encoder.encode(message, into: &buffer)
        }
        return Array(buffer.readableBytesView)
    }

    @discardableResult
    func record(_ action: BoardAction, _ outbound: WebSocketOutboundWriter) async throws -> Update<BoardAction> {
        let update = try store.record(action)
        try await send(session.pump(from: store, store: store), outbound)
        return update
    }

    /// Handles messages until `done` holds, or the server closes.
    func run(
        _ inbound: inout WebSocketInboundMessageStream.AsyncIterator, _ outbound: WebSocketOutboundWriter,
        until done: () -> Bool
    ) async throws {
        while !done() {
            guard let message = try await inbound.next() else { return }
            guard case .binary(let buffer) = message else { continue }
            let (decoded, _) = try decoder.decodeFrames(Array(buffer.readableBytesView))
            for message in decoded {
                if case .goodbye(let reason) = message { goodbye = reason }
                try await send(session.handle(message, store: store, now: now), outbound)
            }
        }
    }
}
