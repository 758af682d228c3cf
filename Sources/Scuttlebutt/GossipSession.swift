import DequeModule

/// The knobs of one ``GossipSession``.
public struct GossipSessionConfiguration: Sendable, Hashable {
    /// The protocol version this side speaks; the remote must speak the same.
    public var protocolVersion: UInt16 = 1
    /// Display name sent in hello.
    public var name: String
    /// Room sent in hello.
    public var room: String
    /// What this side is to the room.
    public var role: PeerRole
    /// Token sent in hello.
    public var credentials: String?
    /// At most this many updates per batch.
    public var maxBatchUpdates = 512
    /// At most about this many bytes per batch (by the size estimate).
    public var maxBatchBytes = 64 * 1024
    /// At most this many batches sent and not yet acknowledged.
    public var window = 4
    /// Whether this side sends updates (false: the remote only gets hello,
    /// presence and control messages — one-way replication).
    public var sendsUpdates = true
    /// Whether this side accepts updates from the remote.
    public var acceptsUpdates = true
    /// Whether the remote may author only its own origin: another origin's
    /// update is refused (``UpdateRejection/notAuthor(_:)``). On by default
    /// for the ``PeerRole/server`` role, so a server is secure unless it
    /// says otherwise.
    public var bindsRemoteOrigin: Bool
    /// Whether the remote is the room's authority (set on a client's side of
    /// its link to the server): its frontier, acks and refusals then count.
    public var remoteIsAuthority = false
    /// Whether updates from the remote are made durable before they enter
    /// the store (set by an authority with a durable log): a received batch
    /// is only checked, and handed out as ``Output/persist(_:)``; the owner
    /// then calls ``persisted(store:source:)`` or ``persistenceFailed(_:)``.
    /// Nothing unstored is then ever applied, relayed, advertised or folded.
    public var persistsBeforeApplying = false
    /// Milliseconds between pings.
    public var pingInterval: UInt64 = 5_000
    /// Milliseconds of silence after which the remote is considered gone.
    public var livenessTimeout: UInt64 = 20_000
    /// Milliseconds between clock reports (`ack` of zero batches) while idle.
    public var clockReportInterval: UInt64 = 1_000
    /// Minimum milliseconds between presence messages for one origin.
    public var presenceInterval: UInt64 = 33
    /// The largest state snapshot accepted from the remote, in bytes.
    public var maxSnapshotBytes = 256 << 20
    /// Snapshot bytes per `snapshotChunk` message.
    public var snapshotChunkBytes = 32 * 1024

    /// A configuration with defaults for everything but identity.
    public init(name: String, room: String, role: PeerRole) {
        self.name = name
        self.room = room
        self.role = role
        bindsRemoteOrigin = role == .server
    }
}

/// One side of one gossip link, as a sans-IO state machine (docs/ARCHITECTURE.md, "Gossip protocol details").
///
/// It never touches a socket or a clock: the owner feeds it decoded messages,
/// local changes and timer ticks, and carries out the ``Output``s it returns
/// (send a message, persist and fan out applied updates, close). The same
/// code runs in the deterministic simulator and in the real server.
///
/// The link: `hello` both ways; each side then sends what the other's digest
/// lacks, origins furthest behind first (scuttle-depth), in batches bounded in
/// count and bytes, with at most ``GossipSessionConfiguration/window`` batches
/// unacknowledged; then `synced`; then the live tail, through the same path.
/// The remote's digest advances on send and on receive, so nothing echoes.
public struct GossipSession<R: Reducer> {
    /// Where the session is in its life.
    public enum Phase: Sendable, Hashable {
        /// Created; `start` not called.
        case idle
        /// Our hello is sent; the remote's has not arrived.
        case awaitingHello
        /// Both hellos exchanged; syncing or live.
        case open
        /// Finished; nothing more is sent or accepted.
        case closed(CloseReason)
    }

