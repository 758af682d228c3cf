import DequeModule

/// Something that happened to a ``ReplicatedStore``, for apps that render.
public enum ReplicaEvent: Sendable, Hashable {
    /// An update (local or remote) entered the timeline.
    case applied(UpdateID, Insertion)
    /// Own updates were re-stamped above the frontier (and replayed).
    case rebased([UpdateID])
}

/// One replica of a shared, self-ordering log of actions, reduced into state.
///
/// The store records local actions and receives remote updates, keeps them
/// in one deterministic total order (``OrderKey``), and reduces them with the
/// app's ``Reducer``. A late update rewinds only as far as it must (see
/// ``Timeline``). Replicas that hold the same set of updates hold equal
/// states, whatever order the updates arrived in.
///
/// Not thread-safe: one isolation domain (an actor, a thread) owns a store.
public final class ReplicatedStore<R: Reducer> {
    /// This replica's identity: the origin of what it records.
    public let peer: PeerID
    /// The knobs this store was made with.
    public let configuration: ReplicaConfiguration
    /// What this replica holds: highest contiguous seq per origin.
    @inlinable public var digest: Digest { _digest }
    /// The logical clock that stamps local records.
    @inlinable public var clock: LogicalClock { _clock }
    /// The applied history, its base and snapshots.
    @inlinable public var timeline: Timeline<R> { _timeline }
    /// The stable frontier: nothing stamped below it can still arrive.
    /// An authority sets it; other replicas adopt what it announces.
    @inlinable public var frontier: Timestamp { _frontier }
    /// Own updates up to this seq are known to be accepted by the authority.
    @inlinable public var confirmedOwnSeq: UInt64 { _confirmedOwnSeq }
    /// Work and refusal counters.
    @inlinable public var counters: ReplicaCounters { _counters }

    // The store's state is checked for exclusive access statically, not at
    // run time: one isolation domain owns a store and nothing re-enters it
    // while a method runs (observers are called after each change is
    // complete). Dynamic checks cost 8% of a W1 apply.
    @exclusivity(unchecked) @usableFromInline var _digest = Digest()
    @exclusivity(unchecked) @usableFromInline var _clock: LogicalClock
    @exclusivity(unchecked) @usableFromInline var _timeline: Timeline<R>
    @exclusivity(unchecked) @usableFromInline var _frontier = Timestamp.zero
    @exclusivity(unchecked) @usableFromInline var _confirmedOwnSeq: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var _counters = ReplicaCounters()
    @usableFromInline let wallClock: any WallClock
    @exclusivity(unchecked) @usableFromInline var logs: [PeerID: OriginLog<R>] = [:]
    /// Origins whose update at this seq was refused as stale: later seqs of
    /// theirs are refused too until that seq comes back re-stamped.
    @exclusivity(unchecked) @usableFromInline var rebasing: [PeerID: UInt64] = [:]
    /// The horizon the logs were last trimmed to (``LogRetention/aboveHorizon``).
    @exclusivity(unchecked) @usableFromInline var logsTrimmedTo: OrderKey?
    @usableFromInline var observers: [Int: (ReplicaEvent) -> Void] = [:]
    private var nextObserverID = 0
    private var eventContinuations: [AsyncStream<ReplicaEvent>.Continuation] = []

    /// A replica with empty history.
    /// - Parameters:
    ///   - peer: This replica's origin id.
    ///   - reducer: Turns updates into state.
    ///   - initialState: The state before any update.
    ///   - configuration: Clock, snapshots, history limit, authority.
    ///   - wallClock: Where physical time comes from.
    public init(
        peer: PeerID,
        reducer: R,
        initialState: R.State,
        configuration: ReplicaConfiguration = ReplicaConfiguration(),
        wallClock: any WallClock
    ) {
        self.peer = peer
        self.configuration = configuration
        self.wallClock = wallClock
        self._clock = LogicalClock(strategy: configuration.timestampStrategy, maxSkew: configuration.maxClockSkew)
        self._timeline = Timeline(reducer: reducer, base: initialState, snapshotPolicy: configuration.snapshotPolicy)
    }

    /// The current state: the reduce of every update held, in total order.
    @inlinable public var state: R.State { _timeline.state }

    /// The reducer in use.
    @inlinable public var reducer: R { _timeline.reducer }

