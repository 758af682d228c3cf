import Scuttlebutt
import Storage
import Whiteboard
import Wire

/// One room: the authoritative replica of a board, its sessions, and its
/// share of the durable log. An actor on its own serial Dispatch queue.
///
/// The room drives one ``GossipSession`` per connection and carries out what
/// the sessions return. Updates a peer sends are written to the durable log
/// *before* the session's `ack` goes out, so an acknowledged update survives
/// a crash; then the other sessions pump them.
public actor Room {
    typealias Message = GossipMessage<BoardAction>

    struct Connection {
        var session: GossipSession<BoardReducer>
        let outbound: AsyncStream<Message>.Continuation
        let peer: PeerID
        var rate: RateLimiter
        var isOpen = true
    }

    /// The room's name.
    public nonisolated let name: String
    private let executor: DispatchQueueExecutor
    private let store: ReplicatedStore<BoardReducer>
    private let log: DurableLog
    private let configuration: ServerConfiguration
    private let wallClock = SystemWallClock()
    private let counters: ServerCounters
    private var connections: [UInt64: Connection] = [:]
    private var nextConnection: UInt64 = 1
    private var persistedFrontier = Timestamp.zero

    /// Runs the room on its own queue.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Loads the room from the durable log (empty when new).
    init(name: String, log: DurableLog, configuration: ServerConfiguration, counters: ServerCounters)
        throws(StorageError)
    {
        self.name = name
        self.counters = counters
        self.log = log
        self.configuration = configuration
        executor = DispatchQueueExecutor(label: "scuttleboard.room.\(name)")
        store = ReplicatedStore(
            peer: PeerID(0), reducer: BoardReducer(), initialState: Board(), configuration: .board(isAuthority: true),
            wallClock: SystemWallClock())
        let room = try log.load(room: name)
        for (index, stored) in room.updates.enumerated() {
            guard let update = stored.decoded(with: BoardActionCodec.decode) else { continue }
            _ = store.receive(update)
            // The log replays in total order, so the frontier can follow it
            // (up to the persisted one): history folds as it loads instead
            // of holding every entry and snapshot until the end.
            if index % 4_096 == 4_095 { store.advanceFrontier(to: min(update.timestamp, room.frontier)) }
        }
        store.advanceFrontier(to: room.frontier)
        persistedFrontier = room.frontier
    }

    /// The board as the room holds it.
    public var board: Board { store.state }

    /// What the room holds.
    public var digest: Digest { store.digest }

    /// Sessions currently open.
    public var sessionCount: Int { connections.count }

    /// Batches sent to each peer and not yet acknowledged: bounded by the
    /// session window, whatever the peer does.
    public var unacknowledgedBatches: [PeerID: Int] {
        Dictionary(connections.values.map { ($0.peer, $0.session.unacknowledgedBatches) }, uniquingKeysWith: max)
    }

    private var now: UInt64 { wallClock.milliseconds() }

    // MARK: Sessions

    /// Admits a peer whose `hello` has arrived; our `hello` and what it lacks
    /// go out through `outbound`.
    /// - Returns: The connection's id in this room.
    func join(hello: Hello, outbound: AsyncStream<Message>.Continuation) async -> UInt64 {
        var session = GossipSessionConfiguration(name: "scuttleboard", room: name, role: .server)
        session.bindsRemoteOrigin = true
        session.acceptsUpdates = hello.role.mayAuthor
        let id = nextConnection
        nextConnection += 1
        connections[id] = Connection(
            session: GossipSession(configuration: session, estimatedSize: { _ in 24 }), outbound: outbound,
            peer: hello.peer, rate: RateLimiter(perSecond: configuration.maxUpdatesPerSecond, now: now))
        let started = connections[id]!.session.start(store: store, now: now)
        await carryOut(started, for: id)
        await handle(.hello(hello), from: id)
        return id
    }

    /// Whether the connection is still open (the room may have closed it).
    func isOpen(_ id: UInt64) -> Bool { connections[id]?.isOpen ?? false }

    /// Feeds one message from a peer to its session.
    func handle(_ message: Message, from id: UInt64) async {
        guard connections[id]?.isOpen == true else { return }
        if case .updates(let batch) = message, !connections[id]!.rate.take(batch.count, now: now) {
            await close(id, reason: .limitExceeded("more than \(configuration.maxUpdatesPerSecond) updates per second"))
            return
        }
        let outputs = connections[id]!.session.handle(message, store: store, now: now)
        await carryOut(outputs, for: id)
    }

    /// Closes a connection from our side, saying why.
    func close(_ id: UInt64, reason: CloseReason) async {
        guard connections[id]?.isOpen == true else { return }
        let outputs = connections[id]!.session.close(reason)
        await carryOut(outputs, for: id)
    }

    /// Closes every session with `reason` (server shutdown).
    func closeAll(_ reason: CloseReason) async {
        for id in connections.keys { await close(id, reason: reason) }
    }

    /// The connection is gone: forget it and tell the others.
    func leave(_ id: UInt64) async {
        guard let connection = connections.removeValue(forKey: id) else { return }
        connection.outbound.finish()
        for other in connections.keys {
            let outputs = connections[other]!.session.send(presenceGone: connection.peer)
            await carryOut(outputs, for: other)
        }
    }

    // MARK: Timer

    /// Pings, throttled presence, liveness, and the stable frontier.
    func tick() async {
        let now = self.now
        for id in connections.keys {
            guard connections[id]?.isOpen == true else { continue }
            let outputs = connections[id]!.session.tick(store: store, now: now)
            await carryOut(outputs, for: id)
        }
        let acknowledged = connections.values.filter { $0.isOpen && $0.session.isOpen }.map(\.session.remoteClock)
        let frontier = StableFrontier.compute(
            acknowledged: acknowledged, authorityClock: store.clock.latest, now: now,
            graceMilliseconds: configuration.frontierGrace)
        guard frontier > store.frontier else { return }
        store.advanceFrontier(to: frontier)
        if frontier > persistedFrontier {
            try? await log.setFrontier(frontier, room: name)
            persistedFrontier = frontier
        }
        for id in connections.keys where connections[id]?.isOpen == true {
            let outputs = connections[id]!.session.announce(frontier: store.frontier, from: store, store: store)
            await carryOut(outputs, for: id)
        }
    }

    // MARK: Carrying out session outputs

    private func carryOut(_ outputs: [GossipSession<BoardReducer>.Output], for id: UInt64) async {
        for output in outputs {
            switch output {
            case .send(let message):
                send(message, to: id)
            case .applied(let updates):
                let stored = updates.map { StoredUpdate($0, encode: BoardActionCodec.encode) }
                counters.received(updates.count)
                do {
                    // Durable before the ack that follows this output goes out.
                    try await log.append(room: name, stored)
                } catch {
                    await close(id, reason: .shuttingDown)
                    return
                }
                await pumpAll(except: id)
            case .presence(let presence):
                for other in connections.keys where other != id && connections[other]?.isOpen == true {
                    let relayed = connections[other]!.session.send(presence: presence, now: now)
                    await carryOut(relayed, for: other)
                }
            case .close(let reason):
                counters.refused(CloseReasonName(reason))
                if reason != .normal {
                    configuration.logger.notice(
                        "session ended",
                        metadata: [
                            "room": "\(name)", "peer": "\(connections[id]?.peer.description ?? "?")",
                            "reason": "\(reason)",
                        ])
                }
                connections[id]?.isOpen = false
                connections[id]?.outbound.finish()
            case .presenceGone, .caughtUp, .rebased, .roundTrip, .rejectedByRemote, .belowHorizon,
                .remoteNeedsSnapshot:
                break
            }
        }
    }

    /// Rewinds and refusals of the room's replica, for metrics.
    var replicaStatistics: (rewinds: Int, rejected: [String: Int]) {
        (store.timeline.statistics.rewinds, store.counters.rejected)
    }

    private func send(_ message: Message, to id: UInt64) {
        guard let connection = connections[id], connection.isOpen else { return }
        if case .updates(let batch) = message { counters.sent(batch.count) }
        if case .dropped = connection.outbound.yield(message) {
            // A slow reader: cut it off rather than stall the room; it
            // catches up by digest when it reconnects.
            counters.refused(.slowConsumer)
            connections[id]?.isOpen = false
            connection.outbound.finish()
        }
    }

    private func pumpAll(except skipped: UInt64) async {
        for id in connections.keys where id != skipped && connections[id]?.isOpen == true {
            let outputs = connections[id]!.session.pump(from: store, store: store)
            await carryOut(outputs, for: id)
        }
    }
}
