import OrderedCollections
import Scuttlebutt

/// One session of a room.
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Unique within the room, in the order sessions joined.
    public let rawValue: UInt64

    /// The session numbered `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Earlier sessions first.
    public static func < (lhs: SessionID, rhs: SessionID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `session N`.
    @inlinable
    public var description: String { "session \(rawValue)" }
}

/// One append the room asked its driver to make durable.
public struct AppendID: Hashable, Sendable {
    /// Unique within the room.
    public let rawValue: UInt64

    @usableFromInline
    init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// The room's folded state, encoded, to be written as its restart point.
public struct RoomCheckpoint: Sendable, Hashable {
    /// The latest update folded into `state`.
    public let horizon: OrderKey
    /// What `state` covers.
    public let digest: Digest
    /// The state, encoded by ``RoomConfiguration/encodeState``.
    public let state: [UInt8]
    /// Timeline entries folded when it was taken (bookkeeping for the room).
    public let folded: Int

    @usableFromInline
    init(horizon: OrderKey, digest: Digest, state: [UInt8], folded: Int) {
        self.horizon = horizon
        self.digest = digest
        self.state = state
        self.folded = folded
    }
}

/// A gap found while loading: the log skips sequence numbers of an origin,
/// and what follows the hole is held back (served, it would be refused by
/// every replica for the same gap).
public struct LoadGap: Sendable, Hashable {
    /// The sequence number expected next.
    public let expected: UInt64
    /// The sequence number found instead.
    public let received: UInt64
    /// Updates held back.
    public var skipped: Int

    @usableFromInline
    init(expected: UInt64, received: UInt64, skipped: Int) {
        self.expected = expected
        self.received = received
        self.skipped = skipped
    }
}

/// Counts a room keeps as it goes, for metrics; they only grow.
public struct RoomStatistics: Sendable, Hashable {
    /// Updates made durable and applied.
    public var updatesReceived = 0
    /// Updates sent to peers.
    public var updatesSent = 0
    /// Snapshots sent to peers that lacked folded updates.
    public var snapshotsSent = 0

    /// Nothing counted yet.
    public init() {}
}

/// A room, decided without I/O: the authoritative replica of a board (or of
/// any ``Reducer``'s state), the ``GossipSession`` of every peer in it, and
/// what the room asks its durable log to do.
///
/// Events come in as calls (a peer joins, a message arrives, an append
/// completed, time passed, a connection ended); what the room decides comes
/// out as ``Effect``s for its driver to carry out: make these updates
/// durable, write these messages to that session, end that session, save a
/// checkpoint, save the frontier. Time is an input (`now`, in milliseconds
/// since the epoch); nothing here reads a clock, a socket or a file. The
/// server's `Room` and the simulator's server node drive this same type.
///
/// Guarantees the room keeps, whatever its driver does in between:
/// - An update is applied, acknowledged and relayed only after its append
///   completed; a failed append leaves no trace and ends its session with
///   ``CloseReason/storageUnavailable(_:)``.
/// - A session's messages are handled in order: what arrives while its
///   batch is being made durable waits for it.
/// - The frontier never passes a batch on its way to disk, nor a peer's
///   report of what it holds; a checkpoint is taken only with no append in
///   flight.
/// - Every turn's messages to a session leave in one ``Effect/write(_:_:)``
///   from ``flush()``; the goodbye of a session the room ends is written
///   before its ``Effect/finish(_:_:)``.
public struct RoomStateMachine<R: Reducer> {
    /// What travels on a link.
    public typealias Message = GossipMessage<R.Action>

