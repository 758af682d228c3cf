/// Turns a log of actions into state, redux-style, and declares what each
/// action touches so that late actions can skip replay when they commute.
///
/// `reduce` must be a pure, deterministic function of the state and the
/// update: every replica calls it in the same total order and must arrive at
/// the same state. Element ids and the like should come from the update's
/// `(origin, seq)`, never from a counter that depends on arrival.
public protocol Reducer: Sendable {
    /// The state the log reduces to. Prefer persistent collections
    /// (e.g. `TreeDictionary`) so that snapshots cost O(1).
    associatedtype State: Sendable
    /// What peers record.
    associatedtype Action: Sendable
    /// The unit of conflict: two updates conflict when their footprints share
    /// a key, or when either footprint is ``Footprint/everything``.
    associatedtype FootprintKey: Hashable & Sendable

    /// Applies one update to the state.
    func reduce(_ state: inout State, _ update: Update<Action>)

    /// What `update` reads or writes.
    ///
    /// Two updates with disjoint footprints must commute: applying them in
    /// either order must give equal states. When unsure, return
    /// ``Footprint/everything``; that is always correct, only slower.
    func footprint(of update: Update<Action>) -> Footprint<FootprintKey>

    /// Refuses an action that no replica may apply, before it enters any
    /// log: `origin` is the peer that authored it (an action may concern
    /// what only its author may touch). The default accepts everything.
    func validate(_ action: Action, by origin: PeerID) throws
}

extension Reducer {
    /// Accepts every action.
    public func validate(_ action: Action, by origin: PeerID) throws {}
}

/// How an update uses a footprint key. Two uses of the same key conflict
/// unless both read it, or both make commuting writes to it.
public enum KeyAccess: UInt8, Sendable, Hashable, CaseIterable {
    /// Reads and writes it in ways that commute with nothing else on it.
    case exclusive
    /// Only reads it.
    case read
    /// Changes it in a way that commutes with every other commuting write to
    /// it (adding to a set, adding to a sum), but that a read can observe.
    case commutingWrite

    /// Whether two updates using one key these ways may be applied in
    /// either order.
    @inlinable
    public func commutes(with other: KeyAccess) -> Bool {
        self == other && self != .exclusive
    }
}

/// The keys an update reads or writes, as declared by a ``Reducer``.
public enum Footprint<Key: Hashable & Sendable>: Sendable {
    /// Touches nothing that any other update touches.
    case nothing
    /// Touches one key exclusively; the common case, kept allocation-free.
    case one(Key)
    /// Touches several keys exclusively.
    case many([Key])
    /// Touches several keys, each in its own way (see ``KeyAccess``).
    case accesses([(key: Key, access: KeyAccess)])
    /// Conflicts with every other update (e.g. "clear the board").
    case everything

    /// Calls `body` for each key and its use; does nothing for `.nothing`
    /// and `.everything`.
    @inlinable
    public func forEachKey(_ body: (Key, KeyAccess) -> Void) {
        switch self {
        case .nothing, .everything: return
        case .one(let key): body(key, .exclusive)
        case .many(let keys): for key in keys { body(key, .exclusive) }
        case .accesses(let accesses): for (key, access) in accesses { body(key, access) }
        }
    }

    /// Whether an update with this footprint and one with `other` might not
    /// commute: they share a key in ways that do not commute, or either
    /// touches everything.
    public func conflicts(with other: Footprint) -> Bool {
        if case .everything = self { return true }
        if case .everything = other { return true }
        var mine: [Key: [KeyAccess]] = [:]
        forEachKey { key, access in mine[key, default: []].append(access) }
        var conflict = false
        other.forEachKey { key, access in
            if mine[key]?.contains(where: { !$0.commutes(with: access) }) == true { conflict = true }
        }
        return conflict
    }
}
