import DequeModule

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
    /// Entries folded into the base.
    public var folded = 0
    /// Applies spent building a base where no snapshot stood at the fold point.
    public var foldApplies = 0
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
    struct Entry {
        let update: Update<R.Action>
        let key: OrderKey
        var snapshot: R.State?
        var snapshotVersion: UInt64
    }

    /// The reducer that turns entries into state.
    public let reducer: R
    /// Which entries keep snapshots.
    public let snapshotPolicy: SnapshotPolicy
    /// The reduce of the base and every entry: what the app shows.
    public private(set) var state: R.State
    /// The state at the horizon: everything folded so far.
    public private(set) var base: R.State
    /// The key of the last folded update; nothing at or below it can be
    /// inserted. `nil` while nothing has been folded.
    public private(set) var horizon: OrderKey?
    /// Work counters.
    public private(set) var statistics = TimelineStatistics()

    private var entries: Deque<Entry> = []
    /// How many entries were ever folded: the absolute index of `entries[0]`.
    private var foldedCount = 0
    /// For each footprint key, the latest entry key touching it.
    private var lastTouch: [R.FootprintKey: OrderKey] = [:]
    /// The latest entry whose footprint is `.everything`.
    private var lastGlobal: OrderKey?
    /// Snapshots after this key taken before the latest commuting insert
    /// may lack that insert; `nil` when no snapshot can be stale.
    private var staleAfter: OrderKey?
    /// Bumped by every commuting insert; a snapshot records it when taken.
    private var version: UInt64 = 0

    /// A timeline that starts from `base` at `horizon`.
    public init(
        reducer: R,
        base: R.State,
        horizon: OrderKey? = nil,
        snapshotPolicy: SnapshotPolicy = .standard
    ) {
        self.reducer = reducer
        self.snapshotPolicy = snapshotPolicy
        self.state = base
        self.base = base
        self.horizon = horizon
    }

    /// The number of entries above the horizon.
    public var count: Int { entries.count }

    /// The key of the latest entry, or the horizon when there is none.
    public var lastKey: OrderKey? { entries.last?.key ?? horizon }

    /// How many entries hold a snapshot right now (valid or stale).
    public var snapshotCount: Int { entries.reduce(0) { $0 + ($1.snapshot == nil ? 0 : 1) } }

    /// The entries above the horizon, in total order.
    public var updates: some RandomAccessCollection<Update<R.Action>> { entries.lazy.map(\.update) }

    /// Whether an update with this key may still be inserted.
    public func accepts(_ key: OrderKey) -> Bool {
        horizon.map { key > $0 } ?? true
    }

    /// Puts an update at its place in the total order and brings `state` up
    /// to date.
    ///
    /// - Precondition: `accepts(update.orderKey)` and no entry has that key.
    /// - Complexity: O(1) applies when the update is the latest; O(k) footprint
    ///   lookups plus one apply when it commutes (k = its footprint's size);
    ///   otherwise the replay bound of ``SnapshotPolicy``. Placing an entry
    ///   `d` from the end also moves `d` entries in memory.
    @discardableResult
    public mutating func insert(_ update: Update<R.Action>) -> Insertion {
        let key = update.orderKey
        precondition(accepts(key), "update \(update.id) lies at or below the horizon")
        if entries.isEmpty || key > entries[entries.count - 1].key {
            append(update, key: key)
            return .appended
        }
        let position = insertionIndex(for: key)
        precondition(position == 0 || entries[position - 1].key != key, "duplicate order key \(key)")
        let depth = entries.count - position
        let footprint = reducer.footprint(of: update)
        entries.insert(Entry(update: update, key: key, snapshot: nil, snapshotVersion: 0), at: position)
        defer { thinDenseTail() }
        if commutes(footprint, at: key) {
            reducer.reduce(&state, update)
            touch(footprint, key: key)
            version += 1
            staleAfter = staleAfter.map { min($0, key) } ?? key
            statistics.commutes += 1
            return .commuted(depth: depth)
        }
        touch(footprint, key: key)
        let applies = replay(from: position)
        return .replayed(depth: depth, applies: applies)
    }

    /// Takes the entry with `key` out of the timeline and replays what
    /// followed it. Used to rebase an update the authority never accepted.
    /// - Returns: The removed update, or `nil` when no entry has that key.
    @discardableResult
    public mutating func remove(_ key: OrderKey) -> Update<R.Action>? {
        let position = insertionIndex(for: key) - 1
        guard position >= 0, entries[position].key == key else { return nil }
        let removed = entries.remove(at: position)
        // The footprint index keeps the removed key: an over-estimate of the
        // latest touch only ever causes a replay that was not needed.
        replay(from: position)
        thinDenseTail()
        return removed.update
    }

    /// Folds the oldest entries into the base so that at most `maxCount`
    /// remain. Folds on to the next snapshot, so no extra applies are needed
    /// (and between `maxCount - interval` and `maxCount` entries remain).
    /// - Parameter ceiling: When given, nothing stamped at or after it is
    ///   folded, even if more than `maxCount` entries then remain.
    /// - Complexity: O(folded entries) footprint lookups.
    public mutating func fold(keepingAtMost maxCount: Int, below ceiling: Timestamp? = nil) {
        let target = entries.count - maxCount - 1
        let limit = ceiling.map { firstIndex(atOrAfter: $0) - 1 } ?? entries.count - 1
        guard target >= 0, limit >= 0 else { return }
        var position = target
        while position < limit && !hasValidSnapshot(entries[position]) { position += 1 }
        fold(through: min(position, limit))
    }

    /// Folds every entry stamped strictly before `cutoff` into the base,
    /// except that up to one snapshot interval of them may stay until the
    /// next snapshot passes the cutoff (entries younger than the cutoff are
    /// always kept).
    public mutating func fold(before cutoff: Timestamp) {
        let target = firstIndex(atOrAfter: cutoff) - 1
        guard target >= 0 else { return }
        var position = target
        let lowest = max(0, target - snapshotPolicy.interval)
        while position >= lowest && position != entries.count - 1 && !hasValidSnapshot(entries[position]) {
            position -= 1
        }
        fold(through: position >= lowest ? position : target)
    }

    /// The entries after `key`, oldest first (all of them when `key` is nil).
    public func updates(after key: OrderKey?) -> some RandomAccessCollection<Update<R.Action>> {
        let start = key.map { insertionIndex(for: $0) } ?? 0
        return entries[start...].lazy.map(\.update)
    }
}

