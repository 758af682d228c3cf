import Scuttlebutt

/// The kind of shape `addShape` creates.
public enum ShapeKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A straight line.
    case line
    /// A rectangle.
    case rectangle
    /// An ellipse.
    case ellipse
}

/// Everything a person (or bot) can do to a board.
///
/// Strokes are sent while they are drawn — begin, many extends, end — so
/// others see them grow; that is the action-heavy traffic. Element ids are
/// the (origin, seq) of the creating update.
public enum BoardAction: Sendable, Hashable {
    /// Starts a freehand stroke at a point; the update's id becomes the
    /// stroke's id.
    case beginStroke(at: Point, style: Style)
    /// Adds points to one's own open stroke.
    case extendStroke(ElementID, points: [Point])
    /// Finishes one's own stroke.
    case endStroke(ElementID)
    /// Adds a line, rectangle or ellipse spanning two corners.
    case addShape(ShapeKind, from: Point, to: Point, style: Style)
    /// Adds one line of text.
    case addText(at: Point, text: String, style: Style)
    /// Moves an element by an offset.
    case move(ElementID, by: Point)
    /// Changes an element's style.
    case restyle(ElementID, Style)
    /// Removes an element.
    case delete(ElementID)
    /// Removes the elements the eraser's author saw under it, by id: what
    /// it hides never depends on geometry, so it commutes with strokes
    /// drawn meanwhile (docs/UNDO.md, rule 12).
    case erase([ElementID])
    /// Erases further along an eraser drag that began with the origin's
    /// own `erase` named here: what it erases is hidden under that first
    /// erase's mark and joins its undo record, so that one undo brings back
    /// everything one drag erased (docs/UNDO.md, rule 14).
    case continueErasing(UpdateID, [ElementID])
    /// Removes every element that touches the area at the erase's place in
    /// the order. What clients sent before erases named elements; still
    /// read from older logs and peers, and it conflicts with every other
    /// update, since it reads the whole board's geometry.
    case eraseArea(Rect)
    /// Continues an `eraseArea` drag, as ``continueErasing(_:_:)`` continues
    /// an `erase`. Kept for older logs and peers, like ``eraseArea(_:)``.
    /// Boxed: inline, its 32 bytes would make every action 40 bytes wide
    /// (every update in a timeline pays for its widest case).
    indirect case continueErase(UpdateID, Rect)
    /// Removes everything created before this action in the total order
    /// (not what comes after it).
    case clear
    /// Reverts the origin's latest action that can be undone.
    case undo
    /// Re-applies the origin's latest undone action, if nothing new was done since.
    case redo
}
