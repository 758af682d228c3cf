import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Rooms
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
    public let log: any DurableStore
    /// Connections and refusals, counted.
    public let counters = ServerCounters()
    /// Whether the durable log takes writes.
    let health = StorageHealth()
    let registry: RoomRegistry
    private let lifecycle = NIOLockedValueBox(Lifecycle())
    /// The front door: connections waiting for their hello and sessions,
    /// decided by the ``Lobby`` the simulator drives too (its limits as
    /// configured, capped below the process's file descriptor limit when it
    /// starts), and how to say goodbye to each waiting connection, for its
    /// timeout. TCP and WebSocket connections share it, and so its limits.
    private let frontDoor: NIOLockedValueBox<FrontDoor>
    /// Where the lobby's milliseconds start.
    private let startedAt = ContinuousClock.now
    /// Connections being refused for want of room, each briefly holding a descriptor.
    private let refusing = NIOLockedValueBox(0)

    struct FrontDoor {
        var lobby: Lobby
        /// Says goodbye to a connection waiting for its hello and closes it,
        /// from outside its task, whatever its transport.
        var waiting: [ConnectionID: @Sendable (CloseReason) -> Void] = [:]
        /// The server is stopping: nobody new waits for a hello.
        var closed = false
    }

    private struct Lifecycle {
        var listener: (any Channel)?
        var stopping = false
        /// Rooms checkpointed during a stop.
        var settledRooms: Set<String> = []
        /// A cluster node's rooms being handed over during a stop.
        var handovers: [Task<Void, Never>] = []
    }

    /// Opens the SQLite log the configuration names
    /// (``ServerConfiguration/databasePath``); nothing listens until
    /// ``run(onListening:onHTTPListening:)``.
    public convenience init(configuration: ServerConfiguration) throws(StorageError) {
        try self.init(
            configuration: configuration,
            log: try DurableLog(
                path: configuration.databasePath, durability: configuration.durability,
                busyTimeout: configuration.storageBusyTimeout, commitInterval: configuration.commitInterval))
    }

    /// A server on an open durable log, of any engine; nothing listens until
    /// ``run(onListening:onHTTPListening:)``.
    /// - Throws: ``StorageError/failed(_:)`` for a cluster node
    ///   (``ServerConfiguration/cluster``) whose store nodes cannot share.
    public init(configuration: ServerConfiguration, log: any DurableStore) throws(StorageError) {
        self.configuration = configuration
        self.log = log
        var membership: ClusterMembership?
        if let cluster = configuration.cluster {
            guard let shared = log as? any LeaseStore else {
                throw .failed("\(log.location) cannot be shared by nodes: a cluster needs --store postgres://…")
            }
            membership = ClusterMembership(store: shared, settings: cluster, logger: configuration.logger)
        }
        registry = RoomRegistry(
            log: log, membership: membership, configuration: configuration, counters: counters, health: health)
        var lobby = Lobby.Configuration(protocolVersion: WireFormat.version)
        lobby.maxSessions = configuration.maxConnections
        lobby.maxHandshakes = configuration.maxHandshakes
        lobby.handshakeTimeout = configuration.handshakeTimeout.milliseconds
        lobby.roomAccess = configuration.roomAccess
        frontDoor = NIOLockedValueBox(FrontDoor(lobby: Lobby(configuration: lobby)))
    }

    /// The room called `name`, loaded if needed (for tools and tests).
    public func room(named name: String) async throws(StorageError) -> Room? {
        try await registry.room(named: name)
    }

    /// Listens and serves until the task is cancelled or ``shutdown()``.
    ///
    /// A stop is bounded by ``ServerConfiguration/shutdownTimeout``: a room
    /// still busy then is left without its last checkpoint, which costs the
    /// next start some replay and loses nothing acknowledged.
    /// - Parameters:
    ///   - onListening: Called with the bound port once listening (useful
    ///     with port 0).
    ///   - onHTTPListening: Called with the HTTP port, if any.
    /// - Throws: ``ServerError/cannotListen(host:port:reason:)`` when a port
    ///   cannot be bound; ``ServerError/stopTimedOut(seconds:busyRooms:)``
    ///   and ``ServerError/stoppedWithFailures(_:)`` when the stop was not
    ///   clean.
    public func run(
        onListening: @escaping @Sendable (Int) -> Void = { _ in },
        onHTTPListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let serving = Task {
            try await self.serve(onListening: onListening, onHTTPListening: onHTTPListening)
        }
        try await withTaskCancellationHandler {
            try await boundedByStop(serving)
        } onCancel: {
            serving.cancel()
        }
    }

    /// The outcome of `serving`, or ``ServerError/stopTimedOut(seconds:busyRooms:)``
    /// once a stop has taken longer than the shutdown timeout.
    private func boundedByStop(_ serving: Task<Void, any Error>) async throws {
        let waiting = NIOLockedValueBox<CheckedContinuation<Void, any Error>?>(nil)
        let finish: @Sendable (Result<Void, any Error>) -> Void = { outcome in
            waiting.withLockedValue { continuation in
                continuation?.resume(with: outcome)
                continuation = nil
            }
        }
        let timeout = configuration.shutdownTimeout
        try await withCheckedThrowingContinuation { continuation in
            waiting.withLockedValue { $0 = continuation }
            Task {
                do {
                    try await serving.value
                    finish(.success(()))
                } catch {
                    finish(.failure(error))
                }
            }
            Task {
                let isWaiting = { waiting.withLockedValue { $0 != nil } }
                // Idle until a stop is asked for: a coarse poll, since only the timeout after it needs to be precise.
                while isWaiting() && !self.isStopping { try? await Task.sleep(for: .milliseconds(250)) }
                let deadline = ContinuousClock.now + timeout
                while isWaiting() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
                guard isWaiting() else { return }
                let busy = Set(self.counters.snapshot.rooms.keys).subtracting(
                    self.lifecycle.withLockedValue { $0.settledRooms })
                finish(
                    .failure(ServerError.stopTimedOut(seconds: Int(timeout.components.seconds), busyRooms: Array(busy)))
                )
            }
        }
    }

    /// Listens, serves until stopped, then checkpoints every room.
    private func serve(
        onListening: @Sendable (Int) -> Void, onHTTPListening: @escaping @Sendable (Int) -> Void
    ) async throws {
        let maxFrameSize = configuration.maxFrameSize
        let limits = DescriptorLimits.current()
        let (sessions, handshakes) = limits.caps(
            sessions: configuration.maxConnections, handshakes: configuration.maxHandshakes)
        withLobby { door in
            door.lobby.configuration.maxSessions = sessions
            door.lobby.configuration.maxHandshakes = handshakes
        }
        if sessions < configuration.maxConnections {
            configuration.logger.warning(
                """
                serving at most \(sessions) connections, not \(configuration.maxConnections), and \(handshakes) \
                waiting for hello: the process may open \(limits.soft) files (ulimit -n), and \(limits.headroom) \
                stay free for the database and the runtime
                """)
        }
        // A cluster node makes itself known before it takes any room.
        try await registry.membership?.announce()
        // The HTTP port first: a server that cannot serve what it was
        // asked to serve says so before it takes any connection.
        var http: HTTPEndpoint.Running?
        if let port = configuration.httpPort {
            http = try await HTTPEndpoint(host: configuration.host, port: port, server: self).start()
        }
        let listener: NIOAsyncChannel<AcceptedConnection, Never>
        let counters = counters
        let logger = configuration.logger
        let tls: NIOSSLContext?
        do {
            tls = try configuration.tls?.makeContext()
        } catch {
            await http?.stop()
            throw error
        }
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            AcceptFailureObserver(onExhaustion: { error in
                                // Counted each time, logged at most once a second.
                                if counters.ranOutOfDescriptors() {
                                    logger.error(
                                        "cannot accept connections: out of file descriptors; retrying in 1 s",
                                        metadata: ["error": "\(error)"])
                                }
                            }))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                PlaintextRefusal(refused: {
                                    counters.refused(.unauthorized)
                                    logger.notice(
                                        "refused a connection", metadata: ["reason": "plaintext to a TLS-only server"])
                                }))
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try channel.pipeline.syncOperations.addGossipFrameCoders(
                            BoardActionCodec.self, maxFrameSize: maxFrameSize)
                        let inbound = RoomInboundHandler(limit: RoomInboundHandler.defaultLimit)
                        try channel.pipeline.syncOperations.addHandler(inbound)
                        // Output half-closure lets a goodbye reach the peer before the
                        // socket closes (see `closeGracefully`).
                        return AcceptedConnection(
                            channel: try NIOAsyncChannel<Message, Message>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true)),
                            inbound: inbound)
                    }
                }
        } catch {
            await http?.stop()
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
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.runTimer() }
                group.addTask { try await self.timeOutHandshakes() }
                group.addTask { try await self.watchStorage() }
                if let membership = registry.membership {
                    group.addTask { try await self.keepLeases(membership) }
                }
                if let http { onHTTPListening(http.port) }
                try await listener.executeThenClose { connections in
                    for try await connection in connections {
                        let (channel, inbound) = connection.take()
                        group.addTask { await self.serve(channel, inbound: inbound) }
                    }
                }
            }
        } catch {
            await http?.stop()
            throw error
        }
        // Every protocol connection has ended (WebSocket sessions were told
        // goodbye with the rest): the HTTP port stops before the checkpoints.
        await http?.stop()
        // A draining node's handovers end first: their rooms are
        // checkpointed and released, and no longer loaded.
        for handover in lifecycle.withLockedValue({ $0.handovers }) { await handover.value }
        // Every connection has closed; an append still on its way to disk
        // completes before its room's checkpoint (Room.checkpoint waits).
        var failures: [String] = []
        for room in await registry.loaded {
            if await room.checkpoint() {
                settled(room.name)
            } else {
                failures.append("room \"\(room.name)\" was not checkpointed")
            }
        }
        do {
            try await log.settle()
        } catch {
            failures.append("\(error)")
        }
        if let fault = health.fault { failures.insert("the database failed: \(fault)", at: 0) }
        guard failures.isEmpty else { throw ServerError.stoppedWithFailures(failures) }
        configuration.logger.info("stopped; rooms and log checkpointed")
    }

    /// Why the server should not be sent new work now, or nil when ready.
    var unreadiness: String? {
        if isStopping { return "stopping" }
        if let fault = health.fault { return "the database does not take writes: \(fault)" }
        if let membership = registry.membership, membership.isCutOff {
            return "this node cannot reach the shared store: it serves no room until it renews its leases"
        }
        return nil
    }

    /// Prometheus text: rooms, sessions, traffic, refusals, commits,
    /// latencies, memory (``ServerInstruments``, through swift-metrics).
    /// Read from counters the rooms keep current: it never waits on a room.
    public func metricsText() async -> String {
        counters.instruments.refresh(counters.snapshot, log: await log.statistics, isHealthy: health.fault == nil)
        return counters.instruments.text()
    }

    /// Stops gracefully: no new connections; every session gets
    /// `goodbye(shutting down)`; ``run(onListening:onHTTPListening:)``
    /// returns once the connections have closed (each within about 2 s) and
    /// the rooms and log are checkpointed, or throws when that took longer
    /// than ``ServerConfiguration/shutdownTimeout``. Returns at once.
    /// Nothing acknowledged is lost: acks follow durability.
    public func shutdown() async {
        let listener = lifecycle.withLockedValue { state in
            state.stopping = true
            return state.listener
        }
        // Not awaited: the listener's event loop may be one a busy room holds.
        listener?.close(promise: nil)
        // Connections still waiting for their hello are told now, not at
        // their deadline: the stop waits for every connection to end.
        let waiting = withLobby { door in
            door.closed = true
            for id in door.waiting.keys { door.lobby.closed(id) }
            defer { door.waiting = [:] }
            return Array(door.waiting.values)
        }
        for sayGoodbye in waiting { sayGoodbye(.shuttingDown) }
        // Each room in a task of its own: a busy room must not hold up the
        // others, nor the caller (``run(onListening:onHTTPListening:)``
        // bounds the whole stop).
        if let membership = registry.membership {
            await drain(membership)
            return
        }
        for room in await registry.loaded { Task { await room.closeAll(.shuttingDown) } }
    }

    var isStopping: Bool { lifecycle.withLockedValue { $0.stopping } }

    /// `room` was checkpointed during the stop.
    func settled(_ room: String) {
        lifecycle.withLockedValue { _ = $0.settledRooms.insert(room) }
    }

    /// A room being handed over to another node during the stop.
    func addHandover(_ handover: Task<Void, Never>) {
        lifecycle.withLockedValue { $0.handovers.append(handover) }
    }

    private func runTimer() async throws {
        while !Task.isCancelled && !isStopping {
            try await Task.sleep(for: .milliseconds(configuration.tickInterval))
            for room in await registry.loaded { await room.tick() }
            for room in await registry.unloadIdle() {
                // A cluster node lets the room go for good once it is saved.
                if await room.checkpoint() { await registry.membership?.release(room.name) }
                configuration.logger.info("unloaded idle room", metadata: ["room": "\(room.name)"])
            }
        }
    }

    /// Checks the database on a timer of its own (a busy room never delays
    /// it): that its file is still the one opened, and, while writes are
    /// refused, whether they work again.
    private func watchStorage() async throws {
        while !Task.isCancelled && !isStopping {
            try await Task.sleep(for: configuration.storageCheckInterval)
            await checkStorage()
        }
    }

    /// Notices a database file deleted or replaced underneath (and rescues
    /// what the open file holds), and, while writes are refused, whether
    /// they work again.
    func checkStorage() async {
        do {
            if health.fault == nil {
                try await log.watch()
            } else {
                try await log.probe()
                if health.markHealthy() {
                    configuration.logger.notice("the database takes writes again; accepting updates")
                }
            }
        } catch {
            guard health.markFailed(error) else { return }
            counters.storageFailed()
            configuration.logger.error(
                "cannot store updates; refusing writes until the database works again",
                metadata: ["error": "\(error)"])
            if case .fileReplaced(let path) = error, let file = log as? DurableLog { await rescue(file, path) }
        }
    }

    /// Copies what the deleted or replaced database still holds (open in
    /// this process only) next to where it was.
    private func rescue(_ file: DurableLog, _ path: String) async {
        let copy = "\(path).rescued-\(Int(Date().timeIntervalSince1970))"
        do {
            try await file.copy(to: copy)
            configuration.logger.error(
                "copied what the database held to \(copy); stop the server and move it to \(path) to serve it again")
        } catch {
            configuration.logger.error("could not rescue the database", metadata: ["error": "\(error)"])
        }
    }

    /// Says goodbye with `reason`, logs it and counts it.
    private func refuse(_ reason: CloseReason, on outbound: NIOAsyncChannelOutboundWriter<Message>) async {
        noteRefusal(reason)
        try? await outbound.write(.goodbye(reason))
    }

    /// Logs and counts a connection refused with `reason`.
    func noteRefusal(_ reason: CloseReason) {
        counters.refused(CloseReasonName(reason))
        configuration.logger.notice("refused a connection", metadata: ["reason": "\(reason)"])
    }

    /// Ends a connection so that what we sent last (a goodbye) arrives:
    /// half-closes our side, then reads and drops whatever the peer still
    /// sends until it closes too (at most 2 s). Closing outright while the
    /// peer's bytes sit unread makes TCP reset the connection, and the peer's
    /// kernel may then discard our goodbye before the peer reads it.
    /// - Parameter patience: How long to drain: 2 s, or less for a
    ///   connection refused in a flood, whose descriptor is needed back.
    private func closeGracefully(
        _ connection: NIOAsyncChannel<Message, Message>,
        messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>, patience: TimeAmount = .seconds(2)
    ) async {
        outbound.finish()
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: patience) { channel.close(promise: nil) }
        while (try? await messages.next()) != nil {}
        deadline.cancel()
    }

    /// Runs `body` on the front door, then publishes the lobby's counts.
    func withLobby<T>(_ body: (inout FrontDoor) -> T) -> T {
        frontDoor.withLockedValue { door in
            let result = body(&door)
            counters.lobbyChanged(door.lobby)
            return result
        }
    }

    /// Milliseconds since the server started: the lobby's clock.
    var lobbyNow: UInt64 { (ContinuousClock.now - startedAt).milliseconds }

    /// One connection: `hello` first, then every message to its room.
    private func serve(_ connection: NIOAsyncChannel<Message, Message>, inbound delivery: RoomInboundHandler) async {
        let accepted = withLobby { door in
            // Accepted just before the listener closed: refused like the rest.
            guard !door.closed else {
                return (Lobby.Acceptance.refused(.shuttingDown), door.lobby.configuration.maxHandshakes)
            }
            let accepted = door.lobby.accept(now: lobbyNow)
            if case .waiting(let id) = accepted {
                let channel = connection.channel
                door.waiting[id] = { Self.sayGoodbye($0, to: channel) }
            }
            return (accepted, door.lobby.configuration.maxHandshakes)
        }
        let id: ConnectionID
        switch accepted.0 {
        case .waiting(let waiting):
            id = waiting
        case .refused(let reason):
            await discard(delivery, on: connection.channel)
            await refuseInFlood(connection, reason, limit: accepted.1)
            return
        }
        try? await connection.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            if let admitted = await admit(id, &messages, outbound: outbound) {
                await converse(in: admitted, over: connection, delivery: delivery, messages: &messages)
                await registry.release(admitted.0)
                withLobby { $0.lobby.sessionEnded() }
            }
            await discard(delivery, on: connection.channel)
            await closeGracefully(connection, messages: &messages, outbound: outbound)
        }
    }

    /// Stops handing the connection's messages to a room: it was refused,
    /// or its session is over.
    private func discard(_ delivery: RoomInboundHandler, on channel: any Channel) async {
        try? await channel.eventLoop.submit { delivery.discard() }.get()
    }

    /// Refuses a connection the lobby has no place for. In a flood each
    /// refused socket holds a descriptor until closed, so at most `limit`
    /// refusals are said at once, briefly; beyond that the socket closes at once.
    private func refuseInFlood(_ connection: NIOAsyncChannel<Message, Message>, _ reason: CloseReason, limit: Int) async
    {
        let mayRefuse = refusing.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard mayRefuse else {
            counters.refused(CloseReasonName(reason))
            try? await connection.channel.close()
            return
        }
        defer { refusing.withLockedValue { $0 -= 1 } }
        try? await connection.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            await refuse(reason, on: outbound)
            await closeGracefully(connection, messages: &messages, outbound: outbound, patience: .milliseconds(200))
        }
    }

    /// Ends the connections the lobby finds without a hello past the
    /// handshake timeout (an idle socket, or a hello trickled a byte at a
    /// time) with `goodbye(timeout)`, and closes them 2 s later whether or
    /// not the peer closes its side.
    private func timeOutHandshakes() async throws {
        let timeout = configuration.handshakeTimeout
        let interval = min(Duration.milliseconds(100), timeout / 4)
        while !Task.isCancelled && !isStopping {
            try await Task.sleep(for: interval)
            let overdue = withLobby { door in
                door.lobby.tick(now: lobbyNow).compactMap { door.waiting.removeValue(forKey: $0) }
            }
            for sayGoodbye in overdue {
                counters.refused(.timeout)
                configuration.logger.notice("refused a connection", metadata: ["reason": "no hello within \(timeout)"])
                sayGoodbye(.timeout)
            }
        }
    }

    /// Ends a connection that waits for its hello, from outside its task:
    /// the goodbye, our side closed after it, and the whole connection 2 s
    /// later whether or not the peer closes (its task then ends too).
    private static func sayGoodbye(_ reason: CloseReason, to channel: any Channel) {
        channel.writeAndFlush(Message.goodbye(reason), promise: nil)
        channel.close(mode: .output, promise: nil)
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    /// Reads the hello and finds the room, or refuses the peer.
    /// - Returns: The room, leased, and the hello; the session is counted
    ///   by the lobby until ``Lobby/sessionEnded()``.
    private func admit(
        _ id: ConnectionID, _ messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Message>
    ) async -> (Room, Hello)? {
        let first: Result<Message?, any Error>
        do {
            first = .success(try await messages.next())
        } catch {
            first = .failure(error)
        }
        switch await admit(id, first: first, overWebSocket: false) {
        case .admitted(let room, let hello):
            return (room, hello)
        case .refused(let reason):
            await refuse(reason, on: outbound)
            return nil
        case .gone:
            return nil
        }
    }

    /// What came of a connection's first message.
    enum Admission {
        /// The peer may join this room (leased to it) with this hello.
        case admitted(Room, Hello)
        /// The peer is refused: say goodbye with this reason.
        case refused(CloseReason)
        /// The connection closed before its hello, or its goodbye is said.
        case gone
    }

    /// Decides a connection's first message, whatever its transport: the
    /// lobby admits the hello (or refuses it), then the room is leased.
    /// - Parameter first: The first message, nil when the connection closed
    ///   first, or why it could not be read.
    func admit(_ id: ConnectionID, first: Result<Message?, any Error>, overWebSocket: Bool) async -> Admission {
        let admission = withLobby { door -> Lobby.Admission? in
            door.waiting[id] = nil
            switch first {
            case .failure(let error as NIOSSLError):
                // No TLS session, so no goodbye can reach the peer: a client
                // that does not trust us, speaks no TLS, or only probed the port.
                configuration.logger.info("a TLS handshake failed", metadata: ["error": "\(error)"])
                door.lobby.closed(id)
                return nil
            case .failure(let error):
                return .refused(door.lobby.malformed(id, String(describing: error)))
            case .success(nil):
                door.lobby.closed(id)
                return nil
            case .success(let message?):
                return door.lobby.receive(message, from: id)
            }
        }
        let hello: Hello
        switch admission {
        case nil, .refused(.timeout)?:
            // Closed before its hello, or timed out (the goodbye is said).
            return .gone
        case .refused(let reason)?:
            return .refused(reason)
        case .admitted(let admitted)?:
            hello = admitted
        }
        do {
            switch try await registry.lease(hello.room) {
            case .room(let room):
                return .admitted(room, hello)
            case .full:
                withLobby { $0.lobby.sessionEnded() }
                return .refused(.limitExceeded("the server already holds \(configuration.maxRooms) rooms"))
            case .elsewhere(let node):
                withLobby { $0.lobby.sessionEnded() }
                let address = overWebSocket ? node.webAddress ?? node.address : node.address
                return .refused(.redirect(node: node.name, address: address))
            case .unavailable(let reason):
                withLobby { $0.lobby.sessionEnded() }
                return .refused(.storageUnavailable(reason))
            }
        } catch {
            withLobby { $0.lobby.sessionEnded() }
            configuration.logger.error("cannot load a room", metadata: ["room": "\(hello.room)", "error": "\(error)"])
            return .refused(.storageUnavailable("cannot load room \"\(hello.room)\": \(error)"))
        }
    }

    /// Joins the peer to its room and hands its messages over
    /// (``RoomInboundHandler``) until either side ends the session; the room
    /// writes to the connection itself (``ChannelOutput``). What reaches this
    /// task is only how the connection ends.
    private func converse(
        in admitted: (Room, Hello), over connection: NIOAsyncChannel<Message, Message>,
        delivery: RoomInboundHandler, messages: inout NIOAsyncChannelInboundStream<Message>.AsyncIterator
    ) async {
        let (room, hello) = admitted
        let output = ChannelOutput(channel: connection.channel, limit: configuration.outboundBufferLimit)
        let id = await room.join(hello: hello, output: output)
        try? await connection.channel.eventLoop.submit { delivery.join(room, as: id) }.get()
        do {
            while try await messages.next() != nil {}
        } catch let error as WireError {
            await room.close(id, reason: .protocolViolation(error.description))
        } catch {
            // The connection dropped.
        }
        await room.leave(id)
    }
}