    /// The next seq this replica will record.
    @inlinable public var nextSeq: UInt64 { _digest[peer] + 1 }

    // MARK: Recording and receiving

    /// Records a local action as the next update of this origin.
    /// - Throws: Whatever the reducer's `validate` throws; nothing changes then.
    /// - Returns: The update, to be sent to other peers.
    /// - Complexity: One apply: a local update is always the latest.
    @inlinable @discardableResult
    public func record(_ action: R.Action) throws -> Update<R.Action> {
        try reducer.validate(action, by: peer)
        _clock.observe(frontier)
        if let last = _timeline.lastKey { _clock.observe(last.timestamp) }
        let update = Update(
            origin: peer, seq: nextSeq, timestamp: _clock.tick(now: wallClock.milliseconds()), action: action)
        store(update)
        let insertion = _timeline.insert(update)
        _counters.recorded += 1
        applyHistoryLimit()
        notify(.applied(update.id, insertion))
        return update
    }

    /// Takes a remote update: validates it, then places it in the order.
    ///
    /// Checks, in order, with no side effect until all pass: duplicate,
    /// pending rebase, seq gap, timestamp not after the origin's previous one,
    /// far-future timestamp, stale (authority only), reducer validation,
    /// horizon.
    /// - Parameter actionValidated: The reducer has validated the action
    ///   already (``check(_:after:)`` did, for this update): its validation
    ///   is pure, so it is not repeated.
    @inlinable
    public func receive(_ update: Update<R.Action>, actionValidated: Bool = false) -> ReceiveOutcome {
        // The origin's log is looked up once, for the checks and the append.
        let log = logs.index(forKey: update.origin)
        if let refusal = admission(of: update, after: nil, log: log, actionValidated: actionValidated) {
            return refusal
        }
        // An empty dictionary still hashes the key it is asked about.
        if !rebasing.isEmpty { rebasing[update.origin] = nil }
        _clock.observe(update.timestamp)
        store(update, log: log)
        let insertion = _timeline.insert(update)
        _counters.accepted += 1
        applyHistoryLimit()
        notify(.applied(update.id, insertion))
        return .applied(insertion)
    }

    /// Checks a remote update as ``receive(_:actionValidated:)`` would,
    /// without taking it: for an authority that makes updates durable before
    /// it applies them. `pending` are updates checked before this one and
    /// not yet received (earlier in the same batch): they count as held.
    ///
    /// A refusal has the side effects a refusal by `receive` has (it is
    /// counted, and a stale update starts its origin's rebase); an update
    /// found acceptable changes nothing.
    /// - Returns: `.applied(.appended)` for an acceptable update (receiving
    ///   it will place it), or what `receive` would answer.
    @inlinable
    public func check(_ update: Update<R.Action>, after pending: [Update<R.Action>]) -> ReceiveOutcome {
        admission(
            of: update, after: pending.last { $0.origin == update.origin }, log: logs.index(forKey: update.origin),
            actionValidated: false) ?? .applied(.appended)
    }

    /// Every test of ``receive(_:actionValidated:)``, in its order, as if
    /// `earlier` (an update of the same origin checked but not yet
    /// received) were held. `log` is the origin's log in `logs`, if it has
    /// one: every origin the digest holds has one.
    /// - Returns: The answer for an update that must not be placed, or nil
    ///   for one that may.
    @inlinable
    func admission(
        of update: Update<R.Action>, after earlier: Update<R.Action>?, log: [PeerID: OriginLog<R>].Index?,
        actionValidated: Bool
    ) -> ReceiveOutcome? {
        let id = update.id
        let logged = log.map { logs.values[$0].lastSeq } ?? 0
        assert(logged == _digest[update.origin], "\(update.origin)'s log and digest disagree")
        let held = max(logged, earlier?.seq ?? 0)
        if update.seq <= held {
            _counters.duplicates += 1
            return .duplicate
        }
        // An earlier update of the origin ends its rebase, as receiving it would.
        if earlier == nil, !rebasing.isEmpty, let refusedSeq = rebasing[update.origin], update.seq > refusedSeq {
            return reject(.stale(id, timestamp: update.timestamp, frontier: frontier))
        }
        if update.seq != held + 1 {
            return reject(.sequenceGap(origin: update.origin, expected: held + 1, received: update.seq))
        }
        if let previous = earlier?.timestamp ?? log.flatMap({ logs.values[$0].lastTimestamp }),
            update.timestamp <= previous
        {
            return reject(.nonMonotonicTimestamp(id, timestamp: update.timestamp, previous: previous))
        }
        if !_clock.accepts(update.timestamp, now: wallClock.milliseconds()) {
            return reject(.farFuture(id, timestamp: update.timestamp))
        }
        if configuration.isAuthority && update.timestamp < _frontier {
            rebasing[update.origin] = update.seq
            return reject(.stale(id, timestamp: update.timestamp, frontier: frontier))
        }
        if !actionValidated {
            do {
                try reducer.validate(update.action, by: update.origin)
            } catch {
                return reject(.invalid(id, reason: String(describing: error)))
            }
        }
        if !_timeline.accepts(update.orderKey) {
            _counters.belowHorizon += 1
            return .belowHorizon(id)
        }
        return nil
    }

