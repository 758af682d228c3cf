import Logging
import NIOConcurrencyHelpers
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
    /// Connections and refusals, counted.
    public let counters = ServerCounters()
    private let registry: RoomRegistry
    private let lifecycle = NIOLockedValueBox<(listener: (any Channel)?, stopping: Bool)>((nil, false))

    /// Opens the durable log; nothing listens until ``run(onListening:)``.
    public init(configuration: ServerConfiguration) throws(StorageError) {
        self.configuration = configuration
        log = try DurableLog(path: configuration.databasePath, durability: configuration.durability)
        registry = RoomRegistry(log: log, configuration: configuration, counters: counters)
    }

    /// The room called `name`, loaded if needed (for tools and tests).
    public func room(named name: String) async throws(StorageError) -> Room? {
        try await registry.room(named: name)
    }

    /// Listens and serves until the task is cancelled or ``shutdown()``.
    /// - Parameters:
    ///   - onListening: Called with the bound port once listening (useful
    ///     with port 0).
    ///   - onMetricsListening: Called with the metrics port, if any.
    public func run(
        onListening: @Sendable (Int) -> Void = { _ in },
        onMetricsListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let maxFrameSize = configuration.maxFrameSize
        // The metrics port first: a server that cannot serve what it was
        // asked to serve says so before it takes any connection.
        let metrics = configuration.metricsPort.map {
            MetricsEndpoint(host: configuration.host, port: $0) { await self.metricsText() }
        }
        let metricsListener = try await metrics?.bind()
        let listener: NIOAsyncChannel<NIOAsyncChannel<Message, Message>, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addGossipFrameCoders(
                            BoardActionCodec.self, maxFrameSize: maxFrameSize)
                        // Output half-closure lets a goodbye reach the peer before the
                        // socket closes (see `closeGracefully`).
                        return try NIOAsyncChannel<Message, Message>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
        } catch {
            try? await metricsListener?.channel.close()
            throw ServerError(listeningOn: configuration.host, port: configuration.port, error)
        }
        let alreadyStopping = lifecycle.withLockedValue { state in
            state.listener = listener.channel
            return state.stopping
        }
        if alreadyStopping { try? await listener.channel.close() }
        onListening(listener.channel.localAddress?.port ?? configuration.port)
        configuration.logger.info(
            "listening", metadata: ["port": "\(listener.channel.localAddress?.port ?? configuration.port)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.runTimer() }
            let metricsTask = metricsListener.map { listener in
                onMetricsListening(listener.channel.localAddress?.port ?? 0)
                return Task { try await metrics?.serve(listener) }
            }
            defer { metricsTask?.cancel() }
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
        // Every connection has closed, so no append is in flight.
        for room in await registry.loaded { await room.checkpoint() }
        try? log.checkpoint()
        configuration.logger.info("stopped; rooms and log checkpointed")
    }

    /// Prometheus text: rooms, sessions, traffic, refusals, commits, memory.
    public func metricsText() async -> String {
        let counters = self.counters.snapshot
        let rooms = await registry.loaded
        var rewinds = 0
        var rejected: [String: Int] = [:]
        var retained = 0
        var elements = 0
        for room in rooms {
            let statistics = await room.replicaStatistics
            rewinds += statistics.rewinds
            rejected.merge(statistics.rejected, uniquingKeysWith: +)
            retained += await room.unfoldedCount
            elements += await room.board.elements.count
        }
        let log = await self.log.statistics
        var lines = [
            "# HELP scuttleboard_rooms Rooms held in memory.", "# TYPE scuttleboard_rooms gauge",
            "scuttleboard_rooms \(rooms.count)",
            "# HELP scuttleboard_sessions Connections open.", "# TYPE scuttleboard_sessions gauge",
            "scuttleboard_sessions \(counters.connectionsOpen)",
            "# TYPE scuttleboard_connections_total counter",
            "scuttleboard_connections_total \(counters.connectionsAccepted)",
            "# HELP scuttleboard_updates_in_total Updates accepted from peers.",
            "# TYPE scuttleboard_updates_in_total counter", "scuttleboard_updates_in_total \(counters.updatesIn)",
            "# HELP scuttleboard_updates_out_total Updates sent to peers.",
            "# TYPE scuttleboard_updates_out_total counter", "scuttleboard_updates_out_total \(counters.updatesOut)",
            "# HELP scuttleboard_retained_updates Updates held in memory above the rooms' horizons (history).",
            "# TYPE scuttleboard_retained_updates gauge", "scuttleboard_retained_updates \(retained)",
            "# HELP scuttleboard_board_elements Elements on the rooms' boards, hidden ones included (content).",
            "# TYPE scuttleboard_board_elements gauge", "scuttleboard_board_elements \(elements)",
            "# HELP scuttleboard_rewinds_total Late updates that rewound a room's replica.",
            "# TYPE scuttleboard_rewinds_total counter", "scuttleboard_rewinds_total \(rewinds)",
            "# HELP scuttleboard_refusals_total Sessions the server ended, by reason.",
            "# TYPE scuttleboard_refusals_total counter",
        ]
        lines += counters.refusals.sorted { $0.key < $1.key }.map {
            "scuttleboard_refusals_total{reason=\"\($0.key)\"} \($0.value)"
        }
        lines += [
            "# HELP scuttleboard_rejects_total Updates refused by a room's replica, by reason.",
            "# TYPE scuttleboard_rejects_total counter",
        ]
        lines += rejected.sorted { $0.key < $1.key }.map {
            "scuttleboard_rejects_total{reason=\"\($0.key)\"} \($0.value)"
        }
        lines += [
            "# HELP scuttleboard_commit_seconds Time spent committing to the durable log.",
            "# TYPE scuttleboard_commit_seconds summary",
            "scuttleboard_commit_seconds_sum \(Double(log.commitNanoseconds) / 1e9)",
            "scuttleboard_commit_seconds_count \(log.transactions)",
            "# TYPE scuttleboard_stored_updates_total counter", "scuttleboard_stored_updates_total \(log.updates)",
            "# HELP scuttleboard_snapshots_sent_total State snapshots sent to peers behind the horizon.",
            "# TYPE scuttleboard_snapshots_sent_total counter",
            "scuttleboard_snapshots_sent_total \(counters.snapshotsSent)",
            "# HELP scuttleboard_checkpoints_total Room checkpoints written to the durable log.",
            "# TYPE scuttleboard_checkpoints_total counter", "scuttleboard_checkpoints_total \(counters.checkpoints)",
            "# HELP scuttleboard_resident_memory_bytes Resident memory of the server process.",
            "# TYPE scuttleboard_resident_memory_bytes gauge",
            "scuttleboard_resident_memory_bytes \(residentMemoryBytes())",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Stops gracefully: no new connections; every session gets
    /// `goodbye(shutting down)`; ``run(onListening:)`` returns once the
    /// connections have closed (each within about 2 s) and the log is
    /// checkpointed. Nothing acknowledged is lost: acks follow durability.
    public func shutdown() async {
        let listener = lifecycle.withLockedValue { state in
            state.stopping = true
            return state.listener
        }
        try? await listener?.close()
        for room in await registry.loaded { await room.closeAll(.shuttingDown) }
    }

    private var isStopping: Bool { lifecycle.withLockedValue { $0.stopping } }

    private func runTimer() async throws {
        while !Task.isCancelled && !isStopping {
            try await Task.sleep(for: .milliseconds(configuration.tickInterval))
            for room in await registry.loaded { await room.tick() }
            for room in await registry.unloadIdle() {
                await room.checkpoint()
                configuration.logger.info("unloaded idle room", metadata: ["room": "\(room.name)"])
            }
        }
    }

    /// Says goodbye with `reason`, logs it and counts it.
    private func refuse(_ reason: CloseReason, on outbound: NIOAsyncChannelOutboundWriter<Message>) async {
        counters.refused(CloseReasonName(reason))
        configuration.logger.notice("refused a connection", metadata: ["reason": "\(reason)"])
        try? await outbound.write(.goodbye(reason))
    }

    /// Ends a connection so that what we sent last (a goodbye) arrives:
    /// half-closes our side, then reads and drops whatever the peer still
    /// sends until it closes too (at most 2 s). Closing outright while the
    /// peer's bytes sit unread makes TCP reset the connection, and the peer's
    /// kernel may then discard our goodbye before the peer reads it.
    private func closeGracefully(
        _ connection: NIOAsyncChannel<Message, Message>,
        messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>
    ) async {
        outbound.finish()
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        while (try? await messages.next()) != nil {}
        deadline.cancel()
    }

    /// One connection: `hello` first, then every message to its room.
    private func serve(_ connection: NIOAsyncChannel<Message, Message>) async {
        guard counters.admitConnection(limit: configuration.maxConnections) else {
            try? await connection.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                await refuse(
                    .limitExceeded("the server already serves \(configuration.maxConnections) connections"),
                    on: outbound)
                await closeGracefully(connection, messages: &messages, outbound: outbound)
            }
            return
        }
        defer { counters.connectionClosed() }
        try? await connection.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            if let admitted = await admit(&messages, outbound: outbound) {
                await converse(in: admitted, over: connection, messages: &messages, outbound: outbound)
                await registry.release(admitted.1.room)
            }
            await closeGracefully(connection, messages: &messages, outbound: outbound)
        }
    }

    /// Reads the hello and finds the room, or refuses the peer.
    private func admit(
        _ messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>
    ) async -> (Room, Hello)? {
        let first: Message?
        do {
            first = try await messages.next()
        } catch {
            await refuse(.protocolViolation(String(describing: error)), on: outbound)
            return nil
        }
        guard case .hello(let hello)? = first else {
            if first != nil { await refuse(.protocolViolation("expected hello first"), on: outbound) }
            return nil
        }
        guard hello.protocolVersion == WireFormat.version else {
            await refuse(.versionMismatch(local: WireFormat.version, remote: hello.protocolVersion), on: outbound)
            return nil
        }
        guard !hello.room.isEmpty else {
            await refuse(.protocolViolation("hello names no room"), on: outbound)
            return nil
        }
        if let refusal = configuration.roomAccess[hello.room]?.refusal(of: hello)
            ?? (hello.role == .server ? .unauthorized("peers may not join as a server") : nil)
        {
            await refuse(refusal, on: outbound)
            return nil
        }
        do {
            guard let room = try await registry.lease(hello.room) else {
                await refuse(.limitExceeded("the server already holds \(configuration.maxRooms) rooms"), on: outbound)
                return nil
            }
            return (room, hello)
        } catch {
            await refuse(.shuttingDown, on: outbound)
            return nil
        }
    }

    /// Feeds the peer's messages to its room, and the room's to the peer,
    /// until either side ends the session.
    private func converse(
        in admitted: (Room, Hello), over connection: NIOAsyncChannel<Message, Message>,
        messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>
    ) async {
        let (room, hello) = admitted
        let (queue, continuation) = AsyncStream.makeStream(
            of: [Message].self, bufferingPolicy: .bufferingOldest(configuration.outboundBufferLimit))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await messages in queue {
                    do { try await outbound.write(contentsOf: messages) } catch { break }
                }
                // The room ended the session (its goodbye is written): stop
                // sending, and do not wait on a peer that never closes.
                outbound.finish()
                let channel = connection.channel
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
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
