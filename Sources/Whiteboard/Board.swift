import HashTreeCollections
import Scuttlebutt

/// The state of a whiteboard: every element ever created (hidden ones too,
/// so that undo can bring them back) and each origin's undo history.
///
/// Built on persistent dictionaries, so a snapshot costs O(1).
public struct Board: Sendable, Equatable {
    /// Elements by id.
    public internal(set) var elements: TreeDictionary<ElementID, Element> = [:]
    /// Undo histories by origin.
    var undoHistories: TreeDictionary<PeerID, UndoHistory> = [:]

    /// An empty board.
    public init() {}

    /// The visible elements, bottom first (by their creating update's place
    /// in the total order).
    /// - Complexity: O(n log n).
    public var visibleElements: [Element] {
        elements.values.filter(\.isVisible).sorted { $0.z < $1.z }
    }

    /// The visible elements touching `area`, bottom first.
    /// - Complexity: O(n + k log k) for k elements in the area.
    public func visibleElements(in area: Rect) -> [Element] {
        elements.values.filter { $0.isVisible && $0.bounds.intersects(area) }.sorted { $0.z < $1.z }
    }

    /// What an eraser over `area` removes: the visible elements touching it
    /// (a stroke if one of its points lies in the area, any other shape if
    /// its bounds meet it), as an ``BoardAction/erase(_:)`` names them.
    public func erasable(in area: Rect) -> [ElementID] {
        elements.values.filter { $0.isVisible && BoardReducer.touches($0, area) }.map(\.id)
    }
}
