import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Scuttlebutt
import Storage
import Whiteboard
import Wire

/// Where a client stands with the server.
public enum ConnectionState: Sendable, Hashable {
    /// Not connected; drawing goes on, and syncs when the server is back.
    case offline(reason: String?)
    /// Opening a connection.
    case connecting
    /// Connected, exchanging what each side lacks.
    case syncing
    /// Caught up; updates flow as they happen.
    case live
    /// The server refused this client for a reason that retrying cannot
    /// change (a wrong token, another protocol version, a bad room name):
    /// the client stopped trying. The reason is the server's own.
    case refused(reason: String)
}

/// What a client tells the app that shows it.
public enum ClientEvent: Sendable, Hashable {
    /// The connection state changed.
    case state(ConnectionState)
    /// The board changed (a local record or remote updates).
    case boardChanged
    /// Someone's presence changed, or they left (nil).
    case presence(PeerID, BoardPresence?)
    /// A round trip to the server took this many milliseconds.
    case roundTrip(milliseconds: UInt64)
    /// Updates from others arrived, stamped at these times (their origins'
    /// clocks): on one machine, now minus the stamp is the end-to-end latency.
    case received([Timestamp])
}

/// The settings of a ``BoardClient``.
public struct ClientConfiguration: Sendable {
    /// The server's host.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The room to join.
    public var room: String
    /// The name others see.
    public var name: String
    /// Editor, viewer or bot.
    public var role: PeerRole = .editor
    /// The room's token, if it has one.
    public var token: String?
    /// TLS to the server; nil for plain TCP.
    public var tls: ClientTLS?
    /// A SQLite file for the offline queue and the local replica; nil keeps
    /// them in the replica's memory only (lost when the process ends, and
    /// a new origin every time).
    public var localDatabase: String?
    /// The first delay before reconnecting, in milliseconds; it doubles up
    /// to `maxReconnectDelay`, with full jitter.
    public var minReconnectDelay: UInt64 = 250
    /// The longest delay before reconnecting, in milliseconds.
    public var maxReconnectDelay: UInt64 = 10_000
    /// Chaos for load tests: holds back every message, each way, by this
    /// much; nil sends and handles messages as they come.
    public var addedLatency: AddedLatency?
    /// Other nodes of a cluster serving the same rooms, tried in turn (after
    /// `host:port`) when the current one cannot be reached. A node that does
    /// not hold the room redirects the client to the one that does.
    public var otherServers: [ServerAddress] = []

    /// A configuration with defaults for the rest.
    public init(host: String, port: Int, room: String, name: String) {
        self.host = host
        self.port = port
        self.room = room
        self.name = name
    }
}

/// A server's protocol address.
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Its host name or address.
    public var host: String
    /// Its port.
    public var port: Int

    /// An address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `HOST:PORT` (`[v6]:PORT` too); nil when it is not one.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// `HOST:PORT`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Latency a client adds to its own link, to test how a room copes with
/// slow or jittery peers.
public struct AddedLatency: Sendable, Hashable {
    /// The delay every message gets, in milliseconds.
    public var milliseconds: UInt64
    /// A further uniformly random delay of up to this many milliseconds.
    /// Messages still keep their order, as over TCP.
    public var jitter: UInt64

    /// Holds messages back by `milliseconds` plus up to `jitter`.
    public init(milliseconds: UInt64, jitter: UInt64 = 0) {
        self.milliseconds = milliseconds
        self.jitter = jitter
    }
}

/// What an app shows of a ``BoardClient``, as of its latest change.
public struct ClientView: Sendable {
    /// The board as the replica holds it.
    public var board: Board
    /// Everyone else's presence.
    public var others: [PeerID: BoardPresence]
    /// Own updates the server has not confirmed yet.
    public var pending: Int
    /// The connection now.
    public var connection: ConnectionState
    /// The latest round trip to the server, in milliseconds, while connected.
    public var roundTrip: UInt64?

