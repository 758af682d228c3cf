/// How an update went into a ``Timeline``.
public enum Insertion: Sendable, Hashable {
    /// It was the latest update: one apply.
    case appended
    /// It landed `depth` places from the end but commuted with everything
    /// after it, so it was applied once with no replay.
    case commuted(depth: Int)
    /// It landed `depth` places from the end and conflicted; the timeline
    /// rewound to a snapshot and replayed `applies` updates (itself included).
    case replayed(depth: Int, applies: Int)
}

/// Counters a ``Timeline`` keeps about its own work.
public struct TimelineStatistics: Sendable, Hashable {
    /// Updates that arrived in order.
    public var appends = 0
    /// Late updates applied without replay.
    public var commutes = 0
    /// Late updates (or removals) that caused a rewind and replay.
    public var rewinds = 0
    /// Applies performed while replaying, over all rewinds.
    public var replayedApplies = 0
    /// The largest single replay, in applies.
    public var deepestReplay = 0
    /// How many applies each replay took.
    public var replayDepths = ReplayDepthHistogram()
    /// Entries folded into the base.
    public var folded = 0
    /// Applies spent building a base where no snapshot stood at the fold point.
    public var foldApplies = 0
}

/// How many replays took how many applies, in power-of-two buckets.
public struct ReplayDepthHistogram: Sendable, Hashable {
    /// `counts[i]` is the number of replays of at most 2^i applies (and
    /// more than 2^(i-1)); `counts[0]` holds replays of 0 or 1.
    public private(set) var counts: [Int] = []

    /// An empty histogram.
    public init() {}

    /// Counts one replay of `applies` applies.
    public mutating func record(_ applies: Int) {
        let bucket = applies <= 1 ? 0 : Int.bitWidth - (applies - 1).leadingZeroBitCount
        if counts.count <= bucket { counts += repeatElement(0, count: bucket + 1 - counts.count) }
        counts[bucket] += 1
    }

    /// Adds another histogram's counts to this one.
    public mutating func merge(_ other: ReplayDepthHistogram) {
        if counts.count < other.counts.count { counts += repeatElement(0, count: other.counts.count - counts.count) }
        for (bucket, count) in other.counts.enumerated() { counts[bucket] += count }
    }

    /// `(atMost, count)` per non-empty bucket: replays of at most `atMost`
    /// applies (and more than the previous bucket's bound).
    public var buckets: [(atMost: Int, count: Int)] {
        counts.enumerated().filter { $0.element > 0 }.map { (1 << $0.offset, $0.element) }
    }
}

/// The applied history of a replica: updates in total order above a folded
/// *base*, with snapshots so that a late update rewinds only as far as it must.
///
/// Invariants:
/// - `state` equals the reduce of `base` with every entry, in key order.
/// - Every snapshot reported valid equals the reduce of `base` with the
///   entries up to and including its own.
/// - Entries are strictly increasing by ``OrderKey`` and all lie above
///   ``horizon``.
///
/// A conflicting late update `d` places from the end replays from the
/// nearest valid snapshot before its place (see ``SnapshotPolicy`` for the
/// bound). A late update whose footprint is disjoint from every later entry
/// is applied once, with no replay; snapshots after its place are then
/// marked stale in O(1) (a version check), never patched one by one.
public struct Timeline<R: Reducer> {
    /// One update in the order, and whether a snapshot follows it.
    @usableFromInline
    struct Entry {
        @usableFromInline let update: Update<R.Action>
        /// Zero when the entry holds no snapshot; else one more than the
        /// timeline's `version` when the snapshot was taken.
        @usableFromInline var snapshotStamp: UInt64

        @inlinable
        init(_ update: Update<R.Action>, snapshotVersion: UInt64?) {
            self.update = update
            self.snapshotStamp = snapshotVersion.map { $0 + 1 } ?? 0
        }

        @inlinable var orderKey: OrderKey { update.orderKey }
        @inlinable var timestamp: Timestamp { update.timestamp }
        @inlinable var hasSnapshot: Bool { snapshotStamp != 0 }

        /// The timeline version its snapshot was taken at.
        /// - Precondition: `hasSnapshot`.
        @inlinable var snapshotVersion: UInt64 { snapshotStamp - 1 }

        /// Records that the entry now holds a snapshot taken at `version`,
        /// or none.
        @inlinable
        mutating func setSnapshot(_ keep: Bool, version: UInt64) {
            snapshotStamp = keep ? version + 1 : 0
        }
    }

