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

    /// Refuses an action that no replica may apply, before it enters any log.
    /// The default accepts everything.
    func validate(_ action: Action) throws
}

extension Reducer {
    /// Accepts every action.
    public func validate(_ action: Action) throws {}
}

/// The keys an update reads or writes, as declared by a ``Reducer``.
public enum Footprint<Key: Hashable & Sendable>: Sendable {
    /// Touches nothing that any other update touches.
    case nothing
    /// Touches one key; the common case, kept allocation-free.
    case one(Key)
    /// Touches several keys.
    case many([Key])
    /// Conflicts with every other update (e.g. "clear the board").
    case everything

    /// Calls `body` for each key; does nothing for `.nothing` and `.everything`.
    @inlinable
    public func forEachKey(_ body: (Key) -> Void) {
        switch self {
        case .nothing, .everything: return
        case .one(let key): body(key)
        case .many(let keys): keys.forEach(body)
        }
    }
}