    /// What the driver must do.
    public enum Effect {
        /// Make these updates durable, in one append; then call
        /// ``appendCompleted(_:now:)`` or ``appendFailed(_:reason:now:)``.
        case append(AppendID, [Update<R.Action>])
        /// Write these messages to the session's connection, in order, as
        /// one write. When the connection cannot take them (its buffer is
        /// full), call ``writeRefused(_:)``.
        case write(SessionID, [Message])
        /// The room ended the session (for `reason`) and writes nothing more
        /// to it: close its connection once the writes before are out. Call
        /// ``disconnected(_:)`` when the connection is gone.
        case finish(SessionID, CloseReason)
        /// Save this checkpoint as the room's restart point; then call
        /// ``checkpointSaved(_:)`` or ``checkpointFailed()``.
        case saveCheckpoint(RoomCheckpoint)
        /// Save the stable frontier, for a restart to fold up to.
        case saveFrontier(Timestamp)
    }

    /// A session's state. A class, so that reaching one through `entries`
    /// (dozens of times per message) neither copies it nor moves it within
    /// the dictionary's storage, as the keyed `_modify` of a struct value
    /// does; entries are never shared outside the machine.
    @usableFromInline
    final class Entry {
        @usableFromInline var session: GossipSession<R>
        @usableFromInline let peer: PeerID
        @usableFromInline var rate: RateLimiter
        /// Messages of any kind (``RoomConfiguration/messagesPerSecond``).
        @usableFromInline var messages: RateLimiter
        @usableFromInline var isOpen = true
        /// Messages for this peer since the last flush: written together.
        @usableFromInline var outbox: [Message] = []
        /// The peer's latest presence, shown to whoever joins later.
        @usableFromInline var presence: Presence?
        /// The append of this session's batch, while it is being made durable.
        @usableFromInline var appending: AppendID?
        /// What the peer sent meanwhile, handled once the append completes.
        @usableFromInline var held: [Message] = []

        @inlinable
        init(session: GossipSession<R>, peer: PeerID, rate: RateLimiter, messages: RateLimiter) {
            self.session = session
            self.peer = peer
            self.rate = rate
            self.messages = messages
        }
    }

    @usableFromInline
    struct PendingAppend {
        @usableFromInline let session: SessionID
        @usableFromInline let updates: [Update<R.Action>]
        @usableFromInline let earliest: Timestamp

        @inlinable
        init(session: SessionID, updates: [Update<R.Action>], earliest: Timestamp) {
            self.session = session
            self.updates = updates
            self.earliest = earliest
        }
    }

    /// The room's limits and behaviour.
    public let configuration: RoomConfiguration<R>
    /// The room's replica. Read it; change it only through the room.
    public let store: ReplicatedStore<R>
    /// Gaps found in the log the room was loaded from, by origin.
    public let loadGaps: [PeerID: LoadGap]
    /// Counts for metrics.
    @inlinable
    public var statistics: RoomStatistics { _statistics }
    @usableFromInline var _statistics = RoomStatistics()

    @usableFromInline let clock: ManualClock
    @usableFromInline var entries: OrderedDictionary<SessionID, Entry> = [:]
    @usableFromInline var appends: [AppendID: PendingAppend] = [:]
    @usableFromInline var nextSession: UInt64 = 1
    @usableFromInline var nextAppend: UInt64 = 1
    @usableFromInline var persistedFrontier: Timestamp
    @usableFromInline var foldedAtCheckpoint = 0
    @usableFromInline var checkpointPending = false
    /// The encoded base at the current horizon, reused by every late joiner
    /// and checkpoint until the horizon moves.
    @usableFromInline var encodedBase: (header: SnapshotHeader, state: [UInt8])?
    /// Updates entered the replica since the last flush: every session pumps.
    @usableFromInline var pumpPending = false
    @usableFromInline var effects: [Effect] = []