    /// The reducer that turns entries into state.
    public let reducer: R
    /// Which entries keep snapshots.
    public let snapshotPolicy: SnapshotPolicy
    /// The reduce of the base and every entry: what the app shows.
    @inlinable public var state: R.State { _state }
    /// The state at the horizon: everything folded so far.
    @inlinable public var base: R.State { _base }
    /// The key of the last folded update; nothing at or below it can be
    /// inserted. `nil` while nothing has been folded.
    @inlinable public var horizon: OrderKey? { _horizon }
    /// Work counters.
    @inlinable public var statistics: TimelineStatistics { _statistics }

    @usableFromInline var _state: R.State
    @usableFromInline var _base: R.State
    @usableFromInline var _horizon: OrderKey?
    @usableFromInline var _statistics = TimelineStatistics()
    /// The updates, in total order.
    @usableFromInline var entries = ChunkedArray<Entry>()
    /// The snapshots, by the key of the entry they follow. Apart from the
    /// entries because few entries keep one (an optional state, or a box,
    /// in every entry would cost each entry a word or more).
    @usableFromInline var snapshots: [OrderKey: R.State] = [:]
    /// How many entries were ever folded: the absolute index of `entries[0]`.
    @usableFromInline var foldedCount = 0
    /// For each footprint key, the latest entry key touching it, by use.
    @usableFromInline var lastTouch: [R.FootprintKey: LatestTouches] = [:]
    /// The latest entry whose footprint is `.everything`.
    @usableFromInline var lastGlobal: OrderKey?
    /// Entries folded since touches at or below the horizon were last
    /// forgotten.
    @usableFromInline var foldedSinceSweep = 0
    /// A cutoff at or below this stamp folds nothing (``fold(before:)``
    /// found so); nil when unknown.
    @usableFromInline var nothingFoldsThrough: Timestamp?
    /// Snapshots after this key taken before the latest commuting insert
    /// may lack that insert; `nil` when no snapshot can be stale.
    @usableFromInline var staleAfter: OrderKey?
    /// Bumped by every commuting insert; a snapshot records it when taken.
    @usableFromInline var version: UInt64 = 0

    /// A timeline that starts from `base` at `horizon`.
    public init(
        reducer: R,
        base: R.State,
        horizon: OrderKey? = nil,
        snapshotPolicy: SnapshotPolicy = .standard
    ) {
        self.reducer = reducer
        self.snapshotPolicy = snapshotPolicy
        self._state = base
        self._base = base
        self._horizon = horizon
    }

    /// The number of entries above the horizon.
    @inlinable
    public var count: Int { entries.count }

    /// The key of the latest entry, or the horizon when there is none.
    @inlinable
    public var lastKey: OrderKey? { entries.last?.orderKey ?? _horizon }

    /// How many entries hold a snapshot right now (valid or stale).
    public var snapshotCount: Int { entries.reduce(0) { $0 + ($1.hasSnapshot ? 1 : 0) } }

    /// The entries above the horizon, in total order.
    public var updates: some RandomAccessCollection<Update<R.Action>> { entries.lazy.map(\.update) }

    /// Whether an update with this key may still be inserted.
    @inlinable
    public func accepts(_ key: OrderKey) -> Bool {
        _horizon.map { key > $0 } ?? true
    }

    /// Puts an update at its place in the total order and brings `state` up
    /// to date.
    ///
    /// - Precondition: `accepts(update.orderKey)` and no entry has that key.
    /// - Complexity: O(1) applies when the update is the latest; O(k) footprint
    ///   lookups plus one apply when it commutes (k = its footprint's size);
    ///   otherwise the replay bound of ``SnapshotPolicy``. Placing the entry
    ///   costs O(64 + d/64) element moves (see `ChunkedArray`).
    @inlinable @discardableResult
    public mutating func insert(_ update: Update<R.Action>) -> Insertion {
        let key = update.orderKey
        precondition(accepts(key), "update \(update.id) lies at or below the horizon")
        if entries.isEmpty || key > entries[entries.count - 1].orderKey {
            append(update, key: key)
            return .appended
        }
        let position = insertionIndex(for: key)
        precondition(position == 0 || entries[position - 1].orderKey != key, "duplicate order key \(key)")
        let depth = entries.count - position
        let footprint = reducer.footprint(of: update)
        nothingFoldsThrough = nil
        entries.insert(Entry(update, snapshotVersion: nil), at: position)
        defer { thinSnapshots() }
        if commutes(footprint, at: key) {
            reducer.reduce(&_state, update)
            touch(footprint, key: key)
            version += 1
            staleAfter = staleAfter.map { min($0, key) } ?? key
            _statistics.commutes += 1
            return .commuted(depth: depth)
        }
        touch(footprint, key: key)
        let applies = replay(from: position)
        return .replayed(depth: depth, applies: applies)
    }

