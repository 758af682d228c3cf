import Foundation
import NIOCore
import NIOPosix
import Scuttlebutt
import Server
import Whiteboard
import Wire

typealias Message = GossipMessage<BoardAction>

struct TestClock: WallClock {
    func milliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000) }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing after `seconds`.
func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut(what: what)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

/// A server on a free loopback port, in the background, with a database in
/// a fresh folder (reused by ``restart()``).
final class RunningServer: @unchecked Sendable {
    let folder: URL
    private(set) var server: ScuttleboardServer
    private(set) var port = 0
    private(set) var httpPort: Int?
    private var task: Task<Void, any Error>?

    private let configure: @Sendable (inout ServerConfiguration) -> Void

    init(configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in }) async throws {
        self.configure = configure
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        server = try Self.makeServer(folder, configure)
        try await start()
    }

    static func makeServer(
        _ folder: URL, _ configure: (inout ServerConfiguration) -> Void
    ) throws -> ScuttleboardServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.databasePath = folder.appendingPathComponent("rooms.sqlite").path
        configuration.tickInterval = 20
        configure(&configuration)
        return try ScuttleboardServer(configuration: configuration)
    }

    private func start() async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        let server = self.server
        let wantsHTTP = server.configuration.httpPort != nil
        task = Task {
            try await server.run(
                onListening: { continuation.yield(("gossip", $0)) },
                onHTTPListening: { continuation.yield(("http", $0)) })
        }
        for await (kind, port) in ports {
            if kind == "gossip" { self.port = port } else { httpPort = port }
            if self.port != 0 && (!wantsHTTP || httpPort != nil) { break }
        }
    }

    /// Stops the server (as a crash would: no goodbye, nothing flushed
    /// beyond what was acknowledged) and starts a new one on the same file,
    /// on the same port.
    func restart() async throws {
        task?.cancel()
        _ = try? await task?.value
        let port = self.port
        let configure = self.configure
        server = try Self.makeServer(folder) { configuration in
            configure(&configuration)
            configuration.port = port
        }
        try await start()
    }

    /// Stops the server as SIGTERM does (goodbyes, checkpoints) and waits
    /// until its run has ended.
    func shutdownAndWait() async throws {
        await server.shutdown()
        try await task?.value
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `body`, then stops the server, whether `body` threw or not.
    func stop<T>(after body: (RunningServer) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}

/// Connects to `port` with the protocol's frame coders.
func connect(port: Int) async throws -> NIOAsyncChannel<Message, Message> {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addGossipFrameCoders(BoardActionCodec.self)
                return try NIOAsyncChannel<Message, Message>(wrappingChannelSynchronously: channel)
            }
        }
}

/// A real client replica, driven over a real connection within one task.
final class LoopbackPeer {
    let store: ReplicatedStore<BoardReducer>
    var session: GossipSession<BoardReducer>
    private(set) var goodbye: CloseReason?
    /// Refusals of single updates the server sent, in order.
    private(set) var rejections: [UpdateRejection] = []

    init(name: String, room: String, role: PeerRole = .editor, peer: PeerID = .random(), credentials: String? = nil) {
        store = ReplicatedStore(
            peer: peer, reducer: BoardReducer(), initialState: Board(), configuration: .board(isAuthority: false),
            wallClock: TestClock())
        var configuration = GossipSessionConfiguration(name: name, room: room, role: role)
        configuration.remoteIsAuthority = true
        configuration.credentials = credentials
        session = GossipSession(configuration: configuration)
    }

    private var now: UInt64 { TestClock().milliseconds() }

    /// Whether a write failed because the server closed the connection.
    private(set) var closedForWriting = false

    /// Writes the messages among `outputs`. A server that closes the link
    /// may do so while we write; we then stop writing and keep reading,
    /// because its goodbye (saying why) is already on the way.
    func write(_ outputs: [GossipSession<BoardReducer>.Output], to outbound: NIOAsyncChannelOutboundWriter<Message>)
        async throws
    {
        for case .send(let message) in outputs where !closedForWriting {
            do {
                try await outbound.write(message)
            } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
                closedForWriting = true
            }
        }
    }

    func start(_ outbound: NIOAsyncChannelOutboundWriter<Message>) async throws {
        try await write(session.start(store: store, now: now), to: outbound)
    }

    @discardableResult
    func record(_ action: BoardAction, _ outbound: NIOAsyncChannelOutboundWriter<Message>) async throws -> Update<
        BoardAction
    > {
        let update = try store.record(action)
        try await write(session.pump(from: store, store: store), to: outbound)
        return update
    }

    /// Handles messages until `done` holds (checked after each one).
    func run(
        _ inbound: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<Message>, until done: () -> Bool
    ) async throws {
        while !done() {
            guard let message = try await inbound.next() else { return }
            if case .goodbye(let reason) = message { goodbye = reason }
            if case .reject(let rejection) = message { rejections.append(rejection) }
            var outputs = session.handle(message, store: store, now: now)
            if case .snapshotReceived(let header, let bytes) = outputs.first {
                let board = try BoardSnapshotCodec.decode(bytes)
                snapshotsInstalled += 1
                outputs = session.installSnapshot(
                    ReplicaSnapshot(state: board, horizon: header.horizon, digest: header.digest), store: store,
                    source: store)
            }
            try await write(outputs, to: outbound)
        }
    }

    /// Snapshots the server sent this peer, installed.
    private(set) var snapshotsInstalled = 0
}