    /// What the owner must do.
    public enum Output {
        /// Write this message to the link.
        case send(GossipMessage<R.Action>)
        /// These remote updates entered the store: persist them and let the
        /// other sessions pump. Any `ack` returned with them must be sent
        /// only once they are durable. (With ``GossipSessionConfiguration/persistsBeforeApplying``
        /// they are durable already.)
        case applied([Update<R.Action>])
        /// These remote updates passed every check and have not entered the
        /// store: make them durable, then call ``persisted(store:source:)``
        /// (or ``persistenceFailed(_:)``). Only with
        /// ``GossipSessionConfiguration/persistsBeforeApplying``.
        case persist([Update<R.Action>])
        /// The remote has sent everything we lacked: we are live.
        case caughtUp
        /// The authority refused own updates as stale; the store re-stamped
        /// them and the session will resend them.
        case rebased([Update<R.Action>])
        /// Someone's presence changed.
        case presence(Presence)
        /// Someone left; forget their presence.
        case presenceGone(PeerID)
        /// A ping came back after this many milliseconds.
        case roundTrip(milliseconds: UInt64)
        /// The remote refused one of our updates.
        case rejectedByRemote(UpdateRejection)
        /// An update landed below our horizon: rebuild or fetch a snapshot.
        case belowHorizon(Update<R.Action>)
        /// The remote asked for updates we no longer hold: it needs a snapshot.
        case remoteNeedsSnapshot(PeerID)
        /// The authority sent its folded state: decode it and pass it to
        /// ``installSnapshot(_:store:source:)``.
        case snapshotReceived(SnapshotHeader, [UInt8])
        /// The session is over; close the link.
        case close(CloseReason)

        /// The message to write, when this output is a `send`.
        public var message: GossipMessage<R.Action>? {
            if case .send(let message) = self { message } else { nil }
        }
    }

    /// This side's settings.
    public let configuration: GossipSessionConfiguration
    /// Where the session is.
    public var phase: Phase { _phase }
    @usableFromInline var _phase: Phase = Phase.idle
    /// The remote's hello, once received.
    public var remote: Hello? { _remote }
    @usableFromInline var _remote: Hello?
    /// What we believe the remote holds; advanced on send and on receive.
    public var remoteDigest: Digest { _remoteDigest }
    @usableFromInline var _remoteDigest: Digest = Digest()
    /// The remote's latest acknowledged clock (input to the frontier).
    public var remoteClock: Timestamp { _remoteClock }
    @usableFromInline var _remoteClock: Timestamp = Timestamp.zero
    /// Whether we told the remote it has everything.
    public var hasSentSynced: Bool { _hasSentSynced }
    @usableFromInline var _hasSentSynced: Bool = false
    /// Whether the remote told us we have everything.
    public var isCaughtUp: Bool { _isCaughtUp }
    @usableFromInline var _isCaughtUp: Bool = false
    /// Batches sent and not yet acknowledged.
    @inlinable
    public var unacknowledgedBatches: Int { inFlight.count }

    @usableFromInline let estimatedSize: (Update<R.Action>) -> Int
    /// For each unacknowledged batch, the highest own seq it carried (0: none).
    @usableFromInline var inFlight: Deque<UInt64> = []
    @usableFromInline var pendingFrontier: Timestamp?
    @usableFromInline var announcedFrontier = Timestamp.zero
    @usableFromInline var pendingPresence: [PeerID: Presence] = [:]
    @usableFromInline var presenceSentAt: [PeerID: UInt64] = [:]
    @usableFromInline var lastHeard: UInt64 = 0
    @usableFromInline var lastPingSent: UInt64 = 0
    @usableFromInline var lastClockReport: UInt64 = 0
    @usableFromInline var lastReportedClock = Timestamp.zero
    @usableFromInline var nextPingNonce: UInt64 = 1
    @usableFromInline var pingsInFlight: [UInt64: UInt64] = [:]
    @usableFromInline var incomingSnapshot: (header: SnapshotHeader, bytes: [UInt8])?
    /// A checked batch waiting to be made durable.
    @usableFromInline var awaitingDurability: [Update<R.Action>]?
    /// Origins whose updates the remote authority will not take from us
    /// (``UpdateRejection/notAuthor(_:)``): never offered again on this link.
    @usableFromInline var declinedByRemote: Set<PeerID> = []
    /// The last of the remote's own updates that it may lack (it lost them,
    /// and we held them at its hello); its later ones are never sent back.
    @usableFromInline var remoteOwnLackedThrough: UInt64 = 0
    /// Origins whose updates the remote offered us though it is not their
    /// author: refused once each.
    @usableFromInline var refusedFromRemote: Set<PeerID> = []

