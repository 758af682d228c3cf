import Foundation
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