    /// Loads the room from what its durable log holds: the latest
    /// checkpoint (if any), the updates stored after it in total order, and
    /// the saved frontier.
    public init(
        configuration: RoomConfiguration<R>, reducer: R, initialState: R.State,
        checkpoint: ReplicaSnapshot<R.State>?, updates: some Sequence<Update<R.Action>>, frontier: Timestamp,
        now: UInt64
    ) {
        self.configuration = configuration
        var replica = configuration.replica
        replica.isAuthority = true
        replica.logRetention = .aboveHorizon
        clock = ManualClock(milliseconds: now)
        store =
            if let checkpoint {
                ReplicatedStore(
                    peer: PeerID(0), reducer: reducer, snapshot: checkpoint, configuration: replica, wallClock: clock)
            } else {
                ReplicatedStore(
                    peer: PeerID(0), reducer: reducer, initialState: initialState, configuration: replica,
                    wallClock: clock)
            }
        var gaps: [PeerID: LoadGap] = [:]
        var index = 0
        for update in updates {
            if case .rejected(.sequenceGap(let origin, let expected, let received)) = store.receive(update) {
                gaps[origin, default: LoadGap(expected: expected, received: received, skipped: 0)].skipped += 1
            }
            // The log replays in total order, so the frontier can follow it
            // (up to the saved one): history folds as it loads instead of
            // holding every entry and snapshot until the end.
            if index % 4_096 == 4_095 { store.advanceFrontier(to: min(update.timestamp, frontier)) }
            index += 1
        }
        store.advanceFrontier(to: frontier)
        persistedFrontier = frontier
        loadGaps = gaps
    }

    // MARK: Reading

    /// Sessions not ended yet (joined and not disconnected).
    @inlinable
    public var sessionCount: Int { entries.count }

    /// Whether the session is open: the room still reads from and writes to it.
    @inlinable
    public func isOpen(_ id: SessionID) -> Bool { entries[id]?.isOpen ?? false }

    /// The peer on a session.
    @inlinable
    public func peer(of id: SessionID) -> PeerID? { entries[id]?.peer }

    /// Batches sent to each peer and not yet acknowledged.
    @inlinable
    public var unacknowledgedBatches: [PeerID: Int] {
        Dictionary(entries.values.map { ($0.peer, $0.session.unacknowledgedBatches) }, uniquingKeysWith: max)
    }

    /// Appends asked for and not completed or failed yet.
    @inlinable
    public var appendsInFlight: Int { appends.count }

    /// Whether everything folded is in a saved checkpoint and nothing is on
    /// its way to disk.
    @inlinable
    public var isCheckpointed: Bool {
        appends.isEmpty && store.timeline.statistics.folded <= foldedAtCheckpoint
    }

    // MARK: Sessions

    /// A peer whose `hello` has arrived asks to join. Admitted, it gets our
    /// `hello`, what it lacks, and who is here; refused (its credentials,
    /// or a peer claiming to be a server), it gets a `goodbye` naming why.
    /// - Returns: The session's id (refused sessions are finished at once)
    ///   and the effects.
    @inlinable
    public mutating func join(_ hello: Hello, now: UInt64) -> (SessionID, [Effect]) {
        clock.set(milliseconds: now)
        let id = SessionID(rawValue: nextSession)
        nextSession += 1
        if let refusal = RoomAccess.refusal(of: hello, access: configuration.access) {
            return (id, [.write(id, [.goodbye(refusal)]), .finish(id, refusal)])
        }
        var session = configuration.session
        session.room = configuration.name
        session.role = .server
        session.bindsRemoteOrigin = true
        session.acceptsUpdates = hello.role.mayAuthor
        session.persistsBeforeApplying = true
        entries[id] = Entry(
            session: GossipSession(configuration: session, estimatedSize: configuration.estimatedSize),
            peer: hello.peer, rate: RateLimiter(perSecond: configuration.maxUpdatesPerSecond, now: now),
            messages: RateLimiter(perSecond: configuration.messagesPerSecond, now: now))
        carryOut(entries[id]!.session.start(store: store, now: now), for: id)
        handle(.hello(hello), from: id, now: now)
        // The newcomer sees who is here at once, not when they next move.
        for (other, entry) in entries where other != id && entry.isOpen {
            guard let presence = entry.presence, entries[id]?.isOpen == true else { continue }
            carryOut(entries[id]!.session.send(presence: presence, now: now), for: id)
        }
        return (id, takeEffects())
    }

