import HashTreeCollections
import Scuttlebutt

/// What an undoable action did, so that undo and redo can revert and
/// re-apply it. See docs/UNDO.md for the rules.
enum UndoRecord: Sendable, Equatable {
    /// An element was created (stroke, shape or text).
    case created(ElementID)
    /// An element was moved by an offset.
    case moved(ElementID, by: Point)
    /// A restyle was put in effect.
    case restyled(ElementID, write: UpdateID, StyleWrite)
    /// Elements were hidden by a delete, erase or clear.
    case hid([ElementID], by: UpdateID)
}

/// A node of a persistent stack of undo records.
final class UndoNode: Sendable {
    let record: UndoRecord
    /// Position from the bottom of its stack, 1-based.
    let height: UInt64
    let below: UndoNode?
    /// A node further down (nil: below the bottom), placed by Myers' skew
    /// binary rule, so that ``node(atHeight:)`` takes O(log n) steps.
    let jump: UndoNode?

    init(_ record: UndoRecord, below: UndoNode?) {
        self.record = record
        self.height = (below?.height ?? 0) + 1
        self.below = below
        let next = below?.jump
        let afterNext = next?.jump
        if let below, below.height - (next?.height ?? 0) == (next?.height ?? 0) - (afterNext?.height ?? 0) {
            jump = afterNext
        } else {
            jump = below
        }
    }

    /// The node at `height` in this node's stack (at most its own height).
    /// - Complexity: O(log height).
    func node(atHeight target: UInt64) -> UndoNode? {
        var node = self
        while node.height > target {
            if let jump = node.jump, jump.height >= target {
                node = jump
            } else if let below = node.below {
                node = below
            } else {
                return nil
            }
        }
        return node.height == target ? node : nil
    }
}

/// One origin's undo history: two persistent stacks (done, and undone for
/// redo). Push, undo and redo are O(1) and share structure with every
/// snapshot of the board.
///
/// At most `depth` actions (``BoardLimits/undoDepth``) can be undone in a
/// row: records at or below `floor` are out of reach, and the stack is
/// compacted to `depth` records whenever it grows past twice that
/// (amortized O(1)).
struct UndoHistory: Sendable, Equatable {
    /// What a push put out of reach for good.
    struct Lost {
        /// The record that fell below the undo depth, if one did.
        var undoable: UndoRecord?
        /// The records that could have been redone.
        var redoable: [UndoRecord] = []
    }

    private(set) var done: UndoNode?
    private(set) var undone: UndoNode?
    private(set) var floor: UInt64 = 0

    /// An empty history.
    init() {}

    /// A history that can undo `undoable` (newest first) and redo
    /// `redoable` (next first): the inverse of ``undoable`` and ``redoable``.
    init(undoable: [UndoRecord], redoable: [UndoRecord]) {
        for record in undoable.reversed() { done = UndoNode(record, below: done) }
        for record in redoable.reversed() { undone = UndoNode(record, below: undone) }
    }

    /// Pushes a new action's record; nothing can be redone afterwards.
    /// - Returns: What went out of reach. Which record falls below the
    ///   depth depends only on the records that can be undone, never on how
    ///   the stack is laid out (a decoded history is laid out afresh), so
    ///   every replica loses the same records at the same update.
    /// - Complexity: O(log `depth`) to find the record that falls below
    ///   the depth, plus O(redoable records).
    mutating func push(_ record: UndoRecord, depth: Int) -> Lost {
        var lost = Lost(redoable: redoable)
        let depth = UInt64(max(depth, 1))
        if let top = done, top.height - floor >= depth {
            lost.undoable = top.node(atHeight: floor + 1)?.record
        }
        done = UndoNode(record, below: done)
        undone = nil
        let height = done!.height
        if height > floor + depth { floor = height - depth }
        if height > 2 * depth { compact() }
        return lost
    }

    /// The record the next undo would revert, if any.
    var latest: UndoRecord? {
        guard let node = done, node.height > floor else { return nil }
        return node.record
    }

    /// Replaces the latest record (an eraser drag growing), as a new action
    /// would: nothing can be redone afterwards.
    /// - Precondition: ``latest`` is not nil.
    /// - Returns: The records that could have been redone.
    mutating func replaceLatest(with record: UndoRecord) -> [UndoRecord] {
        let lost = redoable
        done = UndoNode(record, below: done!.below)
        undone = nil
        return lost
    }

    /// The record to revert, moving it onto the redo stack.
    mutating func popForUndo() -> UndoRecord? {
        guard let node = done, node.height > floor else { return nil }
        done = node.below
        undone = UndoNode(node.record, below: undone)
        return node.record
    }

    /// The record to re-apply, moving it back onto the done stack.
    mutating func popForRedo() -> UndoRecord? {
        guard let node = undone else { return nil }
        undone = node.below
        done = UndoNode(node.record, below: done)
        return node.record
    }

    /// The records that can be undone, newest first.
    var undoable: [UndoRecord] {
        var records: [UndoRecord] = []
        var node = done
        while let current = node, current.height > floor {
            records.append(current.record)
            node = current.below
        }
        return records
    }

    /// The records that can be redone, next first.
    var redoable: [UndoRecord] {
        var records: [UndoRecord] = []
        var node = undone
        while let current = node {
            records.append(current.record)
            node = current.below
        }
        return records
    }

    /// Rebuilds the reachable part of the done stack from height 1.
    private mutating func compact() {
        var rebuilt: UndoNode?
        for record in undoable.reversed() { rebuilt = UndoNode(record, below: rebuilt) }
        done = rebuilt
        floor = 0
    }

    /// Equal when the same records can be undone and redone.
    static func == (lhs: UndoHistory, rhs: UndoHistory) -> Bool {
        lhs.undoable == rhs.undoable && lhs.redoable == rhs.redoable
    }
}