    /// Takes the entry with `key` out of the timeline and replays what
    /// followed it. Used to rebase an update the authority never accepted.
    /// - Returns: The removed update, or `nil` when no entry has that key.
    @inlinable @discardableResult
    public mutating func remove(_ key: OrderKey) -> Update<R.Action>? {
        let position = insertionIndex(for: key) - 1
        guard position >= 0, entries[position].orderKey == key else { return nil }
        let removed = entries.remove(at: position)
        if removed.hasSnapshot { snapshots[key] = nil }
        nothingFoldsThrough = nil
        // The footprint index keeps the removed key: an over-estimate of the
        // latest touch only ever causes a replay that was not needed.
        replay(from: position)
        thinSnapshots()
        return removed.update
    }

    /// Takes the entries with `keys` out of the timeline (keys with no entry
    /// are skipped) and replays once, from the first of them: rebasing a
    /// backlog of `n` updates costs one replay, not `n` (each of which
    /// replayed everything after it).
    /// - Returns: How many entries were removed.
    @inlinable @discardableResult
    public mutating func remove(_ keys: [OrderKey]) -> Int {
        var first: Int?
        var removed = 0
        // From the last: the positions of the ones before stay valid.
        for key in keys.sorted(by: >) {
            let position = insertionIndex(for: key) - 1
            guard position >= 0, entries[position].orderKey == key else { continue }
            if entries.remove(at: position).hasSnapshot { snapshots[key] = nil }
            first = position
            removed += 1
        }
        guard let first else { return 0 }
        nothingFoldsThrough = nil
        replay(from: first)
        thinSnapshots()
        return removed
    }

    /// Folds the oldest entries into the base so that at most `maxCount`
    /// remain. Folds on to the next valid snapshot within one snapshot
    /// interval, so usually no extra applies are needed (and between
    /// `maxCount - interval` and `maxCount` entries remain). When commuting
    /// inserts have left the snapshots there stale, it folds one interval
    /// (so that the next folds are not one entry at a time) and builds the
    /// base by applying entries; it never folds on past one interval, which
    /// would take away the places late updates need.
    /// - Parameters:
    ///   - ceiling: When given, nothing stamped at or after it is folded,
    ///     even if more than `maxCount` entries then remain.
    ///   - folded: Called with each folded update, oldest first (for a
    ///     replica that keeps them to serve other peers).
    /// - Complexity: O(folded entries).
    @inlinable
    public mutating func fold(
        keepingAtMost maxCount: Int, below ceiling: Timestamp? = nil,
        archiving folded: ((Update<R.Action>) -> Void)? = nil
    ) {
        let target = entries.count - maxCount - 1
        let limit = ceiling.map { firstIndex(atOrAfter: $0) - 1 } ?? entries.count - 1
        guard target >= 0, limit >= 0 else { return }
        let first = min(target, limit)
        let last = min(limit, first + snapshotPolicy.spacing(atDistance: entries.count - 1 - first))
        var position = first
        while position < last && !hasValidSnapshot(at: position) { position += 1 }
        fold(through: position, archiving: folded)
    }