    /// A message from the peer on session `id`.
    @inlinable
    public mutating func receive(_ message: Message, from id: SessionID, now: UInt64) -> [Effect] {
        guard let entry = entries[id], entry.isOpen else { return [] }
        clock.set(milliseconds: now)
        guard entry.messages.take(1, now: now) else {
            end(id, .limitExceeded("more than \(configuration.messagesPerSecond) messages per second"))
            return takeEffects()
        }
        if entry.appending != nil {
            if entry.held.count >= configuration.maxHeldMessages {
                end(id, .limitExceeded("more than \(configuration.maxHeldMessages) messages while a batch is stored"))
            } else {
                entries[id]!.held.append(message)
            }
        } else {
            handle(message, from: id, now: now)
        }
        return takeEffects()
    }

    /// Ends session `id` from the room's side, saying why (a frame that did
    /// not decode, say).
    @inlinable
    public mutating func close(_ id: SessionID, reason: CloseReason) -> [Effect] {
        end(id, reason)
        return takeEffects()
    }

    /// Ends every session with `reason` (the server is stopping).
    @inlinable
    public mutating func closeAll(_ reason: CloseReason) -> [Effect] {
        for id in entries.keys { end(id, reason) }
        return takeEffects()
    }

    /// The connection could not take a write: its reader is too slow. The
    /// session ends rather than stall the room; the peer catches up by
    /// digest when it reconnects.
    @inlinable
    public mutating func writeRefused(_ id: SessionID) -> [Effect] {
        guard entries[id]?.isOpen == true else { return [] }
        entries[id]!.isOpen = false
        entries[id]!.outbox = []
        entries[id]!.held = []
        return [.finish(id, .slowConsumer)]
    }

    /// The connection of session `id` is gone: the room forgets it and tells
    /// the others. A batch of it still on its way to disk enters the room
    /// when stored.
    @inlinable
    public mutating func disconnected(_ id: SessionID) -> [Effect] {
        guard let entry = entries.removeValue(forKey: id) else { return [] }
        for other in entries.keys where entries[other]!.isOpen {
            carryOut(entries[other]!.session.send(presenceGone: entry.peer), for: other)
        }
        return takeEffects()
    }

    // MARK: Durability

    /// The append is durable: its updates enter the room, their session
    /// acknowledges them, and what the session sent meanwhile is handled.
    @inlinable
    public mutating func appendCompleted(_ append: AppendID, now: UInt64) -> [Effect] {
        guard let pending = appends.removeValue(forKey: append) else { return [] }
        clock.set(milliseconds: now)
        _statistics.updatesReceived += pending.updates.count
        let id = pending.session
        guard entries[id]?.appending == append else {
            // The connection went meanwhile: what is durable still enters the room.
            for update in pending.updates { _ = store.receive(update, actionValidated: true) }
            pumpPending = true
            return takeEffects()
        }
        entries[id]!.appending = nil
        carryOut(entries[id]!.session.persisted(store: store, source: store), for: id)
        handleHeld(of: id, now: now)
        return takeEffects()
    }

    /// The append failed: none of it enters the room, and its session ends
    /// with ``CloseReason/storageUnavailable(_:)`` (the peer still holds the
    /// batch and offers it again when it reconnects).
    @inlinable
    public mutating func appendFailed(_ append: AppendID, reason: String, now: UInt64) -> [Effect] {
        guard let pending = appends.removeValue(forKey: append) else { return [] }
        clock.set(milliseconds: now)
        let id = pending.session
        guard entries[id]?.appending == append else { return takeEffects() }
        entries[id]!.appending = nil
        entries[id]!.held = []
        carryOut(entries[id]!.session.persistenceFailed(reason), for: id)
        return takeEffects()
    }

    // MARK: Time