    @inlinable
    func reject(_ rejection: UpdateRejection) -> ReceiveOutcome {
        _counters.rejected[rejection.reasonCode, default: 0] += 1
        return .rejected(rejection)
    }

    @inlinable
    func store(_ update: Update<R.Action>) {
        store(update, log: logs.index(forKey: update.origin))
    }

    /// Appends `update` to its origin's log, found at `log` (nil: it has
    /// none yet), and to the digest.
    @inlinable
    func store(_ update: Update<R.Action>, log: [PeerID: OriginLog<R>].Index?) {
        if let log {
            logs.values[log].append(update)
        } else {
            var new = OriginLog<R>(origin: update.origin)
            new.append(update)
            logs[update.origin] = new
        }
        _digest[update.origin] = update.seq
    }

    // MARK: Anti-entropy

    /// Updates of `origin` after `seq`, oldest first, at most `limit`.
    /// - Returns: `nil` when some of them are no longer retained
    ///   (``LogRetention/aboveHorizon``): that peer needs a snapshot.
    /// - Complexity: O(1) to locate, O(result) to copy.
    @inlinable
    public func updates(of origin: PeerID, after seq: UInt64, limit: Int) -> [Update<R.Action>]? {
        guard let log = logs[origin] else { return seq >= _digest[origin] ? [] : nil }
        return log.updates(after: seq, limit: limit, in: _timeline)
    }

    /// Every retained update, in total order: a read-only dump from which
    /// ``receive(_:)`` on an empty replica rebuilds this one.
    public func dump() -> [Update<R.Action>] {
        logs.values.flatMap { $0.all(in: _timeline) }.sorted { $0.orderKey < $1.orderKey }
    }

    // MARK: Frontier and rebase

    /// Moves the clock up to wall-clock time (hybrid clock only), so that a
    /// clock reported to the authority holds for every later record even if
    /// the wall clock steps back.
    public func advanceClock(toAtLeast now: UInt64) {
        guard configuration.timestampStrategy == .hybridLogical else { return }
        _clock.observe(Timestamp(milliseconds: now, counter: 0))
    }

    /// Moves the stable frontier forward (never back), then folds history if
    /// the limit is ``HistoryLimit/frontier``. An authority calls this with the
    /// frontier it computed; other replicas with the one it announced.
    @inlinable
    public func advanceFrontier(to newFrontier: Timestamp) {
        guard newFrontier > _frontier else { return }
        _frontier = newFrontier
        applyHistoryLimit()
    }

    /// Notes that the authority accepted this origin's updates through `seq`;
    /// unconfirmed own updates are never folded, so that they can be rebased.
    @inlinable
    public func confirmOwn(through seq: UInt64) {
        guard seq > _confirmedOwnSeq else { return }
        _confirmedOwnSeq = min(seq, _digest[peer])
        applyHistoryLimit()
    }

    /// The current stamp of own update `seq`, if it is still retained.
    @inlinable
    public func ownTimestamp(seq: UInt64) -> Timestamp? {
        logs[peer]?.timestamp(seq: seq)
    }