    /// Folds every entry stamped strictly before `cutoff` into the base,
    /// except that up to one snapshot interval of them may stay until the
    /// next snapshot passes the cutoff (entries younger than the cutoff are
    /// always kept). It folds through the newest snapshot before the cutoff,
    /// found by its index, at no apply; only when commuting inserts have left
    /// that snapshot stale and more than one interval waits does it build
    /// the base by applying entries.
    /// - Parameter folded: Called with each folded update, oldest first.
    /// - Complexity: O(log n) when nothing folds.
    @inlinable
    public mutating func fold(before cutoff: Timestamp, archiving folded: ((Update<R.Action>) -> Void)? = nil) {
        if let notBefore = nothingFoldsThrough, cutoff <= notBefore { return }
        nothingFoldsThrough = nil
        let target = firstIndex(atOrAfter: cutoff) - 1
        guard target >= 0 else { return }
        if target == entries.count - 1 || hasValidSnapshot(at: target) {
            fold(through: target, archiving: folded)
            return
        }
        let spacing = snapshotPolicy.spacing(atDistance: entries.count - 1 - target)
        let keeper = target - (foldedCount + target + 1) % spacing
        if keeper >= 0 && hasValidSnapshot(at: keeper) {
            fold(through: keeper, archiving: folded)
        } else if target + 1 > spacing {
            fold(through: target, archiving: folded)
        } else {
            // Nothing folds until the cutoff passes the next keeper, or
            // leaves more than an interval unfolded: skip the searches until
            // then (an age limit asks on every append). A late insert or a
            // removal, which shift the entries, forgets this.
            let next = Swift.min(keeper + spacing, spacing)
            if next < entries.count { nothingFoldsThrough = entries[next].timestamp }
        }
    }

    /// The entry with `key`, if the timeline holds one.
    /// - Complexity: O(log n).
    @inlinable
    public func update(withKey key: OrderKey) -> Update<R.Action>? {
        let position = insertionIndex(for: key) - 1
        guard position >= 0, entries[position].orderKey == key else { return nil }
        return entries[position].update
    }

    /// The entries after `key`, oldest first (all of them when `key` is nil).
    public func updates(after key: OrderKey?) -> some RandomAccessCollection<Update<R.Action>> {
        let start = key.map { insertionIndex(for: $0) } ?? 0
        return entries[start...].lazy.map(\.update)
    }
}

extension Timeline {
    @inlinable
    mutating func append(_ update: Update<R.Action>, key: OrderKey) {
        reducer.reduce(&_state, update)
        // The newest key is the latest touch of everything it touches.
        switch reducer.footprint(of: update) {
        case .everything: lastGlobal = key
        case let footprint: footprint.forEachKey { lastTouch[$0, default: LatestTouches()][$1] = key }
        }
        let keep =
            snapshotPolicy.denseTail > 0
            || snapshotPolicy.isSparseKeeper(absoluteIndex: foldedCount + entries.count, distance: 0)
        entries.append(Entry(update, snapshotVersion: keep ? version : nil))
        if keep { snapshots[key] = _state }
        thinSnapshots()
        _statistics.appends += 1
    }

    /// Drops the snapshots of the entries that just left the dense tail and
    /// the regular tier, unless the tier they enter keeps them.
    @inlinable
    mutating func thinSnapshots() {
        if snapshotPolicy.denseTail > 0 { dropSnapshotUnlessKept(at: entries.count - 1 - snapshotPolicy.denseTail) }
        if snapshotPolicy.deepBeyond < entries.count {
            dropSnapshotUnlessKept(at: entries.count - 2 - snapshotPolicy.deepBeyond)
        }
    }

    @inlinable
    mutating func dropSnapshotUnlessKept(at position: Int) {
        guard position >= 0, !keepsSnapshot(at: position) else { return }
        let (chunk, offset) = entries.locate(position)
        guard entries.chunks[chunk][offset].hasSnapshot else { return }
        entries.chunks[chunk][offset].setSnapshot(false, version: version)
        snapshots[entries.chunks[chunk][offset].orderKey] = nil
    }

    @inlinable
    func keepsSnapshot(at position: Int) -> Bool {
        let distance = entries.count - 1 - position
        return distance < snapshotPolicy.denseTail
            || snapshotPolicy.isSparseKeeper(absoluteIndex: foldedCount + position, distance: distance)
    }

    @inlinable
    func hasValidSnapshot(at position: Int) -> Bool {
        let entry = entries[position]
        guard entry.hasSnapshot else { return false }
        guard let staleAfter, entry.orderKey > staleAfter else { return true }
        return entry.snapshotVersion == version
    }