    /// A view of the given facts (by default: an empty board, nobody else, offline).
    public init(
        board: Board = Board(), others: [PeerID: BoardPresence] = [:], pending: Int = 0,
        connection: ConnectionState = .offline(reason: nil), roundTrip: UInt64? = nil
    ) {
        self.board = board
        self.others = others
        self.pending = pending
        self.connection = connection
        self.roundTrip = roundTrip
    }
}

/// Why the client would not do what it was asked.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A viewer cannot record: the server would never accept the update.
    case readOnly(PeerRole)
    /// The server refused this client for good (a wrong token, another
    /// protocol version): the server's reason.
    case refused(String)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .readOnly(let role): "a \(role) cannot draw"
        case .refused(let reason): "refused by the server: \(reason)"
        }
    }
}

/// A peer of a Scuttleboard room: a local replica of the board that stays
/// usable offline, and a connection that syncs it whenever it can.
///
/// Everything recorded is written to the local database *before* it is
/// sent, and stays there until the server confirms it, so nothing recorded
/// is lost across a disconnect, a client restart or a server restart. On
/// every (re)connection the digests decide what each side still needs.
public actor BoardClient {
    typealias Message = GossipMessage<BoardAction>

    /// This client's origin, kept in the local database across restarts.
    public nonisolated let peer: PeerID
    /// The settings it runs with.
    public nonisolated let configuration: ClientConfiguration
    private let store: ReplicatedStore<BoardReducer>
    /// The local database, when there is one.
    private let local: DurableLog?
    private var session: GossipSession<BoardReducer>?
    private var outbound: NIOAsyncChannelOutboundWriter<Message>?
    /// With added latency, sends go through here on their way to `outbound`.
    private var delayedOutbound: DelayLine<Message>?
    private var presence: [PeerID: BoardPresence] = [:]
    private var ownPresence: BoardPresence?
    private var pendingOutputs: [[GossipSession<BoardReducer>.Output]] = []
    private var isDrainingOutputs = false
    private var continuations: [AsyncStream<ClientEvent>.Continuation] = []
    /// The connection state now.
    public private(set) var state = ConnectionState.offline(reason: nil)
    /// The last refusal from the server (a wrong token, say), if any.
    public private(set) var lastRefusal: CloseReason?
    /// The server connected to now: the configured one, another node it
    /// redirected to, or the next of ``ClientConfiguration/otherServers``
    /// when the current one cannot be reached.
    public private(set) var server: ServerAddress
    /// Redirects followed since the last session that went live.
    private var redirectsInARow = 0
    /// Why the last connection attempt failed, if it did (nil again once a
    /// connection is made).
    public private(set) var lastConnectionFailure: ConnectionFailure?
    private var roundTrip: UInt64?
    /// Whether the current connection's session ever opened.
    private var sessionOpened = false
    /// The TLS context every connection shares, made on the first.
    private var tlsContext: NIOSSLContext?
    /// What ``view`` shows, and the doorbells of ``changes()``.
    private nonisolated let published = NIOLockedValueBox(Published())
    /// Callers of ``waitUntilLive()``, by a number of their own.
    private var liveWaiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiter = 0
    /// The confirmed own seq last written to the local database.
    private var storedConfirmation: UInt64 = 0
    private var confirmationStoredAt = ContinuousClock.now

    private struct Published: Sendable {
        var view = ClientView()
        var doorbells: [AsyncStream<Void>.Continuation] = []
    }

    /// Opens the local database, reloads what it holds, and is ready to
    /// ``run()``.
    public init(configuration: ClientConfiguration) throws(StorageError) {
        self.configuration = configuration
        server = ServerAddress(host: configuration.host, port: configuration.port)
        // Without a file there is nothing a local database would keep that
        // the replica does not: no SQLite at all, then.
        var local: DurableLog?
        if let path = configuration.localDatabase { local = try DurableLog(path: path) }
        let peer: PeerID
        if let stored = try local?.setting("peer"), stored.count == 8 {
            peer = PeerID(stored.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        } else {
            peer = PeerID.random()
            try local?.setSetting("peer", (0..<8).map { UInt8(truncatingIfNeeded: peer.rawValue >> (8 * $0)) })
        }
        let store = ReplicatedStore(
            peer: peer, reducer: BoardReducer(), initialState: Board(spatiallyIndexed: true),
            configuration: .board(isAuthority: false),
            wallClock: SystemWallClock())
        for stored in try local?.load(room: configuration.room).updates ?? [] {
            if let update = stored.decoded(with: BoardActionCodec.decode) { _ = store.receive(update) }
        }
        // What the server confirmed before the last run is not pending now.
        let confirmed = try local?.setting(Self.confirmationKey(configuration.room)).map(Self.decodeSeq) ?? 0
        store.confirmOwn(through: confirmed)
        self.local = local
        self.peer = peer
        self.store = store
        self.storedConfirmation = confirmed
        published.withLockedValue {
            $0.view.board = store.state
            $0.view.pending = Int(store.digest[peer] - store.confirmedOwnSeq)
        }
    }

    /// The settings key of the confirmed own seq for `room`.
    static func confirmationKey(_ room: String) -> String { "confirmed:\(room)" }

    static func encodeSeq(_ seq: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: seq >> (8 * $0)) } }

    static func decodeSeq(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// The board as this replica holds it.
    public var board: Board { store.state }

    /// What this replica holds.
    public var digest: Digest { store.digest }

    /// Rewinds and replays of the local replica.
    public var timelineStatistics: TimelineStatistics { store.timeline.statistics }

    /// Connections that reached live, ever: more than one means reconnects.
    public private(set) var liveConnections = 0

    /// Own updates the server has not confirmed yet.
    public var pendingCount: Int { Int(store.digest[peer] - store.confirmedOwnSeq) }

    /// Everyone else's presence.
    public var others: [PeerID: BoardPresence] { presence }

    /// Events for the app, from now on: every one of them, in order (the
    /// stream is unbounded, so read it promptly). A screen wants
    /// ``changes()`` and ``view`` instead.
    public func events() -> AsyncStream<ClientEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ClientEvent.self)
        continuations.append(continuation)
        return stream
    }

    /// Ends every stream ``events()`` returned: each delivers what it
    /// buffered, then finishes, so a reader that must have seen everything
    /// so far (a swarm counting deliveries) can wait for its loop to end.
    public func finishEvents() {
        for continuation in continuations { continuation.finish() }
        continuations = []
    }

    /// The board, presence and connection as of the latest change, read
    /// without waiting for the client: a screen draws from it at its own
    /// pace, whatever arrives meanwhile. Kept up to date once ``changes()``
    /// has been called.
    public nonisolated var view: ClientView { published.withLockedValue { $0.view } }

    /// Rings after every change to ``view``; rings that come while one is
    /// waiting to be read merge into it (at most one is ever buffered), so
    /// a slow reader never falls behind, it only skips to the latest.
    public nonisolated func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        published.withLockedValue { $0.doorbells.append(continuation) }
        return stream
    }

    /// Returns once the client is live: connected and caught up with the
    /// server. ``run()`` must be running (in another task).
    /// - Throws: ``ClientError/refused(_:)`` when the server refused the
    ///   client for good; `CancellationError` when the task is cancelled.
    public func waitUntilLive() async throws {
        if state == .live { return }
        if case .refused(let reason) = state { throw ClientError.refused(reason) }
        let id = nextWaiter
        nextWaiter += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    liveWaiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    // MARK: Drawing

    /// Records an action: applied at once, stored locally, sent when connected.
    /// - Throws: ``ClientError/readOnly(_:)`` for a viewer, or the board's
    ///   validation error; nothing is recorded then.
    @discardableResult
    public func record(_ action: BoardAction) async throws -> Update<BoardAction> {
        guard configuration.role.mayAuthor else { throw ClientError.readOnly(configuration.role) }
        let update = try store.record(action)
        try await local?.append(room: configuration.room, [Self.stored(update)])
        emit(.boardChanged)
        await pump()
        return update
    }

    /// Shows others where we are and what we hold (throttled; never stored).
    public func setPresence(_ presence: BoardPresence) async {
        ownPresence = presence
        guard var session else { return }
        let outputs = session.send(presence: Presence(origin: peer, payload: presence.encoded()), now: now)
        self.session = session
        await carryOut(outputs)
    }

    // MARK: Connecting

    /// Connects, and reconnects with backoff, until the task is cancelled
    /// or the server refuses the client for good (``ConnectionState/refused(reason:)``:
    /// a wrong token, another protocol version, a bad room name).
    public func run() async {
        var attempt = 0
        while !Task.isCancelled {
            var opened = false
            // A redirect counts only when this attempt's server said it.
            var redirect: ServerAddress?
            // Why this attempt failed, when no session opened at all: a
            // refusal from an earlier attempt (a redirect to a node that has
            // since died) is not the reason now.
            var unreachable: String?
            do {
                opened = try await connectOnce()
                if case .redirect(_, let address) = lastRefusal { redirect = ServerAddress(parsing: address) }
                // A session that went live starts the backoff afresh, unless
                // the server ended it for a condition that lasts (its store
                // failing, a limit): then the backoff keeps growing.
                attempt = state == .live && !Self.persists(lastRefusal) ? 0 : attempt
            } catch {
                lastConnectionFailure = ConnectionFailure(error, host: server.host, port: server.port)
                if !sessionOpened { unreachable = lastConnectionFailure?.description }
                // A node that cannot be reached may have died: the next one
                // redirects to wherever the room went.
                let servers =
                    [ServerAddress(host: configuration.host, port: configuration.port)]
                    + configuration.otherServers
                if servers.count > 1 {
                    server = servers[((servers.firstIndex(of: server) ?? -1) + 1) % servers.count]
                }
            }
            session = nil
            outbound = nil
            delayedOutbound = nil
            roundTrip = nil
            // What the old session wanted sent belongs to a closed link.
            pendingOutputs = []
            storeConfirmation(force: true)
            // Presence is relayed by the server: without it nobody is known
            // to be here, so no ghost cursors stay on screen.
            for origin in presence.keys { emit(.presence(origin, nil)) }
            presence = [:]
            if !opened, let refusal = lastRefusal, Self.isFinal(refusal) {
                setState(.refused(reason: refusal.description))
                return
            }
            setState(
                .offline(
                    reason: unreachable ?? lastRefusal?.description ?? lastConnectionFailure?.description
                        ?? "connection lost"))
            // A redirect is followed at once (a few in a row: placement
            // settling after a node died); beyond that, backoff as usual.
            if let redirect, redirectsInARow < Self.redirectsFollowedAtOnce {
                redirectsInARow += 1
                server = redirect
                continue
            }
            if let redirect { server = redirect }
            attempt += 1
            let ceiling = min(configuration.maxReconnectDelay, configuration.minReconnectDelay << min(attempt, 16))
            try? await Task.sleep(
                for: .milliseconds(
                    UInt64.random(in: configuration.minReconnectDelay...max(ceiling, configuration.minReconnectDelay))))
        }
        setState(.offline(reason: "stopped"))
    }

    /// How many redirects in a row are followed without waiting.
    static let redirectsFollowedAtOnce = 4

    /// Whether a refusal names a condition that outlasts a reconnect.
    static func persists(_ refusal: CloseReason?) -> Bool {
        switch refusal {
        case .storageUnavailable, .limitExceeded: true
        default: false
        }
    }

    /// Whether a refusal at the handshake means that retrying cannot help.
    static func isFinal(_ refusal: CloseReason) -> Bool {
        switch refusal {
        case .unauthorized, .versionMismatch, .protocolViolation: true
        case .normal, .updateRejected, .timeout, .slowConsumer, .snapshotRequired, .shuttingDown, .limitExceeded,
            .storageUnavailable, .redirect:
            false
        }
    }

    /// Tries one connection to the server and closes it: whether a swarm
    /// or a tool can reach the server at all, before it starts.
    /// - Throws: ``ConnectionFailure``, saying why not.
    public static func checkReachable(host: String, port: Int) async throws(ConnectionFailure) {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(host: host, port: port).get()
            try? await channel.close()
        } catch {
            throw ConnectionFailure(error, host: host, port: port)
        }
    }

    /// One connection, until it ends.
    /// - Returns: Whether the session opened (the server's hello arrived).
    private func connectOnce() async throws -> Bool {
        setState(.connecting)
        sessionOpened = false
        if let tls = configuration.tls, tlsContext == nil { tlsContext = try tls.makeContext() }
        let (tls, host) = (tlsContext, server.host)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: server.host, port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try ClientTLS.addHandler(to: channel.pipeline.syncOperations, context: tls, host: host)
                    }
                    try channel.pipeline.syncOperations.addGossipFrameCoders(BoardActionCodec.self)
                    return try NIOAsyncChannel<Message, Message>(wrappingChannelSynchronously: channel)
                }
            }
        lastConnectionFailure = nil
        sessionOpened = false
        try await channel.executeThenClose { inbound, outbound in
            var settings = GossipSessionConfiguration(
                name: configuration.name, room: configuration.room, role: configuration.role)
            settings.remoteIsAuthority = true
            settings.credentials = configuration.token
            settings.sendsUpdates = configuration.role.mayAuthor
            var session = GossipSession<BoardReducer>(configuration: settings)
            let started = session.start(store: store, now: now)
            let latency = configuration.addedLatency
            let sending = latency.map(DelayLine<Message>.init)
            let receiving = latency.map(DelayLine<Message>.init)
            self.session = session
            self.outbound = outbound
            self.delayedOutbound = sending
            setState(.syncing)
            await carryOut(started)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(100))
                        await self.tick()
                    }
                }
                if let sending {
                    group.addTask {
                        try await sending.drain { message in
                            do {
                                try await outbound.write(message)
                                return true
                            } catch {
                                await self.endSession()
                                return false
                            }
                        }
                    }
                }
                if let receiving {
                    group.addTask {
                        defer { receiving.finish() }
                        for try await message in inbound { receiving.push(message) }
                    }
                    try await receiving.drain { await self.handle($0) }
                } else {
                    for try await message in inbound {
                        guard await handle(message) else { break }
                    }
                }
                sending?.finish()
                group.cancelAll()
            }
        }
        return sessionOpened
    }

    /// Handles one message from the server.
    /// - Returns: Whether the session goes on.
    @discardableResult
    private func handle(_ message: Message) async -> Bool {
        guard var current = session else { return false }
        let wasOpen = current.isOpen
        let confirmedBefore = store.confirmedOwnSeq
        let outputs = current.handle(message, store: store, now: now)
        session = current
        await carryOut(outputs)
        if current.isOpen { sessionOpened = true }
        if store.confirmedOwnSeq != confirmedBefore {
            storeConfirmation(force: false)
            publish()
        }
        guard session != nil else { return false }
        // Presence can only go out once the server's hello is in.
        if !wasOpen, current.isOpen, let ownPresence { await setPresence(ownPresence) }
        return true
    }

    /// The link failed: the session is over.
    private func endSession() {
        session = nil
    }

    private func tick() async {
        storeConfirmation(force: false)
        guard var session else { return }
        let outputs = session.tick(store: store, now: now)
        self.session = session
        await carryOut(outputs)
    }

    private func pump() async {
        guard var session else { return }
        let outputs = session.pump(from: store, store: store)
        self.session = session
        await carryOut(outputs)
    }

    /// Carries out session outputs strictly in the order the session produced
    /// them. The actor is reentrant: while one batch waits (a write, a local
    /// append), a record or a tick may pump the session again, and writing
    /// that batch first would put seq N+1 on the wire before N (the server
    /// then refuses a sequence gap; a swarm found this). So batches queue,
    /// and one caller at a time drains the queue.
    private func carryOut(_ outputs: [GossipSession<BoardReducer>.Output]) async {
        pendingOutputs.append(outputs)
        guard !isDrainingOutputs else { return }
        isDrainingOutputs = true
        while !pendingOutputs.isEmpty {
            await perform(pendingOutputs.removeFirst())
        }
        isDrainingOutputs = false
    }

    private func perform(_ outputs: [GossipSession<BoardReducer>.Output]) async {
        for output in outputs {
            switch output {
            case .send(let message):
                if let delayedOutbound {
                    delayedOutbound.push(message)
                    continue
                }
                do {
                    try await outbound?.write(message)
                } catch {
                    session = nil
                }
            case .applied(let updates):
                emit(.received(updates.map(\.timestamp)))
                emit(.boardChanged)
            case .caughtUp:
                lastRefusal = nil
                redirectsInARow = 0
                liveConnections += 1
                setState(.live)
            case .rebased(let updates):
                // Re-stamped own updates replace the stored versions.
                try? await local?.replace(room: configuration.room, updates.map(Self.stored))
                emit(.boardChanged)
            case .presence(let update):
                let decoded = try? BoardPresence(decoding: update.payload)
                presence[update.origin] = decoded
                emit(.presence(update.origin, decoded))
            case .presenceGone(let origin):
                presence[origin] = nil
                emit(.presence(origin, nil))
            case .roundTrip(let milliseconds):
                roundTrip = milliseconds
                emit(.roundTrip(milliseconds: milliseconds))
            case .close(let reason):
                if reason != .normal { lastRefusal = reason }
                session = nil
            case .snapshotReceived(let header, let bytes):
                guard var current = session else { break }
                let outputs: [GossipSession<BoardReducer>.Output]
                do {
                    var board = try BoardSnapshotCodec.decode(bytes)
                    board.indexSpatially()
                    outputs = current.installSnapshot(
                        ReplicaSnapshot(state: board, horizon: header.horizon, digest: header.digest), store: store,
                        source: store)
                    emit(.boardChanged)
                } catch {
                    outputs = current.close(.protocolViolation("undecodable snapshot: \(error)"))
                }
                session = current
                await carryOut(outputs)
            case .rejectedByRemote, .belowHorizon, .remoteNeedsSnapshot, .persist:
                break
            }
        }
    }

    // MARK: Helpers

    private var now: UInt64 { SystemWallClock().milliseconds() }

    private func setState(_ new: ConnectionState) {
        guard new != state else { return }
        state = new
        emit(.state(new))
        switch new {
        case .live:
            for waiter in liveWaiters.values { waiter.resume() }
            liveWaiters = [:]
        case .refused(let reason):
            for waiter in liveWaiters.values { waiter.resume(throwing: ClientError.refused(reason)) }
            liveWaiters = [:]
        case .offline, .connecting, .syncing:
            break
        }
    }

    private func cancelWaiter(_ id: Int) {
        liveWaiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    private func emit(_ event: ClientEvent) {
        for continuation in continuations { continuation.yield(event) }
        publish()
    }

    /// Brings ``view`` up to date and rings the doorbells, when anyone
    /// listens (a replica nobody shows keeps its board unshared, so its
    /// updates never pay for a copy).
    private func publish() {
        guard published.withLockedValue({ !$0.doorbells.isEmpty }) else { return }
        let store = self.store
        let view = ClientView(
            board: store.state, others: presence, pending: Int(store.digest[peer] - store.confirmedOwnSeq),
            connection: state, roundTrip: state == .live || state == .syncing ? roundTrip : nil)
        published.withLockedValue { published in
            published.view = view
            for doorbell in published.doorbells { doorbell.yield() }
        }
    }

    /// Writes the confirmed own seq to the local database, so that a
    /// restarted client does not count confirmed work as pending; at most
    /// twice a second unless `force`d.
    private func storeConfirmation(force: Bool) {
        guard let local, store.confirmedOwnSeq > storedConfirmation else { return }
        guard force || ContinuousClock.now - confirmationStoredAt > .milliseconds(500) else { return }
        do {
            try local.setSetting(Self.confirmationKey(configuration.room), Self.encodeSeq(store.confirmedOwnSeq))
            storedConfirmation = store.confirmedOwnSeq
            confirmationStoredAt = .now
        } catch {
            // Only the pending count after a restart depends on it.
        }
    }

    static func stored(_ update: Update<BoardAction>) -> StoredUpdate {
        StoredUpdate(update, encode: BoardActionCodec.encode)
    }
}
