import NIOCore
import Rooms
import Scuttlebutt
import Storage
import Whiteboard
import Wire

/// One room of the server: a ``RoomStateMachine`` of the board, run as an
/// actor on one of the server's NIO event loops, carrying out what the
/// state machine decides against the durable log and the connections.
///
/// Everything the room decides (admission, limits, durability before
/// acknowledgement, fan-out, the frontier, snapshots, checkpoints) is the
/// state machine's, which the simulator drives too; this type only executes
/// its effects: appends and checkpoints go to the ``DurableStore``, messages
/// straight to each connection (``SessionOutput``).
public actor Room {
    typealias Message = GossipMessage<BoardAction>
    typealias Machine = RoomStateMachine<BoardReducer>

    /// The room's name.
    public nonisolated let name: String
    /// The event loop the room runs on: connections on the same loop reach
    /// it, and it reaches them, without a thread hop.
    public nonisolated let eventLoop: any EventLoop
    private var machine: Machine
    private let log: any DurableStore
    /// The room's lease, when the store is shared by a cluster: every write
    /// carries its epoch, and a refused one means the room moved.
    private let fence: RoomFence?
    private let configuration: ServerConfiguration
    private let wallClock = SystemWallClock()
    private let counters: ServerCounters
    private let health: StorageHealth
    private var outputs: [SessionID: any SessionOutput] = [:]
    /// The server was told the room's lease is lost.
    private var reportedLeaseLost = false
    /// What the machine's counts were when last added to the server's.
    private var published = RoomStatistics()
    /// A flush is queued on the room's executor.
    private var flushScheduled = false
    /// The frontier waiting to be saved, and whether a save is under way
    /// (saves go one at a time, so an older one never lands last).
    private var frontierToSave: Timestamp?
    private var savingFrontier = false
    /// The checkpoint being saved, for a caller that wants to wait for it.
    private var checkpointSave: Task<Bool, Never>?
    /// Appends on their way to disk, and who waits for there to be none (a
    /// checkpoint at shutdown: a connection can end before its append).
    private var appendsInFlight = 0
    private var waitingForAppends: [CheckedContinuation<Void, Never>] = []
    /// When appends became durable whose fan-out the next flush completes
    /// (for the fan-out latency histogram).
    private var durableAwaitingFanOut: [ContinuousClock.Instant] = []

    /// Runs the room on its event loop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    /// The room rebuilt from what the durable log holds of it (`stored`,
    /// empty when new).
    init(
        name: String, stored room: StoredRoom, log: any DurableStore, fence: RoomFence? = nil,
        configuration: ServerConfiguration, counters: ServerCounters, health: StorageHealth, eventLoop: any EventLoop
    ) throws(StorageError) {
        self.name = name
        self.fence = fence
        self.counters = counters
        self.health = health
        self.log = log
        self.configuration = configuration
        self.eventLoop = eventLoop
        var checkpoint: ReplicaSnapshot<Board>?
        if let stored = room.checkpoint {
            do {
                checkpoint = ReplicaSnapshot(
                    state: try BoardSnapshotCodec.decode(stored.state), horizon: stored.horizon, digest: stored.digest)
            } catch {
                throw .failed("the checkpoint of room \"\(name)\" does not decode: \(error)")
            }
        }
        machine = Machine(
            configuration: Self.roomConfiguration(name: name, server: configuration), reducer: BoardReducer(),
            initialState: Board(), checkpoint: checkpoint,
            updates: room.updates.lazy.compactMap { $0.decoded(with: BoardActionCodec.decode) },
            frontier: room.frontier, now: wallClock.milliseconds())
        for (origin, gap) in machine.loadGaps.sorted(by: { $0.key < $1.key }) {
            counters.foundLoadGap()
            configuration.logger.error(
                "the log has a gap: serving the room without what follows it; run `scuttleboard check --db`",
                metadata: [
                    "room": "\(name)", "origin": "\(origin)", "stored up to": "#\(gap.expected - 1)",
                    "next stored": "#\(gap.received)", "updates held back": "\(gap.skipped)",
                ])
        }
        counters.publish(Self.gauges(of: machine), room: name)
    }

    /// The room's part of the server's configuration.
    static func roomConfiguration(name: String, server: ServerConfiguration) -> RoomConfiguration<BoardReducer> {
        var room = RoomConfiguration<BoardReducer>(
            name: name, replica: .board(isAuthority: true), encodeState: BoardSnapshotCodec.encode)
        room.access = server.roomAccess[name]
        room.maxUpdatesPerSecond = server.maxUpdatesPerSecond
        room.frontierGrace = server.frontierGrace
        room.checkpointInterval = server.checkpointInterval
        room.session.livenessTimeout =
            UInt64(server.livenessTimeout.components.seconds * 1_000)
            + UInt64(server.livenessTimeout.components.attoseconds / 1_000_000_000_000_000)
        room.estimatedSize = { _ in 24 }
        return room
    }

    /// What the room holds, for metrics and listings that never wait on a busy room.
    private static func gauges(of machine: Machine) -> ServerCounters.RoomGauges {
        let store = machine.store
        return ServerCounters.RoomGauges(
            sessions: machine.sessionCount, unfolded: store.timeline.count, elements: store.state.elements.count,
            rewinds: store.timeline.statistics.rewinds, rejected: store.counters.rejected)
    }

    /// The board as the room holds it.
    public var board: Board { machine.store.state }

    /// What the room holds.
    public var digest: Digest { machine.store.digest }

    /// The latest update folded into the room's base; what lies at or below
    /// it is served to peers as a snapshot, not one update at a time.
    public var horizon: OrderKey? { machine.store.timeline.horizon }

    /// Updates held above the horizon, not folded yet.
    public var unfoldedCount: Int { machine.store.timeline.count }

    /// Sessions currently open.
    public var sessionCount: Int { machine.sessionCount }

    /// Batches sent to each peer and not yet acknowledged: bounded by the
    /// session window, whatever the peer does.
    public var unacknowledgedBatches: [PeerID: Int] { machine.unacknowledgedBatches }

    private var now: UInt64 { wallClock.milliseconds() }

    // MARK: Sessions

    /// A peer whose `hello` has arrived joins (or is refused, by the room's
    /// access rules: its `goodbye` then goes out through `output`). The
    /// server has checked the protocol version and its own limits; in-process
    /// peers (benchmarks, `swarm --in-process`) join directly.
    /// - Returns: The session's id in this room.
    public func join(hello: Hello, output: some SessionOutput) -> SessionID {
        let (id, effects) = machine.join(hello, now: now)
        outputs[id] = output
        perform(effects)
        scheduleFlush()
        return id
    }

    /// Feeds messages from a peer to the room, in order; what comes after
    /// the room ended the session is dropped.
    public func handle(_ messages: [GossipMessage<BoardAction>], from id: SessionID) {
        let now = now
        for message in messages {
            guard machine.isOpen(id) else { break }
            perform(machine.receive(message, from: id, now: now))
        }
        scheduleFlush()
    }

    /// Ends a session from our side, saying why.
    public func close(_ id: SessionID, reason: CloseReason) {
        perform(machine.close(id, reason: reason))
    }

    /// Ends every session with `reason` (server shutdown).
    func closeAll(_ reason: CloseReason) {
        perform(machine.closeAll(reason))
    }

    /// Ends every session with a redirect to `node`, each at the address
    /// of its own transport (the room moved, or this node is draining).
    func closeAll(redirectingTo node: ClusterNode) {
        for (id, output) in outputs {
            perform(machine.close(id, reason: .redirect(node: node.name, address: output.address(of: node))))
        }
    }

    /// The lease epoch the room is held at, when it is one of a cluster's.
    public nonisolated var epoch: UInt64? { fence?.epoch }

    /// The connection is gone: forget it and tell the others.
    public func leave(_ id: SessionID) {
        outputs.removeValue(forKey: id)?.finish()
        perform(machine.disconnected(id))
        scheduleFlush()
    }

    // MARK: Timer

    /// Pings, throttled presence, liveness, the stable frontier, and a
    /// checkpoint when due.
    func tick() {
        counters.publish(Self.gauges(of: machine), room: name)
        perform(machine.tick(now: now))
        scheduleFlush()
    }

    // MARK: Checkpoints

    /// Writes the folded state to the durable log as the room's restart
    /// point, if anything was folded since the last one and no append is
    /// still on its way to disk.
    /// Waits first for the appends still on their way to disk.
    /// - Returns: Whether the room's state is checkpointed (or has nothing
    ///   new to checkpoint); false when the store failed.
    @discardableResult
    public func checkpoint() async -> Bool {
        if appendsInFlight > 0 {
            await withCheckedContinuation { waitingForAppends.append($0) }
        }
        if let checkpointSave { _ = await checkpointSave.value }
        guard let checkpoint = machine.checkpoint() else { return machine.isCheckpointed }
        return await save(checkpoint).value
    }

    /// Saves a checkpoint the machine asked for, in a task a caller of
    /// ``checkpoint()`` can wait on.
    private func save(_ checkpoint: RoomCheckpoint) -> Task<Bool, Never> {
        let task = Task { () -> Bool in
            defer { checkpointSave = nil }
            if let fault = health.fault {
                machine.checkpointFailed()
                configuration.logger.error(
                    "checkpoint skipped: the database does not take writes",
                    metadata: ["room": "\(name)", "error": "\(fault)"])
                return false
            }
            do throws(StorageError) {
                let stored = StoredCheckpoint(
                    horizon: checkpoint.horizon, digest: checkpoint.digest, state: checkpoint.state)
                if let fence {
                    try await fence.store.saveCheckpoint(stored, room: name, epoch: fence.epoch)
                } else {
                    try await log.saveCheckpoint(stored, room: name)
                }
                machine.checkpointSaved(checkpoint)
                counters.checkpointed()
                return true
            } catch {
                machine.checkpointFailed()
                if case .fenced = error {
                    leaseLost(error)
                    return false
                }
                counters.storageFailed()
                _ = health.markFailed(error)
                configuration.logger.error("checkpoint failed", metadata: ["room": "\(name)", "error": "\(error)"])
                return false
            }
        }
        checkpointSave = task
        return task
    }

    // MARK: Carrying out effects

    private func perform(_ effects: [Machine.Effect]) {
        for effect in effects {
            switch effect {
            case .write(let id, let messages):
                guard let output = outputs[id] else { continue }
                if !output.send(messages) { perform(machine.writeRefused(id)) }
            case .finish(let id, let reason):
                counters.refused(CloseReasonName(reason))
                if reason != .normal {
                    configuration.logger.notice(
                        "session ended",
                        metadata: [
                            "room": "\(name)", "peer": "\(machine.peer(of: id)?.description ?? "?")",
                            "reason": "\(reason)",
                        ])
                }
                outputs.removeValue(forKey: id)?.finish()
            case .append(let append, let updates):
                if let fault = health.fault {
                    perform(machine.appendFailed(append, reason: fault.description, now: now))
                } else {
                    store(updates, as: append)
                }
            case .saveCheckpoint(let checkpoint):
                _ = save(checkpoint)
            case .saveFrontier(let frontier):
                saveFrontier(frontier)
            }
        }
        publishStatistics()
    }

    /// Appends to the durable log, then tells the machine how it went. When
    /// the log cannot take the batch, the server stops taking writes until
    /// it works again.
    private func store(_ updates: [Update<BoardAction>], as append: AppendID) {
        let stored = updates.map { StoredUpdate($0, encode: BoardActionCodec.encode) }
        appendsInFlight += 1
        let loop = eventLoop
        let started = ContinuousClock.now
        // The log calls back on its writer's queue; one hop brings the
        // result to the room's event loop, with no task in between.
        let finished: @Sendable (Result<Void, StorageError>) -> Void = { result in
            loop.execute { self.assumeIsolated { $0.appendFinished(append, result, startedAt: started) } }
        }
        if let fence {
            fence.store.append(room: name, stored, epoch: fence.epoch, completion: finished)
        } else {
            log.append(room: name, stored, completion: finished)
        }
    }

    /// Tells the machine how an append went.
    private func appendFinished(
        _ append: AppendID, _ result: Result<Void, StorageError>, startedAt started: ContinuousClock.Instant
    ) {
        switch result {
        case .success:
            let durable = ContinuousClock.now
            counters.instruments.appendDuration.record(durable - started)
            durableAwaitingFanOut.append(durable)
            perform(machine.appendCompleted(append, now: now))
        case .failure(let error):
            if case .fenced = error {
                leaseLost(error)
                perform(machine.appendFailed(append, reason: error.description, now: now))
                break
            }
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
            perform(machine.appendFailed(append, reason: error.description, now: now))
        }
        scheduleFlush()
        appendsInFlight -= 1
        if appendsInFlight == 0 {
            for waiter in waitingForAppends { waiter.resume() }
            waitingForAppends = []
        }
    }

    /// A write was refused by epoch: another node holds the room now. The
    /// server is told once (it unloads the room and sends its sessions on).
    private func leaseLost(_ error: StorageError) {
        counters.fencedWrite()
        guard !reportedLeaseLost, let fence else { return }
        reportedLeaseLost = true
        configuration.logger.warning(
            "the room moved to another node: a write was refused by its lease epoch",
            metadata: ["room": "\(name)", "epoch": "\(fence.epoch)", "error": "\(error)"])
        fence.lost(name)
    }

    /// Saves the latest frontier, one save at a time.
    private func saveFrontier(_ frontier: Timestamp) {
        frontierToSave = frontier
        guard !savingFrontier else { return }
        savingFrontier = true
        Task {
            while let frontier = frontierToSave {
                frontierToSave = nil
                if let fence {
                    do throws(StorageError) {
                        try await fence.store.setFrontier(frontier, room: name, epoch: fence.epoch)
                    } catch {
                        if case .fenced = error { leaseLost(error) }
                    }
                } else {
                    try? await log.setFrontier(frontier, room: name)
                }
            }
            savingFrontier = false
        }
    }

    /// Adds what the machine counted since last time to the server's counters.
    private func publishStatistics() {
        let current = machine.statistics
        guard current != published else { return }
        counters.received(current.updatesReceived - published.updatesReceived)
        counters.sent(current.updatesSent - published.updatesSent)
        for _ in published.snapshotsSent..<current.snapshotsSent { counters.sentSnapshot() }
        published = current
    }

    // MARK: Coalesced fan-out

    /// Queues one flush behind whatever the room's event loop has queued
    /// already, so a burst of incoming batches is fanned out once, in one
    /// write per session.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { self.assumeIsolated { $0.flush() } }
    }

    private func flush() {
        flushScheduled = false
        perform(machine.flush())
        guard !durableAwaitingFanOut.isEmpty else { return }
        let fannedOut = ContinuousClock.now
        for durable in durableAwaitingFanOut {
            counters.instruments.fanOutDuration.record(fannedOut - durable)
        }
        durableAwaitingFanOut = []
    }
}

/// A room's lease in a cluster: the shared store, the epoch every write
/// carries, and whom to tell when a write is refused by it.
struct RoomFence: Sendable {
    let store: any LeaseStore
    let epoch: UInt64
    /// Called once, with the room's name, when the store refused a write
    /// by epoch.
    let lost: @Sendable (String) -> Void
}