    /// Rewinds to the nearest valid snapshot before `position` and replays
    /// every entry from there to the end, retaking snapshots on the way.
    /// - Returns: The number of applies.
    @inlinable @discardableResult
    mutating func replay(from position: Int) -> Int {
        var restore = position - 1
        while restore >= 0 && !hasValidSnapshot(at: restore) { restore -= 1 }
        _state = restore >= 0 ? snapshots[entries[restore].orderKey]! : _base
        if let staleAfter, restore < 0 || entries[restore].orderKey <= staleAfter {
            // Every snapshot from here on is about to be retaken.
            self.staleAfter = nil
        }
        let first = restore + 1
        if first < entries.count {
            // Walk the chunks with a cursor, not a lookup per index.
            var (chunk, offset) = entries.locate(first)
            for index in first..<entries.count {
                let update = entries.chunks[chunk][offset].update
                reducer.reduce(&_state, update)
                let keep = keepsSnapshot(at: index)
                if keep {
                    snapshots[update.orderKey] = _state
                } else if entries.chunks[chunk][offset].hasSnapshot {
                    snapshots[update.orderKey] = nil
                }
                entries.chunks[chunk][offset].setSnapshot(keep, version: version)
                entries.advance(&chunk, &offset)
            }
        }
        let applies = entries.count - first
        _statistics.rewinds += 1
        _statistics.replayedApplies += applies
        _statistics.deepestReplay = max(_statistics.deepestReplay, applies)
        _statistics.replayDepths.record(applies)
        return applies
    }

    @inlinable
    mutating func fold(through last: Int, archiving folded: ((Update<R.Action>) -> Void)?) {
        guard last >= 0 else { return }
        if last == entries.count - 1 {
            _base = _state
        } else if hasValidSnapshot(at: last) {
            _base = snapshots[entries[last].orderKey]!
        } else {
            var start = last
            while start >= 0 && !hasValidSnapshot(at: start) { start -= 1 }
            var folded = start >= 0 ? snapshots[entries[start].orderKey]! : _base
            entries.forEach(in: (start + 1)..<(last + 1)) { reducer.reduce(&folded, $0.update) }
            _statistics.foldApplies += last - start
            _base = folded
        }
        entries.forEach(in: 0..<(last + 1)) {
            if $0.hasSnapshot { snapshots[$0.orderKey] = nil }
            folded?($0.update)
        }
        let horizon = entries[last].orderKey
        _horizon = horizon
        forgetTouches(atOrBelow: horizon, folded: last + 1)
        entries.removeFirst(last + 1)
        foldedCount += last + 1
        _statistics.folded += last + 1
    }

    @inlinable
    func commutes(_ footprint: Footprint<R.FootprintKey>, at key: OrderKey) -> Bool {
        if case .everything = footprint { return false }
        if let lastGlobal, lastGlobal > key { return false }
        var disjoint = true
        footprint.forEachKey { footprintKey, access in
            if let touched = lastTouch[footprintKey], touched.latest(conflictingWith: access).map({ $0 > key }) == true
            {
                disjoint = false
            }
        }
        return disjoint
    }

    @inlinable
    mutating func touch(_ footprint: Footprint<R.FootprintKey>, key: OrderKey) {
        if case .everything = footprint {
            if lastGlobal.map({ key > $0 }) ?? true { lastGlobal = key }
            return
        }
        footprint.forEachKey { footprintKey, access in
            lastTouch[footprintKey, default: LatestTouches()].raise(access, to: key)
        }
    }

    /// Forgets touches at or below the horizon, once four times as many
    /// entries were folded since the last sweep as keys are tracked: a
    /// sweep rehashes the keys it keeps, so it costs O(1/4) per folded
    /// entry, where forgetting each folded entry's touches cost a footprint
    /// and its lookups. Keys touched only by entries folded since the last
    /// sweep wait for the next (at most four per tracked key). A touch at or
    /// below the horizon can never conflict (every insert lies above it),
    /// so keeping one longer is harmless.
    @inlinable
    mutating func forgetTouches(atOrBelow horizon: OrderKey, folded: Int) {
        if let lastGlobal, lastGlobal <= horizon { self.lastGlobal = nil }
        foldedSinceSweep += folded
        guard foldedSinceSweep >= 4 * Swift.max(lastTouch.count, 1_024) else { return }
        foldedSinceSweep = 0
        lastTouch = lastTouch.compactMapValues { $0.above(horizon) }
    }

    /// The index of the first entry whose key is greater than `key`.
    /// - Complexity: O(log n): by the chunks' first keys, then inside one
    ///   chunk; O(log 64) when the place is in the newest chunk.
    @inlinable
    func insertionIndex(for key: OrderKey) -> Int {
        firstIndex { $0.orderKey > key }
    }

