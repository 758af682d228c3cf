import HashTreeCollections
import Scuttlebutt

/// The state of a whiteboard: every element created and not yet pruned
/// (hidden ones too, so that undo can bring them back, until no undo can:
/// docs/UNDO.md, rule 16) and each origin's undo history.
///
/// Built on persistent collections (``ElementTable``), so a snapshot costs
/// O(1).
///
/// A board that people look at (a client's, a replay's) can also keep a
/// spatial index (``init(spatiallyIndexed:)``, ``indexSpatially()``): then
/// hit-tests and culling look only near the area asked about, and
/// ``damage(since:in:)`` says what to repaint. The index is derived, not
/// replicated: equality, the state hash and snapshots ignore it. A server's
/// board does without it (it would cost memory and time per action).
public struct Board: Sendable, Equatable {
    /// Elements by id.
    public private(set) var elements = ElementTable()
    /// Undo histories by origin.
    var undoHistories: TreeDictionary<PeerID, UndoHistory> = [:]
    /// Where elements lie, when the board is indexed.
    private var spatialIndex: SpatialIndex?

    /// An empty board, not indexed.
    public init() {}

    /// An empty board that keeps a spatial index if `spatiallyIndexed`.
    public init(spatiallyIndexed: Bool) {
        if spatiallyIndexed { spatialIndex = SpatialIndex(ElementTable()) }
    }

    /// Whether the board keeps a spatial index.
    public var isSpatiallyIndexed: Bool { spatialIndex != nil }

    /// Builds the spatial index (once; the board keeps it up to date from
    /// then on), e.g. for a board decoded from a snapshot.
    /// - Complexity: O(n) the first time.
    public mutating func indexSpatially() {
        if spatialIndex == nil { spatialIndex = SpatialIndex(elements) }
    }

    /// Whether two boards hold the same elements and undo histories (a
    /// spatial index, being derived, does not count).
    public static func == (lhs: Board, rhs: Board) -> Bool {
        lhs.elements == rhs.elements && lhs.undoHistories == rhs.undoHistories
    }

    // MARK: Changing elements

    /// Adds (or replaces) an element.
    mutating func insert(_ element: Element) {
        let old = elements.insert(element)
        spatialIndex?.update(from: old, to: element, changed: [])
    }

    /// Removes an element for good (it can never be shown again).
    mutating func remove(_ id: ElementID) {
        guard let old = elements.removeValue(forKey: id) else { return }
        spatialIndex?.remove(old)
    }

    /// Applies `change` to element `id` if it exists.
    /// - Parameter appended: The points `change` appends to a stroke, if
    ///   that is all it does: then only the new segment needs repainting.
    /// - Returns: Whether the element exists and `change` reported an effect.
    @discardableResult
    mutating func modifyElement(
        _ id: ElementID, appending appended: [Point]? = nil, _ change: (inout Element) -> Bool
    ) -> Bool {
        guard spatialIndex != nil else { return elements.mutateValue(forKey: id, change) ?? false }
        guard let old = elements[id], elements.mutateValue(forKey: id, change) == true, let new = elements[id]
        else { return false }
        var narrow: [Rect] = []
        if let appended, !appended.isEmpty, case .stroke(let points) = old.shape, let last = points.last {
            narrow = [appended.reduce(Rect(last)) { $0.union($1) }.offset(by: old.offset)]
        }
        spatialIndex?.update(from: old, to: new, changed: narrow)
        return true
    }

    // MARK: Looking

    /// The visible elements, bottom first (by their creating update's place
    /// in the total order).
    /// - Complexity: O(n log n).
    public var visibleElements: [Element] {
        elements.values.filter(\.isVisible).sorted { $0.z < $1.z }
    }

    /// The visible elements whose on-screen extent (text widened to cover
    /// every raster mode) meets `area`, bottom first.
    /// - Complexity: With a spatial index, O(k log k) for the k elements
    ///   near the area (when they are few: a quarter of the board or more is
    ///   found by a scan); without, O(n + k log k).
    public func visibleElements(in area: Rect) -> [Element] {
        elements(near: area) { $0.isVisible && $0.screenExtent.intersects(area) }.sorted { $0.z < $1.z }
    }

    /// What an eraser over `area` removes: the visible elements touching it
    /// (a stroke if one of its points lies in the area, any other shape if
    /// its bounds meet it), as an ``BoardAction/erase(_:)`` names them.
    /// - Complexity: With a spatial index, proportional to the elements
    ///   near the area; without, O(n).
    public func erasable(in area: Rect) -> [ElementID] {
        elements(near: area) { $0.isVisible && BoardReducer.touches($0, area) }.map(\.id)
    }

    /// The elements satisfying `isIncluded` among those that may lie in
    /// `area` (all of them, without an index).
    private func elements(near area: Rect, where isIncluded: (Element) -> Bool) -> [Element] {
        guard let candidates = spatialIndex?.candidates(near: area, limit: elements.count / 4) else {
            return elements.values.filter(isIncluded)
        }
        return candidates.compactMap { id in elements[id].flatMap { isIncluded($0) ? $0 : nil } }
    }

    /// Where this board may look different from `earlier` within `area`,
    /// as rectangles of canvas pixels (empty when nothing there changed), or
    /// nil when that is not known because a board is not indexed.
    ///
    /// Sound across rewinds: a pixel outside every rectangle is painted the
    /// same on both boards.
    /// - Complexity: O(tiles in the area), plus O(w) for w wide elements
    ///   when any of them changed.
    public func damage(since earlier: Board, in area: Rect) -> [Rect]? {
        guard let index = spatialIndex, let earlierIndex = earlier.spatialIndex else { return nil }
        return index.damage(since: earlierIndex, in: area) { id in
            (earlier.elements[id]?.screenExtent, elements[id]?.screenExtent)
        }
    }
}