/// Joins `room` and returns the goodbye the server sent, if any, once it
/// sends one or the peer is caught up.
func join(
    port: Int, room: String, role: PeerRole = .editor, credentials: String? = nil, then action: BoardAction? = nil
) async throws -> CloseReason? {
    try await withTimeout(20, "joining \(room)") {
        let channel = try await connect(port: port)
        let received = GoodbyeBox()
        do {
            try await channel.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                let peer = LoopbackPeer(name: "peer", room: room, role: role, credentials: credentials)
                try await peer.start(outbound)
                try await peer.run(&messages, outbound) { peer.session.isCaughtUp || peer.goodbye != nil }
                if let action, peer.goodbye == nil {
                    try await peer.record(action, outbound)
                    let seq = peer.store.digest[peer.store.peer]
                    try await peer.run(&messages, outbound) { peer.goodbye != nil || peer.store.confirmedOwnSeq == seq }
                }
                received.reason = peer.goodbye
            }
        } catch let error as ChannelError where received.reason != nil {
            // The server closed first after its goodbye; closing again fails.
            _ = error
        }
        return received.reason
    }
}

/// Holds a goodbye across a closing channel's error.
final class GoodbyeBox: @unchecked Sendable {
    var reason: CloseReason?
}

/// Polls `condition` every 20 ms until it holds, failing after `seconds`.
/// The first non-nil answer of `poll` (asked every 20 ms), within `seconds`.
func firstValue<T: Sendable>(
    _ seconds: Double, _ what: String, _ poll: @escaping @Sendable () async -> T?
) async throws -> T {
    try await withTimeout(seconds, what) {
        while true {
            if let value = await poll() { return value }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

func eventually(_ seconds: Double, _ what: String, _ condition: @escaping @Sendable () async -> Bool) async throws {
    try await withTimeout(seconds, what) {
        while !(await condition()) { try await Task.sleep(for: .milliseconds(20)) }
    }
}

/// A port nothing listens on (yet): one a server had and gave back.
func freePort() async throws -> Int {
    let server = try await RunningServer()
    let port = server.port
    await server.stop()
    return port
}

/// Connects a ``LoopbackPeer`` to `port`, sends its hello, and runs `body`
/// with it, the inbound messages and the outbound writer; fails after
/// `seconds`.
func withPeer<T: Sendable>(
    port: Int, name: String = "peer", room: String, role: PeerRole = .editor, id: PeerID = .random(),
    credentials: String? = nil, seconds: Double = 20,
    _ body:
        @escaping @Sendable (
            LoopbackPeer, inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
            NIOAsyncChannelOutboundWriter<Message>
        ) async throws -> T
) async throws -> T {
    try await withTimeout(seconds, "\(name) in \(room)") {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            let peer = LoopbackPeer(name: name, room: room, role: role, peer: id, credentials: credentials)
            try await peer.start(outbound)
            return try await body(peer, &messages, outbound)
        }
    }
}

/// Connects to `port`, writes `bytes` exactly as they are (a hand-made
/// frame, half a hello, nothing), and returns the goodbye the server sends
/// (nil when it closes without one) and how long that took.
func exchangeRaw(port: Int, _ bytes: [UInt8]) async throws -> (reason: CloseReason?, elapsed: Duration) {
    try await withTimeout(30, "the server to answer raw bytes") {
        let started = ContinuousClock.now
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>()))
                    return try NIOAsyncChannel<Message, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
            for try await message in inbound {
                if case .goodbye(let reason) = message { return (reason, ContinuousClock.now - started) }
            }
            return (nil, ContinuousClock.now - started)
        }
    }
}

/// The frame of a valid editor hello from `peer` for `room`.
func helloFrame(peer: PeerID = PeerID(0xE71), room: String, version: UInt16 = 1) -> [UInt8] {
    var encoder = WireEncoder<BoardActionCodec>()
    return encoder.encode(
        .hello(
            Hello(
                protocolVersion: version, peer: peer, name: "mallory", room: room, role: .editor, credentials: nil,
                digest: Digest(), clock: .zero)))
}