    /// A session that has not started.
    /// - Parameters:
    ///   - configuration: Identity, batching, roles.
    ///   - estimatedSize: Bytes an update takes on the wire, for batch
    ///     budgets; the wire codec's exact size is best.
    public init(
        configuration: GossipSessionConfiguration,
        estimatedSize: @escaping (Update<R.Action>) -> Int = { _ in 32 }
    ) {
        self.configuration = configuration
        self.estimatedSize = estimatedSize
    }

    /// Whether the session is open.
    @inlinable
    public var isOpen: Bool { _phase == .open }

    /// Sends our hello.
    @inlinable
    public mutating func start(store: ReplicatedStore<R>, now: UInt64) -> [Output] {
        guard _phase == .idle else { return [] }
        _phase = .awaitingHello
        lastHeard = now
        lastPingSent = now
        let hello = Hello(
            protocolVersion: configuration.protocolVersion, peer: store.peer, name: configuration.name,
            room: configuration.room, role: configuration.role, credentials: configuration.credentials,
            digest: store.digest, clock: reportableClock(store, ownSentThrough: store.confirmedOwnSeq))
        return [.send(.hello(hello))]
    }

    /// Handles a message from the remote, sending from the store itself.
    @inlinable
    public mutating func handle(
        _ message: GossipMessage<R.Action>, store: ReplicatedStore<R>, now: UInt64
    ) -> [Output] {
        handle(message, store: store, source: store, now: now)
    }

    /// Handles a message from the remote.
    /// - Parameters:
    ///   - store: Where received updates go.
    ///   - source: Where updates to send come from (the store, or the store
    ///     backed by durable storage).
    @inlinable
    public mutating func handle<Source: UpdateSource>(
        _ message: GossipMessage<R.Action>, store: ReplicatedStore<R>, source: Source, now: UInt64
    ) -> [Output] where Source.Action == R.Action {
        guard case .awaitingHello = _phase, case .hello(let hello) = message else {
            guard _phase == .open else {
                if case .closed = _phase { return [] }
                if _phase == .awaitingHello, case .goodbye(let reason) = message {
                    // Refused at the handshake: the remote says why instead of hello.
                    _phase = .closed(reason)
                    return [.close(reason)]
                }
                return fail(.protocolViolation("expected hello first"))
            }
            lastHeard = now
            return handleOpen(message, store: store, source: source, now: now)
        }
        lastHeard = now
        if hello.protocolVersion != configuration.protocolVersion {
            return fail(.versionMismatch(local: configuration.protocolVersion, remote: hello.protocolVersion))
        }
        if hello.room != configuration.room {
            return fail(.protocolViolation("hello for room \"\(hello.room)\" on a link to \"\(configuration.room)\""))
        }
        _remote = hello
        _remoteDigest = hello.digest
        _remoteClock = hello.clock
        // The remote has everything it writes from now on: of its own
        // updates it can lack only those it lost before this hello.
        remoteOwnLackedThrough = source.digest[hello.peer]
        _phase = .open
        if configuration.remoteIsAuthority { store.confirmOwn(through: hello.digest[store.peer]) }
        return pump(from: source, store: store)
    }

