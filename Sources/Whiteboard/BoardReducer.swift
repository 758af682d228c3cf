import HashTreeCollections
import Scuttlebutt

/// What a board action touches, for the timeline's commute check.
public enum BoardFootprintKey: Hashable, Sendable {
    /// One element.
    case element(ElementID)
    /// One origin's undo history.
    case undoHistory(PeerID)
}

/// Reduces ``BoardAction``s into a ``Board``. Deterministic: every replica
/// that applies the same updates in the same order gets an equal board.
/// Undo semantics are in docs/UNDO.md.
public struct BoardReducer: Reducer {
    /// The board.
    public typealias State = Board
    /// What peers record.
    public typealias Action = BoardAction

    /// The bounds actions are validated against.
    public let limits: BoardLimits

    /// The snapshot policy a board replica should use: one snapshot every 64
    /// entries, and one in 4,096 beyond the newest 4,096; no dense tail.
    ///
    /// A snapshot pins the copies the next applies make of the persistent
    /// board (a leaf of the element table, the element's box, its stroke's
    /// tail), and those copies cost time to make and to free. A snapshot on
    /// every append (the dense tail of ``SnapshotPolicy/standard``) made a
    /// stroke extend on a 10 000-element board cost 3.1 µs instead of
    /// 0.44 µs. On the shared workload W1, with full history, a snapshot
    /// every 16 entries cost 1,326 heap bytes per action and every 64 749.
    /// Deep snapshots pin what changed between them, and W1's moves touch
    /// old elements at random, so they cost about the same whatever their
    /// spacing until it grows past the moves' reach: one in 1,024 deep cost
    /// 74 bytes per action of the 202 the replica held, one in 4,096 46.
    /// The price is the rewind bound: a conflicting late update at depth
    /// `d` costs up to `d + 64` applies (`d + 4,096` beyond 4,096 entries:
    /// at ~0.3 µs an apply, a millisecond more for an update that late).
    /// Since no board footprint reads geometry, late board updates conflict
    /// only when they touch the same element; the rest commute and skip
    /// replay.
    public static let recommendedSnapshotPolicy = SnapshotPolicy(
        denseTail: 0, interval: 64, deepBeyond: 4_096, deepInterval: 4_096)

    /// A reducer with the given limits.
    public init(limits: BoardLimits = BoardLimits()) {
        self.limits = limits
    }

    /// Refuses an action that breaks ``limits``, and one that continues a
    /// gesture of another origin: only a stroke's author may extend or end
    /// it, and only an erase's author may continue it.
    public func validate(_ action: BoardAction, by origin: PeerID) throws {
        try limits.validate(action)
        switch action {
        case .extendStroke(let element, _), .endStroke(let element), .continueErase(let element, _),
            .continueErasing(let element, _):
            guard element.origin == origin else { throw BoardValidationError.notTheAuthor(element, origin: origin) }
        default:
            break
        }
    }

    /// What each action reads or writes (the argument is in docs/UNDO.md,
    /// "What commutes"). No action reads geometry, except the legacy
    /// ``BoardAction/eraseArea(_:)``, so footprints never depend on how far
    /// an action's points spread:
    /// - element-local actions use their element exclusively, and the
    ///   origin's undo history when they can be undone;
    /// - an erase uses its origin's undo history exclusively and makes a
    ///   commuting write (a hiding mark, added to a set) to each element it
    ///   names;
    /// - undo and redo use their origin's undo history: what they revert or
    ///   redo is a set of marks, a sum of offsets or a set of style writes,
    ///   all of which commute with what anyone else does to those elements;
    /// - `clear` and the legacy area erase depend on the whole board.
    public func footprint(of update: Update<BoardAction>) -> Footprint<BoardFootprintKey> {
        switch update.action {
        case .beginStroke, .addShape, .addText:
            return .many([.element(update.id), .undoHistory(update.origin)])
        case .extendStroke(let id, _), .endStroke(let id):
            return .one(.element(id))
        case .move(let id, _), .restyle(let id, _), .delete(let id):
            return .many([.element(id), .undoHistory(update.origin)])
        case .erase(let ids), .continueErasing(_, let ids):
            var accesses: [(key: BoardFootprintKey, access: KeyAccess)] = [(.undoHistory(update.origin), .exclusive)]
            accesses.reserveCapacity(ids.count + 1)
            for id in ids { accesses.append((.element(id), .commutingWrite)) }
            return .accesses(accesses)
        case .undo, .redo:
            return .one(.undoHistory(update.origin))
        case .eraseArea, .continueErase, .clear:
            return .everything
        }
    }

    /// The shape an action creates, if it creates one.
    static func shape(of action: BoardAction) -> Shape? {
        switch action {
        case .beginStroke(let point, _): .stroke(PointList([point]))
        case .addShape(.line, let from, let to, _): .line(from, to)
        case .addShape(.rectangle, let from, let to, _): .rectangle(Rect(corner: from, to))
        case .addShape(.ellipse, let from, let to, _): .ellipse(Rect(corner: from, to))
        case .addText(let point, let text, _): .text(point, text)
        default: nil
        }
    }