extension Timeline {
    private mutating func append(_ update: Update<R.Action>, key: OrderKey) {
        reducer.reduce(&state, update)
        touch(reducer.footprint(of: update), key: key)
        let keep =
            snapshotPolicy.denseTail > 0
            || snapshotPolicy.isSparseKeeper(absoluteIndex: foldedCount + entries.count)
        entries.append(Entry(update: update, key: key, snapshot: keep ? state : nil, snapshotVersion: version))
        thinDenseTail()
        statistics.appends += 1
    }

    /// Drops the snapshot of the entry that just left the dense tail, unless
    /// it is one of the sparse keepers.
    private mutating func thinDenseTail() {
        guard snapshotPolicy.denseTail > 0 else { return }
        let leaving = entries.count - 1 - snapshotPolicy.denseTail
        guard leaving >= 0, entries[leaving].snapshot != nil,
            !snapshotPolicy.isSparseKeeper(absoluteIndex: foldedCount + leaving)
        else { return }
        entries[leaving].snapshot = nil
    }

    private func keepsSnapshot(at position: Int) -> Bool {
        entries.count - 1 - position < snapshotPolicy.denseTail
            || snapshotPolicy.isSparseKeeper(absoluteIndex: foldedCount + position)
    }

    private func hasValidSnapshot(_ entry: Entry) -> Bool {
        guard entry.snapshot != nil else { return false }
        guard let staleAfter, entry.key > staleAfter else { return true }
        return entry.snapshotVersion == version
    }