    @inlinable
    mutating func handleOpen<Source: UpdateSource>(
        _ message: GossipMessage<R.Action>, store: ReplicatedStore<R>, source: Source, now: UInt64
    ) -> [Output] where Source.Action == R.Action {
        switch message {
        case .hello:
            return fail(.protocolViolation("second hello"))
        case .updates(let batch):
            return receive(batch, store: store, source: source)
        case .ack(let batches, let clock):
            guard Int(batches) <= inFlight.count else {
                return fail(.protocolViolation("ack for \(batches) batches, \(inFlight.count) outstanding"))
            }
            var confirmed: UInt64 = 0
            for _ in 0..<batches { confirmed = max(confirmed, inFlight.removeFirst()) }
            if configuration.remoteIsAuthority && confirmed > 0 { store.confirmOwn(through: confirmed) }
            _remoteClock = max(_remoteClock, clock)
            return pump(from: source, store: store)
        case .synced:
            _isCaughtUp = true
            return [.caughtUp]
        case .frontier(let frontier):
            guard configuration.remoteIsAuthority else {
                return fail(.protocolViolation("frontier from a peer that is not the authority"))
            }
            store.advanceFrontier(to: frontier)
            return []
        case .reject(let rejection):
            return remoteRejected(rejection, store: store, source: source)
        case .presence(let presence):
            if configuration.bindsRemoteOrigin && presence.origin != _remote?.peer {
                return fail(.protocolViolation("presence for origin \(presence.origin)"))
            }
            return [.presence(presence)]
        case .presenceGone(let origin):
            return [.presenceGone(origin)]
        case .ping(let nonce):
            return [.send(.pong(nonce))]
        case .pong(let nonce):
            guard let sentAt = pingsInFlight.removeValue(forKey: nonce) else { return [] }
            return [.roundTrip(milliseconds: now >= sentAt ? now - sentAt : 0)]
        case .goodbye(let reason):
            _phase = .closed(reason)
            return [.close(reason)]
        case .snapshot(let header):
            guard configuration.remoteIsAuthority else {
                return fail(.protocolViolation("snapshot from a peer that is not the authority"))
            }
            guard incomingSnapshot == nil else { return fail(.protocolViolation("snapshot inside a snapshot")) }
            guard header.byteCount <= configuration.maxSnapshotBytes else {
                return fail(.limitExceeded("snapshot of \(header.byteCount) bytes"))
            }
            incomingSnapshot = (header, [])
            return header.byteCount == 0 ? completeSnapshot() : []
        case .snapshotChunk(let bytes):
            guard var incoming = incomingSnapshot else {
                return fail(.protocolViolation("snapshot chunk without a snapshot"))
            }
            guard incoming.bytes.count + bytes.count <= incoming.header.byteCount else {
                return fail(.protocolViolation("snapshot longer than announced"))
            }
            incomingSnapshot = nil
            incoming.bytes += bytes
            incomingSnapshot = incoming
            return incoming.bytes.count == incoming.header.byteCount ? completeSnapshot() : []
        }
    }

    @inlinable
    mutating func completeSnapshot() -> [Output] {
        guard let incoming = incomingSnapshot else { return [] }
        incomingSnapshot = nil
        return [.snapshotReceived(incoming.header, incoming.bytes)]
    }

    // MARK: Snapshots

    /// Sends the authority's folded state (encoded by the app) to a remote
    /// that lacks updates no longer held one by one (see
    /// ``Output/remoteNeedsSnapshot(_:)``), then what it lacks above it.
    @inlinable
    public mutating func sendSnapshot<Source: UpdateSource>(
        _ header: SnapshotHeader, state: [UInt8], from source: Source, store: ReplicatedStore<R>
    ) -> [Output] where Source.Action == R.Action {
        guard _phase == .open, configuration.sendsUpdates else { return [] }
        precondition(header.byteCount == state.count, "the header must announce the state's length")
        var outputs: [Output] = [.send(.snapshot(header))]
        var offset = 0
        while offset < state.count {
            let end = min(state.count, offset + configuration.snapshotChunkBytes)
            outputs.append(.send(.snapshotChunk(Array(state[offset..<end]))))
            offset = end
        }
        _remoteDigest = _remoteDigest.union(header.digest)
        return outputs + pump(from: source, store: store)
    }

    /// Installs a snapshot received from the authority (decoded by the app
    /// from ``Output/snapshotReceived(_:_:)``) into `store`, and resends own
    /// updates it had to re-stamp.
    @inlinable
    public mutating func installSnapshot<Source: UpdateSource>(
        _ snapshot: ReplicaSnapshot<R.State>, store: ReplicatedStore<R>, source: Source
    ) -> [Output] where Source.Action == R.Action {
        guard _phase == .open else { return [] }
        let restamped = store.install(snapshot)
        _remoteDigest = _remoteDigest.union(snapshot.digest)
        guard let first = restamped.first else { return pump(from: source, store: store) }
        // The authority holds none of these: it would have folded them.
        _remoteDigest[store.peer] = first.seq - 1
        for index in inFlight.indices { inFlight[index] = min(inFlight[index], first.seq - 1) }
        return [.rebased(restamped)] + pump(from: source, store: store)
    }

