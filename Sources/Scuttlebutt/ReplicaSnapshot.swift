/// A replica's folded state at its horizon and exactly which updates it
/// contains: enough to start another replica there, for a late joiner or
/// a restart, without replaying the history below it.
public struct ReplicaSnapshot<State> {
    /// The reduce of every update at or below `horizon`, in total order.
    public var state: State
    /// The latest update folded into `state`; nil when nothing is folded.
    public var horizon: OrderKey?
    /// Per origin, the highest seq folded into `state`. Each origin's
    /// updates at or below the horizon are a prefix of its seqs, because an
    /// origin's stamps grow with its seqs.
    public var digest: Digest

    /// A snapshot of `state`, which folds exactly the updates `digest`
    /// covers, the latest of them at `horizon`.
    public init(state: State, horizon: OrderKey?, digest: Digest) {
        self.state = state
        self.horizon = horizon
        self.digest = digest
    }
}

extension ReplicaSnapshot: Sendable where State: Sendable {}
extension ReplicaSnapshot: Equatable where State: Equatable {}

extension ReplicatedStore {
    /// The base of this replica's timeline (the folded state at its horizon)
    /// and the updates it contains.
    /// - Complexity: O(origins · log updates per origin).
    public func snapshot() -> ReplicaSnapshot<R.State> {
        var seqs: [PeerID: UInt64] = [:]
        if let horizon = _timeline.horizon {
            for (origin, log) in logs {
                let seq = log.firstSeq - 1 + UInt64(log.countThrough(horizon))
                if seq > 0 { seqs[origin] = seq }
            }
        }
        return ReplicaSnapshot(state: _timeline.base, horizon: _timeline.horizon, digest: Digest(seqs))
    }

    /// A replica that starts from `snapshot` instead of an empty history
    /// (a restart from a checkpoint, a late joiner).
    public convenience init(
        peer: PeerID,
        reducer: R,
        snapshot: ReplicaSnapshot<R.State>,
        configuration: ReplicaConfiguration = ReplicaConfiguration(),
        wallClock: any WallClock
    ) {
        self.init(
            peer: peer, reducer: reducer, initialState: snapshot.state, configuration: configuration,
            wallClock: wallClock)
        adopt(snapshot)
    }

    /// Replaces everything this replica folded or holds at or below the
    /// snapshot's horizon with the snapshot, keeping what it holds beyond the
    /// snapshot's digest.
    ///
    /// Own updates that the snapshot lacks yet that lie at or below its
    /// horizon were never accepted by whoever made the snapshot (it folds
    /// everything below its horizon), so they are re-stamped above it, as
    /// after a stale refusal. Another origin's update in that position cannot
    /// exist when the snapshot comes from the authority; it is dropped.
    /// - Returns: The re-stamped own updates, to send again in seq order.
    /// - Complexity: One fold-free rebuild: O(kept updates).
    @discardableResult
    public func install(_ snapshot: ReplicaSnapshot<R.State>) -> [Update<R.Action>] {
        let kept = logs.values.flatMap { log in log.all(in: _timeline).filter { $0.seq > snapshot.digest[$0.origin] } }
        adopt(snapshot)
        var own: [Update<R.Action>] = []
        for update in kept.sorted(by: { $0.orderKey < $1.orderKey }) {
            if update.origin == peer {
                own.append(update)
            } else if update.seq == _digest[update.origin] + 1, _timeline.accepts(update.orderKey) {
                store(update)
                _timeline.insert(update)
            } else {
                _counters.belowHorizon += 1
            }
        }
        own.sort { $0.seq < $1.seq }
        guard let first = own.first else { return [] }
        if _timeline.accepts(first.orderKey) {
            for update in own {
                store(update)
                _timeline.insert(update)
            }
            applyHistoryLimit()
            return []
        }
        // The earliest kept own update lies below the horizon; its successors
        // are re-stamped with it so that the origin's stamps keep growing.
        if let last = _timeline.lastKey { _clock.observe(last.timestamp) }
        let now = wallClock.milliseconds()
        let restamped = own.map { $0.restamped(_clock.tick(now: now)) }
        for update in restamped {
            store(update)
            _timeline.insert(update)
        }
        _counters.rebased += restamped.count
        applyHistoryLimit()
        notify(.rebased(restamped.map(\.id)))
        return restamped
    }

    /// Starts over from `snapshot`: its state as the base, its digest as what
    /// is held, and nothing above it.
    private func adopt(_ snapshot: ReplicaSnapshot<R.State>) {
        _timeline = Timeline(
            reducer: _timeline.reducer, base: snapshot.state, horizon: snapshot.horizon,
            snapshotPolicy: configuration.snapshotPolicy)
        logs = [:]
        logsTrimmedTo = nil
        for (origin, seq) in snapshot.digest { logs[origin] = OriginLog(origin: origin, firstSeq: seq + 1) }
        _digest = snapshot.digest
        rebasing = [:]
        if let horizon = snapshot.horizon {
            _clock.observe(horizon.timestamp)
            // Nothing stamped below the horizon can still be accepted.
            _frontier = max(_frontier, horizon.timestamp)
        }
        _confirmedOwnSeq = max(_confirmedOwnSeq, snapshot.digest[peer])
    }
}
