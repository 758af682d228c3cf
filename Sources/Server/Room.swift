import Scuttlebutt
import Storage
import Whiteboard
import Wire

/// One room: the authoritative replica of a board, its sessions, and its
/// share of the durable log. An actor on its own serial Dispatch queue.
///
/// The room drives one ``GossipSession`` per connection and carries out what
/// the sessions return. Updates a peer sends are checked, written to the
/// durable log, and only then applied to the room's replica and
/// acknowledged: nothing the log does not hold is ever relayed, advertised
/// in a digest or folded into a checkpoint, and an update that could not be
/// stored leaves no trace.
public actor Room {
    typealias Message = GossipMessage<BoardAction>

    struct Connection {
        var session: GossipSession<BoardReducer>
        let outbound: AsyncStream<[Message]>.Continuation
        let peer: PeerID
        var rate: RateLimiter
        var isOpen = true
        /// Messages for this peer since the last flush: written together.
        var outbox: [Message] = []
        /// The peer's latest presence, shown to whoever joins later.
        var presence: Presence?
    }

    /// The room's name.
    public nonisolated let name: String
    nonisolated let executor: DispatchQueueExecutor
    private let store: ReplicatedStore<BoardReducer>
    private let log: DurableLog
    private let configuration: ServerConfiguration
    private let wallClock = SystemWallClock()
    private let counters: ServerCounters
    private let health: StorageHealth
    private var connections: [UInt64: Connection] = [:]
    /// The earliest stamp of each batch being made durable, by connection.
    private var persisting: [UInt64: Timestamp] = [:]
    private var nextConnection: UInt64 = 1
    private var persistedFrontier = Timestamp.zero
    /// Appends awaiting durability: a checkpoint waits for none, so that it
    /// never folds an update the log does not hold yet.
    private var appendsInFlight = 0
    /// Timeline entries folded (since the room loaded) when the last
    /// checkpoint was taken: a room that folded much while it loaded writes
    /// a checkpoint at its first tick.
    private var foldedAtCheckpoint = 0
    /// The encoded base at the current horizon, reused by every late joiner
    /// and checkpoint until the horizon moves.
    private var encodedBase: (header: SnapshotHeader, state: [UInt8])?
    /// A flush is queued on the room's executor.
    private var flushScheduled = false
    /// Updates arrived since the last flush: every session must pump.
    private var pumpPending = false

    /// Runs the room on its own queue.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Loads the room from the durable log (empty when new).
    init(
        name: String, log: DurableLog, configuration: ServerConfiguration, counters: ServerCounters,
        health: StorageHealth
    ) throws(StorageError) {
        self.name = name
        self.counters = counters
        self.health = health
        self.log = log
        self.configuration = configuration
        executor = DispatchQueueExecutor(label: "scuttleboard.room.\(name)")
        var replica = ReplicaConfiguration.board(isAuthority: true)
        // What the timeline folds is served from the snapshot (late joiners)
        // and the durable log (history), not from memory.
        replica.logRetention = .aboveHorizon
        let room = try log.load(room: name)
        if let checkpoint = room.checkpoint {
            let board: Board
            do {
                board = try BoardSnapshotCodec.decode(checkpoint.state)
            } catch {
                throw .failed("the checkpoint of room \"\(name)\" does not decode: \(error)")
            }
            store = ReplicatedStore(
                peer: PeerID(0), reducer: BoardReducer(),
                snapshot: ReplicaSnapshot(state: board, horizon: checkpoint.horizon, digest: checkpoint.digest),
                configuration: replica, wallClock: SystemWallClock())
        } else {
            store = ReplicatedStore(
                peer: PeerID(0), reducer: BoardReducer(), initialState: Board(), configuration: replica,
                wallClock: SystemWallClock())
        }
        var gaps: [PeerID: (expected: UInt64, received: UInt64, skipped: Int)] = [:]
        for (index, stored) in room.updates.enumerated() {
            guard let update = stored.decoded(with: BoardActionCodec.decode) else { continue }
            if case .rejected(.sequenceGap(let origin, let expected, let received)) = store.receive(update) {
                gaps[origin, default: (expected, received, 0)].skipped += 1
            }
            // The log replays in total order, so the frontier can follow it
            // (up to the persisted one): history folds as it loads instead
            // of holding every entry and snapshot until the end.
            if index % 4_096 == 4_095 { store.advanceFrontier(to: min(update.timestamp, room.frontier)) }
        }
        store.advanceFrontier(to: room.frontier)
        persistedFrontier = room.frontier
        for (origin, gap) in gaps.sorted(by: { $0.key < $1.key }) {
            // Everything of the origin after the hole is held back: served,
            // it would be refused by every replica for the same gap.
            counters.foundLoadGap()
            configuration.logger.error(
                "the log has a gap: serving the room without what follows it; run `scuttleboard check --db`",
                metadata: [
                    "room": "\(name)", "origin": "\(origin)", "stored up to": "#\(gap.expected - 1)",
                    "next stored": "#\(gap.received)", "updates held back": "\(gap.skipped)",
                ])
        }
        counters.publish(Self.gauges(of: store), room: name)
    }

    /// What `store` holds, for metrics that never wait on a busy room.
    private static func gauges(of store: ReplicatedStore<BoardReducer>) -> ServerCounters.RoomGauges {
        ServerCounters.RoomGauges(
            unfolded: store.timeline.count, elements: store.state.elements.count,
            rewinds: store.timeline.statistics.rewinds, rejected: store.counters.rejected)
    }

    /// The board as the room holds it.
    public var board: Board { store.state }

    /// What the room holds.
    public var digest: Digest { store.digest }

    /// The latest update folded into the room's base; what lies at or below
    /// it is served to peers as a snapshot, not one update at a time.
    public var horizon: OrderKey? { store.timeline.horizon }

    /// Updates held above the horizon, not folded yet.
    public var unfoldedCount: Int { store.timeline.count }

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
    /// go out through `outbound`. The caller has checked the peer's
    /// credentials (the server does, before it calls this); in-process peers
    /// (benchmarks, `swarm --in-process`) join directly.
    /// - Returns: The connection's id in this room.
    public func join(hello: Hello, outbound: AsyncStream<[GossipMessage<BoardAction>]>.Continuation) async -> UInt64 {
        var session = GossipSessionConfiguration(name: "scuttleboard", room: name, role: .server)
        session.bindsRemoteOrigin = true
        session.acceptsUpdates = hello.role.mayAuthor
        session.persistsBeforeApplying = true
        let id = nextConnection
        nextConnection += 1
        connections[id] = Connection(
            session: GossipSession(configuration: session, estimatedSize: { _ in 24 }), outbound: outbound,
            peer: hello.peer, rate: RateLimiter(perSecond: configuration.maxUpdatesPerSecond, now: now))
        let started = connections[id]!.session.start(store: store, now: now)
        await carryOut(started, for: id)
        await handle(.hello(hello), from: id)
        // The newcomer sees who is here at once, not when they next move.
        for (other, connection) in connections where other != id && connection.isOpen {
            guard let presence = connection.presence, connections[id]?.isOpen == true else { continue }
            let outputs = connections[id]!.session.send(presence: presence, now: now)
            await carryOut(outputs, for: id)
        }
        return id
    }

    /// Whether the connection is still open (the room may have closed it).
    public func isOpen(_ id: UInt64) -> Bool { connections[id]?.isOpen ?? false }

    /// Feeds one message from a peer to its session.
    public func handle(_ message: GossipMessage<BoardAction>, from id: UInt64) async {
        guard connections[id]?.isOpen == true else { return }
        if case .updates(let batch) = message, !connections[id]!.rate.take(batch.count, now: now) {
            await close(id, reason: .limitExceeded("more than \(configuration.maxUpdatesPerSecond) updates per second"))
            return
        }
        let outputs = connections[id]!.session.handle(message, store: store, now: now)
        await carryOut(outputs, for: id)
    }

    /// Closes a connection from our side, saying why.
    public func close(_ id: UInt64, reason: CloseReason) async {
        guard connections[id]?.isOpen == true else { return }
        let outputs = connections[id]!.session.close(reason)
        await carryOut(outputs, for: id)
    }

    /// Closes every session with `reason` (server shutdown).
    func closeAll(_ reason: CloseReason) async {
        for id in connections.keys { await close(id, reason: reason) }
    }

    /// The connection is gone: forget it and tell the others.
    public func leave(_ id: UInt64) async {
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
        counters.publish(Self.gauges(of: store), room: name)
        for id in connections.keys {
            guard connections[id]?.isOpen == true else { continue }
            let outputs = connections[id]!.session.tick(store: store, now: now)
            await carryOut(outputs, for: id)
        }
        // The room records nothing itself; its clock follows real time so
        // that an idle room's frontier (and history) keeps moving.
        store.advanceClock(toAtLeast: now)
        let acknowledged =
            connections.values.filter { $0.isOpen && $0.session.isOpen }.map(\.session.remoteClock)
            + persisting.values.map { Timestamp($0.rawValue - min($0.rawValue, 1)) }
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
        if health.fault == nil,
            store.timeline.statistics.folded - foldedAtCheckpoint >= configuration.checkpointInterval
        {
            await checkpoint()
        }
    }

    // MARK: Checkpoints and snapshots

    /// Writes the folded state to the durable log as the room's restart
    /// point, if anything was folded since the last one and no append is
    /// still on its way to disk.
    /// - Returns: Whether the room's state is checkpointed (or has nothing
    ///   new to checkpoint); false when the store failed.
    @discardableResult
    public func checkpoint() async -> Bool {
        guard appendsInFlight == 0, store.timeline.statistics.folded > foldedAtCheckpoint,
            let base = encodeBase()
        else { return appendsInFlight == 0 }
        if let fault = health.fault {
            configuration.logger.error(
                "checkpoint skipped: the database does not take writes",
                metadata: ["room": "\(name)", "error": "\(fault)"])
            return false
        }
        do {
            try await log.saveCheckpoint(
                StoredCheckpoint(horizon: base.header.horizon, digest: base.header.digest, state: base.state),
                room: name)
            foldedAtCheckpoint = store.timeline.statistics.folded
            counters.checkpointed()
            return true
        } catch {
            counters.storageFailed()
            _ = health.markFailed(error)
            configuration.logger.error("checkpoint failed", metadata: ["room": "\(name)", "error": "\(error)"])
            return false
        }
    }

    /// The base at the current horizon, encoded once per horizon.
    private func encodeBase() -> (header: SnapshotHeader, state: [UInt8])? {
        guard let horizon = store.timeline.horizon else { return nil }
        if let encodedBase, encodedBase.header.horizon == horizon { return encodedBase }
        let snapshot = store.snapshot()
        let state = BoardSnapshotCodec.encode(snapshot.state)
        let encoded = (SnapshotHeader(horizon: horizon, digest: snapshot.digest, byteCount: state.count), state)
        encodedBase = encoded
        return encoded
    }

    /// A peer lacks updates folded away: send it the base, then the rest.
    private func sendSnapshot(to id: UInt64) async {
        guard let base = encodeBase(), connections[id]?.isOpen == true,
            !connections[id]!.session.remoteDigest.covers(base.header.digest)
        else { return }
        counters.sentSnapshot()
        let outputs = connections[id]!.session.sendSnapshot(
            base.header, state: base.state, from: store, store: store)
        await carryOut(outputs, for: id)
    }

    // MARK: Carrying out session outputs

    /// Carries out a session's outputs.
    ///
    /// Messages go to the outbox at once, in the order the session produced
    /// them, except acknowledgements of received batches, which wait until
    /// those updates are durable. The wait is a suspension: another turn of
    /// the room (a flush, a tick) may pump the same session meanwhile, and
    /// its later batches must not overtake earlier ones (a swarm caught
    /// peers receiving seq N+1 before N).
    private func carryOut(_ outputs: [GossipSession<BoardReducer>.Output], for id: UInt64) async {
        var deferred: [GossipSession<BoardReducer>.Output] = []
        for output in outputs {
            if case .send(let message) = output, !Self.acknowledgesBatches(message) {
                send(message, to: id)
            } else {
                deferred.append(output)
            }
        }
        for output in deferred {
            switch output {
            case .send(let message):
                send(message, to: id)
            case .persist(let updates):
                await persist(updates, from: id)
            case .applied:
                // Durable already: the other sessions may pump them now.
                pumpPending = true
                scheduleFlush()
            case .presence(let presence):
                connections[id]?.presence = presence
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
                deliver(id)
                connections[id]?.isOpen = false
                connections[id]?.outbound.finish()
            case .remoteNeedsSnapshot:
                await sendSnapshot(to: id)
            case .presenceGone, .caughtUp, .rebased, .roundTrip, .rejectedByRemote, .belowHorizon,
                .snapshotReceived:
                break
            }
        }
    }

    /// Makes a checked batch durable, then lets its session apply and
    /// acknowledge it. When the log cannot take it, nothing of it enters
    /// the room, the session ends with ``CloseReason/storageUnavailable(_:)``
    /// and the server stops taking writes until the log works again.
    private func persist(_ updates: [Update<BoardAction>], from id: UInt64) async {
        let failure: StorageError?
        if let fault = health.fault {
            failure = fault
        } else {
            appendsInFlight += 1
            // The frontier must not pass a batch on its way to disk: once
            // stored, it enters the replica even if its connection is gone.
            if let earliest = updates.map(\.timestamp).min() { persisting[id] = earliest }
            defer { persisting[id] = nil }
            do {
                try await log.append(room: name, updates.map { StoredUpdate($0, encode: BoardActionCodec.encode) })
                failure = nil
            } catch {
                failure = error
                counters.storageFailed()
                if case .gap = error {
                    // The replica and the log disagree about this origin: a
                    // fault of this room's bookkeeping, not of the store.
                    configuration.logger.error(
                        "refused to store a batch that would leave a gap",
                        metadata: ["room": "\(name)", "error": "\(error)"])
                } else if health.markFailed(error) {
                    configuration.logger.error(
                        "cannot store updates; refusing writes until the database works again",
                        metadata: ["room": "\(name)", "error": "\(error)"])
                }
            }
            appendsInFlight -= 1
        }
        guard connections[id] != nil else {
            // The connection went meanwhile: what is durable still enters the room.
            if failure == nil { applyDurable(updates) }
            return
        }
        let outputs =
            if let failure {
                connections[id]!.session.persistenceFailed(failure.description)
            } else {
                connections[id]!.session.persisted(store: store, source: store)
            }
        if failure == nil { counters.received(updates.count) }
        await carryOut(outputs, for: id)
    }

    /// Applies durable updates whose session is gone.
    private func applyDurable(_ updates: [Update<BoardAction>]) {
        counters.received(updates.count)
        for update in updates { _ = store.receive(update) }
        pumpPending = true
        scheduleFlush()
    }

    private func send(_ message: Message, to id: UInt64) {
        guard connections[id]?.isOpen == true else { return }
        if case .updates(let batch) = message { counters.sent(batch.count) }
        connections[id]!.outbox.append(message)
        scheduleFlush()
    }

    private static func acknowledgesBatches(_ message: Message) -> Bool {
        if case .ack(let batches, _) = message { batches > 0 } else { false }
    }

    // MARK: Coalesced fan-out

    /// Queues one flush behind whatever the room has queued already, so a
    /// burst of incoming batches is fanned out once, in one write per
    /// session.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { await self.flush() }
    }

    /// Pumps every session if updates arrived, then hands each session's
    /// outbox to its connection as one write.
    private func flush() async {
        flushScheduled = false
        if pumpPending {
            pumpPending = false
            for id in connections.keys where connections[id]?.isOpen == true {
                let outputs = connections[id]!.session.pump(from: store, store: store)
                await carryOut(outputs, for: id)
            }
        }
        for id in connections.keys { deliver(id) }
    }

    /// Writes the session's outbox. A reader that lets its buffer fill is cut
    /// off rather than stall the room; it catches up by digest when it
    /// reconnects.
    private func deliver(_ id: UInt64) {
        guard let connection = connections[id], !connection.outbox.isEmpty else { return }
        connections[id]!.outbox = []
        guard connection.isOpen else { return }
        if case .dropped = connection.outbound.yield(connection.outbox) {
            counters.refused(.slowConsumer)
            connections[id]?.isOpen = false
            connection.outbound.finish()
        }
    }
}