    @inlinable
    mutating func receive<Source: UpdateSource>(
        _ batch: [Update<R.Action>], store: ReplicatedStore<R>, source: Source
    ) -> [Output] where Source.Action == R.Action {
        guard configuration.acceptsUpdates, let _remote else {
            return fail(.unauthorized("this link does not accept updates"))
        }
        precondition(awaitingDurability == nil, "a batch arrived while the previous one is being made durable")
        let persisting = configuration.persistsBeforeApplying
        var outputs: [Output] = []
        var accepted: [Update<R.Action>] = []
        var refusedStale = false
        for update in batch {
            if configuration.bindsRemoteOrigin && update.origin != _remote.peer {
                // Only its author may give an update to the authority (a peer
                // holding one the authority lost, say). Say so once per
                // origin and go on: cutting the link would only bring the
                // same offer back, again and again.
                if refusedFromRemote.insert(update.origin).inserted {
                    outputs.append(.send(.reject(.notAuthor(update.id))))
                }
                continue
            }
            let outcome = persisting ? store.check(update, after: accepted) : store.receive(update)
            switch outcome {
            case .applied:
                accepted.append(update)
                _remoteDigest.advance(update.origin, to: update.seq)
            case .duplicate:
                _remoteDigest.advance(update.origin, to: update.seq)
            case .rejected(let rejection):
                if case .stale = rejection {
                    // Tell the origin once; it rebases everything from there.
                    if !refusedStale { outputs.append(.send(.reject(rejection))) }
                    refusedStale = true
                    continue
                }
                outputs.append(.send(.reject(rejection)))
                return flush(accepted, into: outputs) + fail(.updateRejected(rejection))
            case .belowHorizon:
                return flush(accepted, into: outputs) + [.belowHorizon(update)] + fail(.snapshotRequired)
            }
        }
        if persisting && !accepted.isEmpty {
            // The ack (and the pump) wait until the batch is durable.
            awaitingDurability = accepted
            return outputs + [.persist(accepted)]
        }
        outputs = flush(accepted, into: outputs)
        outputs.append(
            .send(.ack(batches: 1, clock: reportableClock(store, ownSentThrough: _remoteDigest[store.peer]))))
        return outputs + pump(from: source, store: store)
    }

    /// The batch handed out as ``Output/persist(_:)`` is durable: it enters
    /// the store (whether or not the session is still open, since the log
    /// holds it now), and the ack goes out.
    @inlinable
    public mutating func persisted<Source: UpdateSource>(
        store: ReplicatedStore<R>, source: Source
    ) -> [Output] where Source.Action == R.Action {
        guard let batch = awaitingDurability else { return [] }
        awaitingDurability = nil
        // Checked before it was stored; nothing it depends on can have moved
        // since, as this link's next message waits for this one.
        let applied = batch.filter {
            if case .applied = store.receive($0, actionValidated: true) { true } else { false }
        }
        let outputs: [Output] = applied.isEmpty ? [] : [.applied(applied)]
        guard _phase == .open else { return outputs }
        return outputs
            + [.send(.ack(batches: 1, clock: reportableClock(store, ownSentThrough: _remoteDigest[store.peer])))]
            + pump(from: source, store: store)
    }

    /// The batch handed out as ``Output/persist(_:)`` could not be made
    /// durable: it is dropped without a trace, and the link closes with
    /// ``CloseReason/storageUnavailable(_:)`` (the peer still has the batch,
    /// and offers it again when it reconnects).
    @inlinable
    public mutating func persistenceFailed(_ reason: String) -> [Output] {
        guard awaitingDurability != nil else { return [] }
        awaitingDurability = nil
        return close(.storageUnavailable(reason))
    }

    /// `outputs`, after the updates accepted so far when the batch stops
    /// short. Checked updates that were never stored are dropped instead:
    /// the peer sends them again.
    @inlinable
    func flush(_ accepted: [Update<R.Action>], into outputs: [Output]) -> [Output] {
        accepted.isEmpty || configuration.persistsBeforeApplying ? outputs : [.applied(accepted)] + outputs
    }

