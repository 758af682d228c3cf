import NIOCore
import NIOPosix
import Scuttlebutt
import Storage
import Whiteboard
import Wire

/// The Scuttleboard server: rooms of boards over protocol v1 on TCP.
///
/// Each connection is handled in its own child task; an error on one
/// connection (a malformed frame, a reset) ends only that connection, with a
/// `goodbye` naming the problem when the link still works. Channel handlers
/// only frame bytes; all protocol logic is in `GossipSession`, driven by the
/// rooms.
public final class ScuttleboardServer: Sendable {
    typealias Message = GossipMessage<BoardAction>

    /// The settings this server runs with.
    public let configuration: ServerConfiguration
    /// The durable log of every room.
    public let log: DurableLog
    private let registry: RoomRegistry

    /// Opens the durable log; nothing listens until ``run(onListening:)``.
    public init(configuration: ServerConfiguration) throws(StorageError) {
        self.configuration = configuration
        log = try DurableLog(path: configuration.databasePath, durability: configuration.durability)
        registry = RoomRegistry(log: log, configuration: configuration)
    }

    /// The room called `name`, loaded if needed (for tools and tests).
    public func room(named name: String) async throws(StorageError) -> Room {
        try await registry.room(named: name)
    }

    /// Listens and serves until the task is cancelled.
    /// - Parameter onListening: Called with the bound port once listening
    ///   (useful with port 0).
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let maxFrameSize = configuration.maxFrameSize
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>(maxFrameSize: maxFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(
                        MessageToByteHandler(GossipFrameEncoder<BoardActionCodec>()))
                    return try NIOAsyncChannel<Message, Message>(wrappingChannelSynchronously: channel)
                }
            }
        onListening(listener.channel.localAddress?.port ?? configuration.port)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.runTimer() }
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    private func runTimer() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(configuration.tickInterval))
            for room in await registry.loaded { await room.tick() }
        }
    }

    /// One connection: `hello` first, then every message to its room.
    private func serve(_ connection: NIOAsyncChannel<Message, Message>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            let first: Message?
            do {
                first = try await messages.next()
            } catch {
                try? await outbound.write(.goodbye(.protocolViolation(String(describing: error))))
                return
            }
            guard case .hello(let hello)? = first else {
                if first != nil { try? await outbound.write(.goodbye(.protocolViolation("expected hello first"))) }
                return
            }
            guard !hello.room.isEmpty else {
                try? await outbound.write(.goodbye(.protocolViolation("hello names no room")))
                return
            }
            let room: Room
            do {
                room = try await registry.room(named: hello.room)
            } catch {
                try? await outbound.write(.goodbye(.shuttingDown))
                return
            }
            let (queue, continuation) = AsyncStream.makeStream(
                of: Message.self, bufferingPolicy: .bufferingOldest(configuration.outboundBufferLimit))
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await message in queue {
                        do { try await outbound.write(message) } catch { return }
                    }
                }
                let id = await room.join(hello: hello, outbound: continuation)
                do {
                    while await room.isOpen(id), let message = try await messages.next() {
                        await room.handle(message, from: id)
                    }
                } catch let error as WireError {
                    await room.close(id, reason: .protocolViolation(error.description))
                } catch {
                    // The connection dropped.
                }
                await room.leave(id)
                await group.waitForAll()
            }
        }
    }
}