    /// Applies one update. Actions on elements that do not exist (never
    /// did, or were pruned) change nothing but their origin's undo history;
    /// strokes extended by anyone but their author change nothing.
    public func reduce(_ board: inout Board, _ update: Update<BoardAction>) {
        switch update.action {
        case .beginStroke(_, let style), .addShape(_, _, _, let style), .addText(_, _, let style):
            guard let shape = Self.shape(of: update.action) else { return }
            create(Element(id: update.id, z: update.orderKey, shape: shape, style: style), in: &board)
        case .extendStroke(let id, let points):
            board.modifyElement(id, appending: points) { element in
                guard element.isOpen, element.id.origin == update.origin else { return false }
                return element.appendToStroke(points, limit: limits.maxPointsPerStroke)
            }
        case .endStroke(let id):
            modify(id, in: &board) { element in
                guard element.isOpen, element.id.origin == update.origin else { return false }
                element.isOpen = false
                return true
            }
        // A move, restyle, delete or erase is recorded for undo whether or
        // not its elements are still on the board: one may have been
        // pruned (rule 16) by an update it commutes with, and the undo
        // history must not depend on which came first.
        case .move(let id, let offset):
            // An open stroke moves too: its points are its own, the offset
            // applies to all of them, later extends included.
            modify(id, in: &board) { element in
                element.offset = element.offset.offset(by: offset)
                return true
            }
            push(.moved(id, by: offset), for: update.origin, in: &board)
        case .restyle(let id, let style):
            let write = StyleWrite(key: update.orderKey, style: style)
            modify(id, in: &board) { $0.addRestyle(write, by: update.id) }
            push(.restyled(id, write: update.id, write), for: update.origin, in: &board)
        case .delete(let id):
            modify(id, in: &board) { $0.hiddenBy.insert(update.id).inserted }
            push(.hid([id], by: update.id), for: update.origin, in: &board)
        case .erase(let ids):
            hide(distinct(ids), by: update.id, for: update.origin, in: &board)
        case .continueErasing(let gesture, let ids):
            // Only the origin's own drag, begun before this part of it.
            guard gesture.origin == update.origin, gesture.seq < update.seq else { return }
            extendErase(gesture, hiding: distinct(ids), for: update.origin, in: &board)
        case .eraseArea(let area):
            // Hidden elements too: the erase's mark then does not depend on
            // what others hid, so erases commute with every other hide.
            let touched = board.elements.values.filter { Self.touches($0, area) }.map(\.id)
            hide(touched, by: update.id, for: update.origin, in: &board)
        case .continueErase(let gesture, let area):
            // Only the origin's own drag, begun before this part of it.
            guard gesture.origin == update.origin, gesture.seq < update.seq else { return }
            let touched = board.elements.values.filter { Self.touches($0, area) }.map(\.id)
            extendErase(gesture, hiding: touched, for: update.origin, in: &board)
        case .clear:
            let before = board.elements.values.filter { $0.z < update.orderKey }.map(\.id)
            hide(before, by: update.id, for: update.origin, in: &board)
        case .undo:
            guard let record = board.undoHistories.mutateValue(forKey: update.origin, { $0.popForUndo() }) ?? nil
            else { return }
            revert(record, in: &board)
        case .redo:
            guard let record = board.undoHistories.mutateValue(forKey: update.origin, { $0.popForRedo() }) ?? nil
            else { return }
            reapply(record, in: &board)
        }
    }

    private func create(_ element: Element, in board: inout Board) {
        board.insert(element)
        push(.created(element.id), for: element.id.origin, in: &board)
    }

    /// `ids`, each once. An erase marks hidden elements too, so that what it
    /// marks does not depend on what others hid, and records the ones no
    /// longer on the board, so that its undo record does not depend on
    /// what was pruned.
    private func distinct(_ ids: [ElementID]) -> [ElementID] {
        var seen = Set<ElementID>()
        return ids.filter { seen.insert($0).inserted }
    }

    private func hide(_ ids: [ElementID], by mark: UpdateID, for origin: PeerID, in board: inout Board) {
        guard !ids.isEmpty else { return }
        // A canonical order, so that the undo record is equal everywhere.
        let sorted = ids.sorted { ($0.origin, $0.seq) < ($1.origin, $1.seq) }
        for id in sorted { board.modifyElement(id) { $0.hiddenBy.insert(mark).inserted } }
        push(.hid(sorted, by: mark), for: origin, in: &board)
    }