    /// Time passed: pings, liveness, throttled presence; the stable frontier
    /// (saved, and announced to every peer); a checkpoint once enough was
    /// folded since the last.
    @inlinable
    public mutating func tick(now: UInt64) -> [Effect] {
        clock.set(milliseconds: now)
        for id in entries.keys where entries[id]!.isOpen {
            carryOut(entries[id]!.session.tick(store: store, now: now), for: id)
        }
        // The room records nothing itself; its clock follows time so that an
        // idle room's frontier (and history) keeps moving.
        store.advanceClock(toAtLeast: now)
        let reported = entries.values.filter { $0.isOpen && $0.session.isOpen }.map(\.session.remoteClock)
        // The frontier must not pass a batch on its way to disk: once stored,
        // it enters the replica even if its connection is gone.
        let storing = appends.values.map { Timestamp($0.earliest.rawValue - min($0.earliest.rawValue, 1)) }
        let frontier = StableFrontier.compute(
            acknowledged: reported + storing, authorityClock: store.clock.latest, now: now,
            graceMilliseconds: configuration.frontierGrace)
        if frontier > store.frontier {
            store.advanceFrontier(to: frontier)
            if frontier > persistedFrontier {
                effects.append(.saveFrontier(frontier))
                persistedFrontier = frontier
            }
            for id in entries.keys where entries[id]!.isOpen {
                carryOut(entries[id]!.session.announce(frontier: store.frontier, from: store, store: store), for: id)
            }
        }
        if store.timeline.statistics.folded - foldedAtCheckpoint >= configuration.checkpointInterval,
            let checkpoint = checkpoint()
        {
            effects.append(.saveCheckpoint(checkpoint))
        }
        return takeEffects()
    }

    /// Sends every session what its turn produced: pumps the updates that
    /// entered the room to every peer lacking them, then one
    /// ``Effect/write(_:_:)`` per session with anything to say. Call it when
    /// a burst of events has been handled (the server: once what its event
    /// loop had queued for the room has run; the simulator: after every event).
    @inlinable
    public mutating func flush() -> [Effect] {
        if pumpPending {
            pumpPending = false
            for id in entries.keys where entries[id]!.isOpen {
                carryOut(entries[id]!.session.pump(from: store, store: store), for: id)
            }
        }
        for id in entries.keys where !entries[id]!.outbox.isEmpty { deliver(id) }
        return takeEffects()
    }

    // MARK: Checkpoints

    /// The folded state to save as the room's restart point, or nil when
    /// nothing was folded since the last checkpoint, an append is on its way
    /// to disk, or a checkpoint is being saved already.
    @inlinable
    public mutating func checkpoint() -> RoomCheckpoint? {
        let folded = store.timeline.statistics.folded
        guard !checkpointPending, appends.isEmpty, folded > foldedAtCheckpoint, let base = encodeBase() else {
            return nil
        }
        checkpointPending = true
        return RoomCheckpoint(
            horizon: base.header.horizon, digest: base.header.digest, state: base.state, folded: folded)
    }

    /// The checkpoint is saved.
    @inlinable
    public mutating func checkpointSaved(_ checkpoint: RoomCheckpoint) {
        checkpointPending = false
        foldedAtCheckpoint = max(foldedAtCheckpoint, checkpoint.folded)
    }

    /// The checkpoint could not be saved; a later one will try again.
    @inlinable
    public mutating func checkpointFailed() {
        checkpointPending = false
    }

    /// Whether a checkpoint is being saved.
    @inlinable
    public var isSavingCheckpoint: Bool { checkpointPending }

    // MARK: Carrying out session outputs

    @inlinable
    mutating func takeEffects() -> [Effect] {
        defer { effects = [] }
        return effects
    }