    @inlinable
    mutating func remoteRejected<Source: UpdateSource>(
        _ rejection: UpdateRejection, store: ReplicatedStore<R>, source: Source
    ) -> [Output] where Source.Action == R.Action {
        if case .notAuthor(let id) = rejection, configuration.remoteIsAuthority {
            // The authority takes an origin's updates from their author only.
            declinedByRemote.insert(id.origin)
            return [.rejectedByRemote(rejection)]
        }
        guard case .stale(let id, let timestamp, let frontier) = rejection, configuration.remoteIsAuthority,
            id.origin == store.peer
        else { return [.rejectedByRemote(rejection)] }
        // A refusal of a version already re-stamped is old news.
        guard store.ownTimestamp(seq: id.seq) == timestamp else { return [] }
        let rebased = store.rebase(from: id.seq, above: frontier)
        guard !rebased.isEmpty else { return [] }
        // The authority holds nothing of ours from `id.seq` on, and batches
        // still unacknowledged confirm nothing from there: it refused them.
        _remoteDigest[store.peer] = id.seq - 1
        for index in inFlight.indices { inFlight[index] = min(inFlight[index], id.seq - 1) }
        return [.rebased(rebased)] + pump(from: source, store: store)
    }

    /// ``pump(from:store:)`` from the store itself: call after every
    /// `record`, and, on a peer that relays (a hub, a server), on every other
    /// link after a session returns ``Output/applied(_:)``.
    @inlinable
    public mutating func pump(store: ReplicatedStore<R>) -> [Output] {
        pump(from: store, store: store)
    }

    /// Sends what the remote lacks, as far as the window allows; then
    /// `synced` (once) and any frontier that has become safe to announce.
    /// Call after anything that may have given the source more to send.
    /// - Complexity: O(origins · log origins) per batch, plus the batch.
    @inlinable
    public mutating func pump<Source: UpdateSource>(
        from source: Source, store: ReplicatedStore<R>
    ) -> [Output] where Source.Action == R.Action {
        guard _phase == .open, configuration.sendsUpdates else { return [] }
        var outputs: [Output] = []
        while inFlight.count < configuration.window {
            let (batch, missing) = nextBatch(from: source)
            outputs += missing.map { .remoteNeedsSnapshot($0) }
            guard !batch.isEmpty else { break }
            let ownSeq = batch.last { $0.origin == store.peer }?.seq ?? 0
            inFlight.append(ownSeq)
            outputs.append(.send(.updates(batch)))
        }
        let everythingSent = source.digest.allSatisfy { origin, seq in
            seq <= _remoteDigest[origin] || declinedByRemote.contains(origin)
                || (origin == _remote?.peer && remoteOwnLackedThrough <= _remoteDigest[origin])
        }
        if everythingSent && !_hasSentSynced {
            _hasSentSynced = true
            outputs.append(.send(.synced))
        }
        if let frontier = pendingFrontier, everythingSent || allSent(below: frontier, from: source) {
            pendingFrontier = nil
            announcedFrontier = frontier
            outputs.append(.send(.frontier(frontier)))
        }
        return outputs
    }