    /// The index of the first entry stamped at or after `timestamp`.
    @inlinable
    func firstIndex(atOrAfter timestamp: Timestamp) -> Int {
        firstIndex { $0.timestamp >= timestamp }
    }

    /// The first index whose update satisfies `isPast`, which must be false
    /// for a prefix of the entries and true for the rest.
    @inlinable
    func firstIndex(where isPast: (Entry) -> Bool) -> Int {
        let chunks = entries.chunks
        guard let lastChunk = chunks.indices.last else { return 0 }
        // The last chunk whose first entry is not past (or the first chunk).
        var low = 0
        var high = lastChunk
        if !isPast(chunks[lastChunk][0]) {
            low = lastChunk
        } else {
            while low < high {
                let middle = (low + high + 1) / 2
                if !isPast(chunks[middle][0]) { low = middle } else { high = middle - 1 }
            }
        }
        let chunk = chunks[low]
        var lowOffset = 0
        var highOffset = chunk.count
        while lowOffset < highOffset {
            let middle = (lowOffset + highOffset) / 2
            if isPast(chunk[middle]) { highOffset = middle } else { lowOffset = middle + 1 }
        }
        return entries.starts[low] + lowOffset
    }
}

extension Timeline where R.State: Equatable {
    /// Recomputes everything from the base and reports each broken invariant:
    /// order, the horizon, `state`, and every snapshot considered valid.
    /// - Complexity: O(n) applies; for tests.
    func auditInvariants() -> [String] {
        var problems: [String] = []
        var expected = base
        var previous = horizon
        if snapshots.count != snapshotCount {
            problems.append("\(snapshots.count) snapshots but \(snapshotCount) entries with one")
        }
        for (index, entry) in entries.enumerated() {
            let update = entry.update
            let key = update.orderKey
            if let previous, key <= previous {
                problems.append("entry \(index) key \(key) not above \(previous)")
            }
            if entry.hasSnapshot != (snapshots[key] != nil) {
                problems.append("entry \(index) disagrees with the snapshots about its own")
            }
            previous = key
            reducer.reduce(&expected, update)
            if hasValidSnapshot(at: index), snapshots[key] != expected {
                problems.append("valid snapshot at entry \(index) differs from the reduce up to it")
            }
        }
        if _state != expected { problems.append("state differs from the reduce of base and entries") }
        return problems
    }
}

/// The latest entry touching one footprint key, for each ``KeyAccess``.
@usableFromInline
struct LatestTouches: Sendable {
    @usableFromInline var exclusive: OrderKey?
    @usableFromInline var read: OrderKey?
    @usableFromInline var commutingWrite: OrderKey?

    @inlinable init() {}

    @inlinable
    subscript(access: KeyAccess) -> OrderKey? {
        get {
            switch access {
            case .exclusive: exclusive
            case .read: read
            case .commutingWrite: commutingWrite
            }
        }
        set {
            switch access {
            case .exclusive: exclusive = newValue
            case .read: read = newValue
            case .commutingWrite: commutingWrite = newValue
            }
        }
    }

    @inlinable
    var isEmpty: Bool { exclusive == nil && read == nil && commutingWrite == nil }

    /// These touches without those at or below `horizon`; nil when none
    /// is left.
    @inlinable
    func above(_ horizon: OrderKey) -> LatestTouches? {
        var kept = self
        if let touch = exclusive, touch <= horizon { kept.exclusive = nil }
        if let touch = read, touch <= horizon { kept.read = nil }
        if let touch = commutingWrite, touch <= horizon { kept.commutingWrite = nil }
        return kept.isEmpty ? nil : kept
    }

    /// Records a touch at `key`, unless a later one is already recorded.
    @inlinable
    mutating func raise(_ access: KeyAccess, to key: OrderKey) {
        if let touched = self[access], touched > key { return }
        self[access] = key
    }

    /// The latest touch that does not commute with a use by `access`.
    @inlinable
    func latest(conflictingWith access: KeyAccess) -> OrderKey? {
        switch access {
        case .exclusive: Self.later(exclusive, Self.later(read, commutingWrite))
        case .read: Self.later(exclusive, commutingWrite)
        case .commutingWrite: Self.later(exclusive, read)
        }
    }

    @inlinable
    static func later(_ a: OrderKey?, _ b: OrderKey?) -> OrderKey? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }
}
