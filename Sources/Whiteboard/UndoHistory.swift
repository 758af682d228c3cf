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

/// One origin's undo history: a persistent, capped stack of records with a
/// redo region above the top.
///
/// Records live at indices `bottom ..< redoTop`; those below `top` can be
/// undone, those from `top` on can be redone. A new action drops the redo
/// region. Past ``depth`` records the oldest are forgotten.
struct UndoHistory: Sendable, Equatable {
    /// How many actions one can undo in a row.
    static let depth: UInt64 = 500

    private(set) var records: TreeDictionary<UInt64, UndoRecord> = [:]
    private(set) var bottom: UInt64 = 0
    private(set) var top: UInt64 = 0
    private(set) var redoTop: UInt64 = 0

    mutating func push(_ record: UndoRecord) {
        for index in top..<redoTop { records[index] = nil }
        records[top] = record
        top += 1
        redoTop = top
        if top - bottom > Self.depth {
            records[bottom] = nil
            bottom += 1
        }
    }

    /// The record to revert, moving it into the redo region.
    mutating func popForUndo() -> UndoRecord? {
        guard top > bottom, let record = records[top - 1] else { return nil }
        top -= 1
        return record
    }

    /// The record to re-apply, moving it back below the top.
    mutating func popForRedo() -> UndoRecord? {
        guard top < redoTop, let record = records[top] else { return nil }
        top += 1
        return record
    }
}
