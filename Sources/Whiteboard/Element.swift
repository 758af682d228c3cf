import Scuttlebutt

/// An element's id: the (origin, seq) of the update that created it.
public typealias ElementID = UpdateID

/// What an element is.
public enum Shape: Sendable, Equatable {
    /// A freehand stroke through these points, in order.
    case stroke(PointList)
    /// A straight line between two points.
    case line(Point, Point)
    /// A rectangle (outline, or filled when the style says so).
    case rectangle(Rect)
    /// An ellipse inscribed in a rectangle.
    case ellipse(Rect)
    /// One line of text whose first character sits at the point.
    case text(Point, String)
}

/// A restyle that is in effect: the latest one in the total order wins.
public struct StyleWrite: Sendable, Equatable {
    /// Where the restyle sits in the total order.
    public let key: OrderKey
    /// The style it sets.
    public let style: Style
}

/// One thing on the board.
public struct Element: Sendable, Equatable {
    /// The creating update's (origin, seq).
    public let id: ElementID
    /// The creating update's place in the total order; draws later ones on top.
    public let z: OrderKey
    /// The geometry, before ``offset`` is applied.
    public internal(set) var shape: Shape
    /// The style it was created with.
    public let createdStyle: Style
    /// Restyles in effect, by the restyling update.
    public internal(set) var restyles: [UpdateID: StyleWrite] = [:]
    /// The sum of every move in effect.
    public internal(set) var offset = Point.zero
    /// What hides the element: its own id when its creation was undone, or the
    /// deletes, erases and clears that removed it. Empty when visible.
    public internal(set) var hiddenBy: Set<UpdateID> = []
    /// Whether a stroke is still being drawn.
    public internal(set) var isOpen = false
    /// The bounds of ``shape``, before ``offset``.
    public internal(set) var shapeBounds: Rect

    init(id: ElementID, z: OrderKey, shape: Shape, style: Style) {
        self.id = id
        self.z = z
        self.shape = shape
        self.createdStyle = style
        self.shapeBounds = Self.bounds(of: shape)
        if case .stroke = shape { isOpen = true }
    }

    /// The style in effect: the latest active restyle, else the creation style.
    public var style: Style {
        restyles.values.max { $0.key < $1.key }?.style ?? createdStyle
    }

    /// Whether anything hides it.
    public var isVisible: Bool { hiddenBy.isEmpty }

    /// Where it is on the canvas, moves included.
    public var bounds: Rect { shapeBounds.offset(by: offset) }

    static func bounds(of shape: Shape) -> Rect {
        switch shape {
        case .stroke(let points):
            var points = points.makeIterator()
            guard let first = points.next() else { return Rect(.zero) }
            var bounds = Rect(first)
            while let point = points.next() { bounds = bounds.union(point) }
            return bounds
        case .line(let a, let b): return Rect(corner: a, b)
        case .rectangle(let rect), .ellipse(let rect): return rect
        case .text(let origin, let text):
            // One cell per character: 1 × 2 pixels in half-block units.
            let width = Int32(text.unicodeScalars.count)
            return Rect(minX: origin.x, minY: origin.y, maxX: origin.x &+ max(width, 1) &- 1, maxY: origin.y &+ 1)
        }
    }
}