    /// Re-stamps own updates from `seq` on above `authorityFrontier`, after
    /// the authority refused them as stale. Safe because nobody accepted them.
    ///
    /// The local frontier does not move: the authority announces it on the
    /// link once everything below it has been sent there.
    /// - Returns: The re-stamped updates, to send again in seq order.
    /// - Complexity: One replay from the earliest moved update.
    public func rebase(from seq: UInt64, above authorityFrontier: Timestamp) -> [Update<R.Action>] {
        guard let log = logs[peer], seq <= _digest[peer], seq > confirmedOwnSeq,
            let stale = log.updates(after: seq - 1, limit: Int.max, in: _timeline), !stale.isEmpty
        else { return [] }
        precondition(stale.allSatisfy { _timeline.accepts($0.orderKey) }, "unconfirmed own updates were folded")
        _timeline.remove(stale.map(\.orderKey))
        _clock.observe(authorityFrontier)
        _clock.observe(frontier)
        if let last = _timeline.lastKey { _clock.observe(last.timestamp) }
        let now = wallClock.milliseconds()
        let restamped = stale.map { $0.restamped(_clock.tick(now: now)) }
        logs[peer]!.replace(from: seq, with: restamped)
        for update in restamped { _timeline.insert(update) }
        _counters.rebased += restamped.count
        notify(.rebased(restamped.map(\.id)))
        return restamped
    }

    // MARK: History

    @inlinable
    func applyHistoryLimit() {
        if case .unbounded = configuration.historyLimit { return }
        // A log that retains everything keeps what folds; otherwise the
        // folded updates are dropped below.
        let archive: ((Update<R.Action>) -> Void)? =
            configuration.logRetention == .everything ? { self.logs[$0.origin]!.archive($0) } : nil
        switch configuration.historyLimit {
        case .unbounded:
            return
        case .count(let maxCount):
            if _timeline.count > maxCount {
                _timeline.fold(keepingAtMost: maxCount, below: foldCeiling, archiving: archive)
            }
        case .age(let milliseconds):
            let now = wallClock.milliseconds()
            // Entries exactly `milliseconds` old are no longer younger than the limit.
            let cutoff = Timestamp(milliseconds: now > milliseconds ? now - milliseconds + 1 : 0, counter: 0)
            _timeline.fold(before: min(cutoff, foldCeiling ?? cutoff), archiving: archive)
        case .frontier:
            _timeline.fold(before: min(frontier, foldCeiling ?? frontier), archiving: archive)
        }
        if configuration.logRetention == .aboveHorizon, let horizon = _timeline.horizon, horizon != logsTrimmedTo {
            for origin in logs.keys { logs[origin]!.dropThrough(horizon) }
            logsTrimmedTo = horizon
        }
    }

    /// The timestamp of the oldest own update the authority has not
    /// confirmed, when this replica follows an authority.
    @inlinable
    var foldCeiling: Timestamp? {
        guard !configuration.isAuthority, _frontier > .zero, _confirmedOwnSeq < _digest[peer] else { return nil }
        return logs[peer]?.timestamp(seq: _confirmedOwnSeq + 1)
    }

    // MARK: Observation

    /// Calls `observer` after every change, on the caller's isolation domain.
    /// - Returns: A token for ``removeObserver(_:)``.
    @discardableResult
    public func observe(_ observer: @escaping (ReplicaEvent) -> Void) -> Int {
        nextObserverID += 1
        observers[nextObserverID] = observer
        return nextObserverID
    }

    /// Stops calling the observer registered under `token`.
    public func removeObserver(_ token: Int) {
        observers[token] = nil
    }

    /// The events of this store as an async sequence; ends when the store is
    /// released.
    public func events() -> AsyncStream<ReplicaEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ReplicaEvent.self)
        observe { continuation.yield($0) }
        eventContinuations.append(continuation)
        return stream
    }

    deinit {
        for continuation in eventContinuations { continuation.finish() }
    }

    @inlinable
    func notify(_ event: ReplicaEvent) {
        for observer in observers.values { observer(event) }
    }
}

/// One origin's updates, contiguous by seq.
///
/// The timeline holds each update once; the log keeps only the stamps of
/// those still in it (8 bytes each, not a second 64-byte copy) and finds
/// them there by their key. Updates folded below the horizon are kept in
/// full, and only when the replica retains ``LogRetention/everything``.
@usableFromInline
struct OriginLog<R: Reducer> {
    @usableFromInline let origin: PeerID
    /// The seq of the first retained update.
    @usableFromInline var firstSeq: UInt64 = 1
    /// Folded updates kept for other peers: seqs from `firstSeq` on.
    @usableFromInline var archived: Deque<Update<R.Action>> = []
    /// The stamps of the origin's updates in the timeline, by seq, after
    /// the archived ones.
    @usableFromInline var stamps: Deque<Timestamp> = []
    /// The stamp of the origin's latest update, kept even once it is dropped.
    @usableFromInline var lastTimestamp: Timestamp?