    @inlinable
    mutating func nextBatch<Source: UpdateSource>(
        from source: Source
    ) -> ([Update<R.Action>], [PeerID]) where Source.Action == R.Action {
        // Scuttle-depth: origins the remote is furthest behind on go first.
        let lagging = source.digest.compactMap { origin, seq -> (PeerID, UInt64)? in
            let held = _remoteDigest[origin]
            let sendable = origin == _remote?.peer ? min(seq, remoteOwnLackedThrough) : seq
            return sendable > held && !declinedByRemote.contains(origin) ? (origin, sendable - held) : nil
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        var batch: [Update<R.Action>] = []
        var missing: [PeerID] = []
        var bytes = 0
        for (origin, lag) in lagging {
            let room = min(configuration.maxBatchUpdates - batch.count, Int(clamping: lag))
            guard room > 0, bytes < configuration.maxBatchBytes else { break }
            guard let updates = source.updates(of: origin, after: _remoteDigest[origin], limit: room) else {
                missing.append(origin)
                continue
            }
            for update in updates {
                let size = estimatedSize(update)
                if !batch.isEmpty && bytes + size > configuration.maxBatchBytes { break }
                bytes += size
                batch.append(update)
                _remoteDigest.advance(origin, to: update.seq)
            }
        }
        return (batch, missing)
    }

    /// Whether every update stamped below `frontier` has been sent.
    @inlinable
    func allSent<Source: UpdateSource>(
        below frontier: Timestamp, from source: Source
    ) -> Bool where Source.Action == R.Action {
        source.digest.allSatisfy { origin, seq in
            let held = _remoteDigest[origin]
            guard seq > held, origin != _remote?.peer || remoteOwnLackedThrough > held else { return true }
            guard let next = source.updates(of: origin, after: held, limit: 1)?.first else { return false }
            return next.timestamp >= frontier
        }
    }

    /// Queues a frontier announcement; it goes out once every update below
    /// it has been sent on this link, so the remote can fold at it safely.
    @inlinable
    public mutating func announce<Source: UpdateSource>(
        frontier: Timestamp, from source: Source, store: ReplicatedStore<R>
    ) -> [Output] where Source.Action == R.Action {
        guard frontier > announcedFrontier else { return [] }
        pendingFrontier = frontier
        return pump(from: source, store: store)
    }

    /// Sends presence, at most once per ``GossipSessionConfiguration/presenceInterval``
    /// per origin; in between, the latest one waits for ``tick(now:)``.
    @inlinable
    public mutating func send(presence: Presence, now: UInt64) -> [Output] {
        guard _phase == .open else { return [] }
        if let sentAt = presenceSentAt[presence.origin], now < sentAt &+ configuration.presenceInterval {
            pendingPresence[presence.origin] = presence
            return []
        }
        presenceSentAt[presence.origin] = now
        pendingPresence[presence.origin] = nil
        return [.send(.presence(presence))]
    }

    /// Tells the remote that `origin` left; drops its pending presence.
    @inlinable
    public mutating func send(presenceGone origin: PeerID) -> [Output] {
        guard _phase == .open else { return [] }
        pendingPresence[origin] = nil
        presenceSentAt[origin] = nil
        return [.send(.presenceGone(origin))]
    }

    /// Timer work: throttled presence, clock reports, pings, liveness.
    @inlinable
    public mutating func tick(store: ReplicatedStore<R>, now: UInt64) -> [Output] {
        guard _phase == .open || _phase == .awaitingHello else { return [] }
        if now - min(now, lastHeard) >= configuration.livenessTimeout { return fail(.timeout) }
        var outputs: [Output] = []
        if _phase == .open && now - min(now, lastClockReport) >= configuration.clockReportInterval {
            // An idle peer still lets the authority's frontier move with time.
            lastClockReport = now
            store.advanceClock(toAtLeast: now)
            let clock = reportableClock(store, ownSentThrough: _remoteDigest[store.peer])
            if clock > lastReportedClock {
                lastReportedClock = clock
                outputs.append(.send(.ack(batches: 0, clock: clock)))
            }
        }
        for (origin, presence) in pendingPresence
        where now >= (presenceSentAt[origin] ?? 0) &+ configuration.presenceInterval {
            presenceSentAt[origin] = now
            pendingPresence[origin] = nil
            outputs.append(.send(.presence(presence)))
        }
        if _phase == .open && now - min(now, lastPingSent) >= configuration.pingInterval {
            lastPingSent = now
            pingsInFlight[nextPingNonce] = now
            outputs.append(.send(.ping(nextPingNonce)))
            nextPingNonce += 1
        }
        return outputs
    }

    /// Ends the session from this side: says goodbye with `reason`.
    @inlinable
    public mutating func close(_ reason: CloseReason) -> [Output] {
        if case .closed = _phase { return [] }
        let wasOpen = _phase != .idle
        _phase = .closed(reason)
        return (wasOpen ? [.send(.goodbye(reason))] : []) + [.close(reason)]
    }

    /// The link dropped without a goodbye.
    @inlinable
    public mutating func connectionLost() {
        if case .closed = _phase { return }
        _phase = .closed(.timeout)
    }

    @inlinable
    mutating func fail(_ reason: CloseReason) -> [Output] {
        close(reason)
    }

    /// Our clock as it may be reported: everything we record later is
    /// stamped after it, and so is every own update not yet sent on this
    /// link (so an authority never sets a frontier above what is in flight).
    @inlinable
    func reportableClock(_ store: ReplicatedStore<R>, ownSentThrough sent: UInt64) -> Timestamp {
        var clock = store.clock.latest
        // Own updates this link never sends (a viewer's) cannot hold it back.
        if configuration.sendsUpdates, sent < store.digest[store.peer],
            let next = store.updates(of: store.peer, after: sent, limit: 1)?.first
        {
            clock = min(clock, Timestamp(next.timestamp.rawValue - 1))
        }
        return clock
    }
}

extension GossipSession.Output: Equatable where R.Action: Equatable {}
