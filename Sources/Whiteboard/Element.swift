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
///
/// A value type whose fields live in one shared box (copy-on-write): copying
/// an element — as the board's persistent dictionary does for a whole node
/// whenever a snapshot shares it — costs one retain, not one per field.
public struct Element: Sendable, Equatable {
    /// Mutated only through `unique`, i.e. never while shared, which is what
    /// makes the unchecked `Sendable` sound.
    final class Storage: @unchecked Sendable {
        let id: ElementID
        let z: OrderKey
        let createdStyle: Style
        var shape: Shape
        var restyles: [UpdateID: StyleWrite] = [:]
        var restyleFloor: OrderKey?
        var offset = Point.zero
        var hiddenBy: Set<UpdateID> = []
        var isOpen = false
        var shapeBounds: Rect

        init(id: ElementID, z: OrderKey, shape: Shape, style: Style, shapeBounds: Rect) {
            self.id = id
            self.z = z
            self.shape = shape
            self.createdStyle = style
            self.shapeBounds = shapeBounds
            if case .stroke = shape { isOpen = true }
        }

        init(copying other: Storage) {
            id = other.id
            z = other.z
            createdStyle = other.createdStyle
            shape = other.shape
            restyles = other.restyles
            restyleFloor = other.restyleFloor
            offset = other.offset
            hiddenBy = other.hiddenBy
            isOpen = other.isOpen
            shapeBounds = other.shapeBounds
        }
    }

    private var storage: Storage

    init(id: ElementID, z: OrderKey, shape: Shape, style: Style) {
        storage = Storage(id: id, z: z, shape: shape, style: style, shapeBounds: Element.bounds(of: shape))
    }

    /// An element whose shape's bounds are known already (a decoded
    /// snapshot's), so that a stroke's points need not be walked.
    init(id: ElementID, z: OrderKey, shape: Shape, style: Style, shapeBounds: Rect) {
        storage = Storage(id: id, z: z, shape: shape, style: style, shapeBounds: shapeBounds)
    }

    private var unique: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
            return storage
        }
    }

    /// The creating update's (origin, seq).
    public var id: ElementID { storage.id }
    /// The creating update's place in the total order; draws later ones on top.
    public var z: OrderKey { storage.z }
    /// The style it was created with.
    public var createdStyle: Style { storage.createdStyle }
    /// The geometry, before ``offset`` is applied.
    public internal(set) var shape: Shape {
        get { storage.shape }
        set { unique.shape = newValue }
    }
    /// Restyles in effect, by the restyling update.
    public internal(set) var restyles: [UpdateID: StyleWrite] {
        get { storage.restyles }
        set { unique.restyles = newValue }
    }
    /// The place in the total order of the newest restyle no undo can
    /// withdraw any more (docs/UNDO.md, rule 17), if one left undo's reach
    /// while in effect: restyles before it were dropped from ``restyles``
    /// and are never put back.
    public internal(set) var restyleFloor: OrderKey? {
        get { storage.restyleFloor }
        set { unique.restyleFloor = newValue }
    }
    /// The sum of every move in effect.
    public internal(set) var offset: Point {
        get { storage.offset }
        set { unique.offset = newValue }
    }
    /// What hides the element: its own id when its creation was undone, or the
    /// deletes, erases and clears that removed it. Empty when visible.
    public internal(set) var hiddenBy: Set<UpdateID> {
        get { storage.hiddenBy }
        set { unique.hiddenBy = newValue }
    }
    /// Whether a stroke is still being drawn.
    public internal(set) var isOpen: Bool {
        get { storage.isOpen }
        set { unique.isOpen = newValue }
    }
    /// The bounds of ``shape``, before ``offset``.
    public internal(set) var shapeBounds: Rect {
        get { storage.shapeBounds }
        set { unique.shapeBounds = newValue }
    }

    /// Appends points to a stroke, up to `limit` points in all, in place.
    /// - Returns: Whether the element is a stroke.
    mutating func appendToStroke(_ points: [Point], limit: Int) -> Bool {
        let storage = unique
        guard case .stroke(var list) = storage.shape else { return false }
        // Release the stored list first so that `list` is its only owner.
        storage.shape = .text(.zero, "")
        for point in points.prefix(max(0, limit - list.count)) {
            list.append(point)
            storage.shapeBounds = storage.shapeBounds.union(point)
        }
        storage.shape = .stroke(list)
        return true
    }

    /// Puts a restyle in effect, unless it lies below ``restyleFloor``
    /// (it could never show: a restyle later in the order is permanent).
    /// - Returns: Whether it was put in effect.
    mutating func addRestyle(_ write: StyleWrite, by writeID: UpdateID) -> Bool {
        if let floor = storage.restyleFloor, write.key < floor { return false }
        unique.restyles[writeID] = write
        return true
    }

    /// Makes a restyle in effect permanent, its undo record having left
    /// undo's reach: every restyle before it in the order is dropped, now
    /// and when it comes back by a redo.
    /// - Returns: Whether `write` was in effect.
    mutating func makePermanent(_ write: StyleWrite, by writeID: UpdateID) -> Bool {
        guard storage.restyles[writeID] == write else { return false }
        let storage = unique
        storage.restyleFloor = write.key
        // In place: usually only the previous floor goes.
        let dropped = storage.restyles.compactMap { $0.value.key < write.key ? $0.key : nil }
        for id in dropped { storage.restyles.removeValue(forKey: id) }
        return true
    }

    /// The style in effect: the latest active restyle, else the creation style.
    public var style: Style {
        storage.restyles.values.max { $0.key < $1.key }?.style ?? storage.createdStyle
    }

    /// Whether anything hides it.
    public var isVisible: Bool { storage.hiddenBy.isEmpty }

    /// Where it is on the canvas, moves included.
    public var bounds: Rect { storage.shapeBounds.offset(by: storage.offset) }

    /// Whether two elements are the same in every field.
    public static func == (lhs: Element, rhs: Element) -> Bool {
        if lhs.storage === rhs.storage { return true }
        let (a, b) = (lhs.storage, rhs.storage)
        return a.id == b.id && a.z == b.z && a.createdStyle == b.createdStyle && a.shape == b.shape
            && a.restyles == b.restyles && a.restyleFloor == b.restyleFloor && a.offset == b.offset
            && a.hiddenBy == b.hiddenBy && a.isOpen == b.isOpen && a.shapeBounds == b.shapeBounds
    }

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