    @inlinable init(origin: PeerID) { self.origin = origin }

    /// A log whose updates before `firstSeq` were folded elsewhere.
    @inlinable init(origin: PeerID, firstSeq: UInt64) {
        self.origin = origin
        self.firstSeq = firstSeq
    }

    /// How many updates are retained.
    @inlinable var count: Int { archived.count + stamps.count }

    /// The seq of the origin's latest update (retained or dropped), as the
    /// digest holds it: 0 when none.
    @inlinable var lastSeq: UInt64 { firstSeq + UInt64(count) - 1 }

    /// Notes an update that is going into the timeline.
    @inlinable
    mutating func append(_ update: Update<R.Action>) {
        if count == 0 { firstSeq = update.seq }
        stamps.append(update.timestamp)
        lastTimestamp = update.timestamp
    }

    /// The stamp of update `seq`, if it is retained.
    @inlinable
    func timestamp(seq: UInt64) -> Timestamp? {
        guard seq >= firstSeq, seq - firstSeq < UInt64(count) else { return nil }
        let index = Int(seq - firstSeq)
        return index < archived.count ? archived[index].timestamp : stamps[index - archived.count]
    }

    /// Retained update number `index` (from `firstSeq`), from `timeline`
    /// unless it was archived.
    @inlinable
    func update(at index: Int, in timeline: Timeline<R>) -> Update<R.Action> {
        if index < archived.count { return archived[index] }
        let key = OrderKey(timestamp: stamps[index - archived.count], origin: origin)
        guard let update = timeline.update(withKey: key) else {
            preconditionFailure("\(origin)'s update stamped \(key.timestamp) is neither archived nor in the timeline")
        }
        return update
    }

    /// Updates after `seq`, or nil when the first of them was dropped.
    /// - Complexity: O(log n) per update still in the timeline.
    @inlinable
    func updates(after seq: UInt64, limit: Int, in timeline: Timeline<R>) -> [Update<R.Action>]? {
        if seq + 1 < firstSeq { return nil }
        let start = Int(seq + 1 - firstSeq)
        guard start < count else { return [] }
        return (start..<(start + min(limit, count - start))).map { update(at: $0, in: timeline) }
    }

    /// Every retained update, by seq.
    func all(in timeline: Timeline<R>) -> [Update<R.Action>] {
        (0..<count).map { update(at: $0, in: timeline) }
    }

    /// Keeps an update the timeline folded: the oldest one still in it.
    @inlinable
    mutating func archive(_ update: Update<R.Action>) {
        precondition(stamps.first == update.timestamp, "updates of an origin fold in seq order")
        stamps.removeFirst()
        archived.append(update)
    }

    /// Replaces the stamps of the updates from `seq` on (all in the
    /// timeline) with those of their re-stamped versions.
    @inlinable
    mutating func replace(from seq: UInt64, with replacements: [Update<R.Action>]) {
        let start = Int(seq - firstSeq) - archived.count
        stamps.replaceSubrange(start..<(start + replacements.count), with: replacements.map(\.timestamp))
        lastTimestamp = stamps.last ?? archived.last?.timestamp
    }

    /// How many retained updates lie at or below `horizon` (a prefix).
    /// - Complexity: O(log n).
    func countThrough(_ horizon: OrderKey) -> Int {
        var low = 0
        var high = stamps.count
        while low < high {
            let middle = (low + high) / 2
            if OrderKey(timestamp: stamps[middle], origin: origin) <= horizon {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return archived.count + low
    }

    /// Forgets every update at or below `horizon`.
    @inlinable
    mutating func dropThrough(_ horizon: OrderKey) {
        while let first = archived.first, first.orderKey <= horizon {
            archived.removeFirst()
            firstSeq += 1
        }
        guard archived.isEmpty else { return }
        while let first = stamps.first, OrderKey(timestamp: first, origin: origin) <= horizon {
            stamps.removeFirst()
            firstSeq += 1
        }
    }
}