    /// Rewinds to the nearest valid snapshot before `position` and replays
    /// every entry from there to the end, retaking snapshots on the way.
    /// - Returns: The number of applies.
    @discardableResult
    private mutating func replay(from position: Int) -> Int {
        var restore = position - 1
        while restore >= 0 && !hasValidSnapshot(entries[restore]) { restore -= 1 }
        state = restore >= 0 ? entries[restore].snapshot! : base
        if let staleAfter, restore < 0 || entries[restore].key <= staleAfter {
            // Every snapshot from here on is about to be retaken.
            self.staleAfter = nil
        }
        let first = restore + 1
        for index in first..<entries.count {
            reducer.reduce(&state, entries[index].update)
            if keepsSnapshot(at: index) {
                entries[index].snapshot = state
                entries[index].snapshotVersion = version
            } else {
                entries[index].snapshot = nil
            }
        }
        let applies = entries.count - first
        statistics.rewinds += 1
        statistics.replayedApplies += applies
        statistics.deepestReplay = max(statistics.deepestReplay, applies)
        return applies
    }

    private mutating func fold(through last: Int) {
        guard last >= 0 else { return }
        if last == entries.count - 1 {
            base = state
        } else if hasValidSnapshot(entries[last]) {
            base = entries[last].snapshot!
        } else {
            var start = last
            while start >= 0 && !hasValidSnapshot(entries[start]) { start -= 1 }
            var folded = start >= 0 ? entries[start].snapshot! : base
            for index in (start + 1)...last { reducer.reduce(&folded, entries[index].update) }
            statistics.foldApplies += last - start
            base = folded
        }
        for index in 0...last { untouch(entries[index]) }
        horizon = entries[last].key
        entries.removeFirst(last + 1)
        foldedCount += last + 1
        statistics.folded += last + 1
    }

    private func commutes(_ footprint: Footprint<R.FootprintKey>, at key: OrderKey) -> Bool {
        if case .everything = footprint { return false }
        if let lastGlobal, lastGlobal > key { return false }
        var disjoint = true
        footprint.forEachKey { footprintKey in
            if let touched = lastTouch[footprintKey], touched > key { disjoint = false }
        }
        return disjoint
    }

    private mutating func touch(_ footprint: Footprint<R.FootprintKey>, key: OrderKey) {
        if case .everything = footprint {
            if lastGlobal.map({ key > $0 }) ?? true { lastGlobal = key }
            return
        }
        footprint.forEachKey { footprintKey in
            if let touched = lastTouch[footprintKey], touched > key { return }
            lastTouch[footprintKey] = key
        }
    }

    private mutating func untouch(_ entry: Entry) {
        let footprint = reducer.footprint(of: entry.update)
        if case .everything = footprint {
            if lastGlobal == entry.key { lastGlobal = nil }
            return
        }
        footprint.forEachKey { footprintKey in
            if lastTouch[footprintKey] == entry.key { lastTouch[footprintKey] = nil }
        }
    }

    /// The index of the first entry whose key is greater than `key`.
    /// - Complexity: O(log n).
    private func insertionIndex(for key: OrderKey) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].key > key { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The index of the first entry stamped at or after `timestamp`.
    private func firstIndex(atOrAfter timestamp: Timestamp) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].key.timestamp >= timestamp { high = middle } else { low = middle + 1 }
        }
        return low
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
        for (index, entry) in entries.enumerated() {
            if let previous, entry.key <= previous {
                problems.append("entry \(index) key \(entry.key) not above \(previous)")
            }
            previous = entry.key
            reducer.reduce(&expected, entry.update)
            if hasValidSnapshot(entry), entry.snapshot != expected {
                problems.append("valid snapshot at entry \(index) differs from the reduce up to it")
            }
        }
        if state != expected { problems.append("state differs from the reduce of base and entries") }
        return problems
    }
}