    /// Hides `ids` under an eraser drag's mark (its first erase's id). When
    /// the drag's record is the origin's latest, they join it, so one undo
    /// reverts the whole drag; otherwise (it was undone, or erased nothing
    /// so far) they start a record of their own under the same mark.
    private func extendErase(_ gesture: UpdateID, hiding ids: [ElementID], for origin: PeerID, in board: inout Board) {
        guard !ids.isEmpty else { return }
        guard case .hid(let earlier, let mark)? = board.undoHistories[origin]?.latest, mark == gesture else {
            hide(ids, by: gesture, for: origin, in: &board)
            return
        }
        for id in ids { board.modifyElement(id) { $0.hiddenBy.insert(gesture).inserted } }
        let merged = Set(earlier).union(ids).sorted { ($0.origin, $0.seq) < ($1.origin, $1.seq) }
        let lost = board.undoHistories.mutateValue(forKey: origin) { $0.replaceLatest(with: .hid(merged, by: gesture)) }
        prune(UndoHistory.Lost(redoable: lost ?? []), in: &board)
    }

    /// Applies `change` to element `id` if it exists.
    /// - Returns: Whether the element exists and `change` reported an effect.
    @discardableResult
    private func modify(_ id: ElementID, in board: inout Board, _ change: (inout Element) -> Bool) -> Bool {
        board.modifyElement(id, change)
    }

    private func push(_ record: UndoRecord, for origin: PeerID, in board: inout Board) {
        let lost = board.undoHistories[origin, default: UndoHistory()].push(record, depth: limits.undoDepth)
        prune(lost, in: &board)
    }

    /// Forgets what records going out of reach make irrelevant for good.
    /// Removes the elements they leave hidden (docs/UNDO.md, rule 16): an
    /// element still carrying the mark of a hiding that can no longer be
    /// undone, or hidden by the undo of its creation when that can no
    /// longer be redone. One mark that can never be lifted is enough: an
    /// element shows only when none is left. Drops the restyles a restyle
    /// that can no longer be undone outranks (rule 17).
    private func prune(_ lost: UndoHistory.Lost, in board: inout Board) {
        switch lost.undoable {
        case .hid(let ids, let mark)?:
            for id in ids where board.elements[id]?.hiddenBy.contains(mark) == true { board.remove(id) }
        case .restyled(let id, let writeID, let write)?:
            modify(id, in: &board) { $0.makePermanent(write, by: writeID) }
        default:
            break
        }
        for case .created(let id) in lost.redoable where board.elements[id]?.hiddenBy.contains(id) == true {
            board.remove(id)
        }
    }

    private func revert(_ record: UndoRecord, in board: inout Board) {
        switch record {
        case .created(let id):
            modify(id, in: &board) { $0.hiddenBy.insert(id).inserted }
        case .moved(let id, let offset):
            modify(id, in: &board) {
                $0.offset = $0.offset.offset(by: Point(0 &- offset.x, 0 &- offset.y))
                return true
            }
        case .restyled(let id, let write, _):
            modify(id, in: &board) { $0.restyles.removeValue(forKey: write) != nil }
        case .hid(let ids, let by):
            for id in ids { modify(id, in: &board) { $0.hiddenBy.remove(by) != nil } }
        }
    }

    private func reapply(_ record: UndoRecord, in board: inout Board) {
        switch record {
        case .created(let id):
            modify(id, in: &board) { $0.hiddenBy.remove(id) != nil }
        case .moved(let id, let offset):
            modify(id, in: &board) {
                $0.offset = $0.offset.offset(by: offset)
                return true
            }
        case .restyled(let id, let writeID, let write):
            modify(id, in: &board) { $0.addRestyle(write, by: writeID) }
        case .hid(let ids, let by):
            for id in ids { modify(id, in: &board) { $0.hiddenBy.insert(by).inserted } }
        }
    }

    /// Whether an element (as moved) touches `area`: strokes by any point,
    /// other shapes by their bounds.
    static func touches(_ element: Element, _ area: Rect) -> Bool {
        guard element.bounds.intersects(area) else { return false }
        guard case .stroke(let points) = element.shape else { return true }
        let local = area.offset(by: Point(0 &- element.offset.x, 0 &- element.offset.y))
        return points.contains { local.contains($0) }
    }
}

extension ReplicaConfiguration {
    /// How a board replica is set up: history kept above the stable frontier,
    /// the board's snapshot policy; `isAuthority` for the server's replica.
    ///
    /// Updates are kept to send to others only above the horizon: below it
    /// they are final and in the server's durable log, which serves (or
    /// snapshots) them to whoever lacks them; a client kept every update it
    /// ever saw, so a long session grew by every update of the room.
    public static func board(isAuthority: Bool) -> ReplicaConfiguration {
        var configuration = ReplicaConfiguration()
        configuration.isAuthority = isAuthority
        configuration.historyLimit = .frontier
        configuration.logRetention = .aboveHorizon
        configuration.snapshotPolicy = BoardReducer.recommendedSnapshotPolicy
        return configuration
    }
}