    @inlinable
    mutating func handle(_ message: Message, from id: SessionID, now: UInt64) {
        if case .updates(let batch) = message, !entries[id]!.rate.take(batch.count, now: now) {
            end(id, .limitExceeded("more than \(configuration.maxUpdatesPerSecond) updates per second"))
            return
        }
        carryOut(entries[id]!.session.handle(message, store: store, now: now), for: id)
    }

    /// Handles what arrived while the session's batch was being stored, up
    /// to the next batch that must be stored in turn.
    @inlinable
    mutating func handleHeld(of id: SessionID, now: UInt64) {
        while let entry = entries[id], entry.isOpen, entry.appending == nil, !entry.held.isEmpty {
            let message = entries[id]!.held.removeFirst()
            handle(message, from: id, now: now)
        }
    }

    @inlinable
    mutating func end(_ id: SessionID, _ reason: CloseReason) {
        guard entries[id]?.isOpen == true else { return }
        carryOut(entries[id]!.session.close(reason), for: id)
    }

    /// Carries out a session's outputs in order, except that a snapshot the
    /// remote needs is sent after the rest: a batch the same pump built is
    /// already counted as sent, so the frontier that follows the snapshot
    /// must not overtake it (a soak of 20,000 seeds caught a peer folding
    /// past updates still behind that frontier).
    @inlinable
    mutating func carryOut(_ outputs: [GossipSession<R>.Output], for id: SessionID) {
        var needsSnapshot = false
        defer { if needsSnapshot { sendSnapshot(to: id) } }
        for output in outputs {
            switch output {
            case .send(let message):
                guard entries[id]?.isOpen == true else { continue }
                if case .updates(let batch) = message { _statistics.updatesSent += batch.count }
                entries[id]!.outbox.append(message)
            case .persist(let updates):
                let append = AppendID(rawValue: nextAppend)
                nextAppend += 1
                let earliest = updates.map(\.timestamp).min() ?? .zero
                appends[append] = PendingAppend(session: id, updates: updates, earliest: earliest)
                entries[id]?.appending = append
                effects.append(.append(append, updates))
            case .applied:
                pumpPending = true
            case .presence(let presence):
                entries[id]?.presence = presence
                for other in entries.keys where other != id && entries[other]!.isOpen {
                    carryOut(entries[other]!.session.send(presence: presence, now: clock.milliseconds()), for: other)
                }
            case .close(let reason):
                guard entries[id]?.isOpen == true else { continue }
                deliver(id)
                entries[id]!.isOpen = false
                entries[id]!.held = []
                effects.append(.finish(id, reason))
            case .remoteNeedsSnapshot:
                needsSnapshot = true
            case .presenceGone, .caughtUp, .rebased, .roundTrip, .rejectedByRemote, .belowHorizon, .snapshotReceived:
                break
            }
        }
    }

    @inlinable
    mutating func deliver(_ id: SessionID) {
        guard let outbox = entries[id]?.outbox, !outbox.isEmpty else { return }
        entries[id]!.outbox = []
        effects.append(.write(id, outbox))
    }

    /// The base at the current horizon, encoded once per horizon.
    @inlinable
    mutating func encodeBase() -> (header: SnapshotHeader, state: [UInt8])? {
        guard let horizon = store.timeline.horizon else { return nil }
        if let encodedBase, encodedBase.header.horizon == horizon { return encodedBase }
        let snapshot = store.snapshot()
        let state = configuration.encodeState(snapshot.state)
        let encoded = (SnapshotHeader(horizon: horizon, digest: snapshot.digest, byteCount: state.count), state)
        encodedBase = encoded
        return encoded
    }

    /// A peer lacks updates folded away: send it the base, then the rest.
    @inlinable
    mutating func sendSnapshot(to id: SessionID) {
        guard let base = encodeBase(), entries[id]?.isOpen == true,
            !entries[id]!.session.remoteDigest.covers(base.header.digest)
        else { return }
        _statistics.snapshotsSent += 1
        carryOut(
            entries[id]!.session.sendSnapshot(base.header, state: base.state, from: store, store: store), for: id)
    }
}
