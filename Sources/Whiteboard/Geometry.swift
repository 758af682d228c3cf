/// A point on the unbounded canvas, in canvas pixels.
///
/// One terminal cell shows 1 × 2 pixels in half-block mode and 2 × 4 in
/// braille mode.
public struct Point: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Horizontal position; grows to the right.
    public var x: Int32
    /// Vertical position; grows downwards.
    public var y: Int32

    /// A point at (`x`, `y`).
    public init(_ x: Int32, _ y: Int32) {
        self.x = x
        self.y = y
    }

    /// The origin.
    public static let zero = Point(0, 0)

    /// This point moved by `offset`, wrapping rather than trapping on
    /// overflow so that every replica computes the same result.
    @inlinable
    public func offset(by offset: Point) -> Point {
        Point(x &+ offset.x, y &+ offset.y)
    }

    /// `(x, y)`.
    public var description: String { "(\(x), \(y))" }
}

/// An axis-aligned rectangle of canvas pixels, both corners inclusive.
public struct Rect: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Left edge.
    public var minX: Int32
    /// Top edge.
    public var minY: Int32
    /// Right edge (inclusive).
    public var maxX: Int32
    /// Bottom edge (inclusive).
    public var maxY: Int32

    /// The smallest rectangle holding both corners, in any order.
    public init(corner a: Point, _ b: Point) {
        minX = min(a.x, b.x)
        minY = min(a.y, b.y)
        maxX = max(a.x, b.x)
        maxY = max(a.y, b.y)
    }

    /// A rectangle from its edges.
    public init(minX: Int32, minY: Int32, maxX: Int32, maxY: Int32) {
        self.minX = minX
        self.minY = minY
        self.maxX = maxX
        self.maxY = maxY
    }

    /// The rectangle holding just `point`.
    public init(_ point: Point) {
        self.init(corner: point, point)
    }

    /// Width in pixels.
    public var width: Int64 { Int64(maxX) - Int64(minX) + 1 }
    /// Height in pixels.
    public var height: Int64 { Int64(maxY) - Int64(minY) + 1 }

    /// Whether `point` lies inside.
    @inlinable
    public func contains(_ point: Point) -> Bool {
        point.x >= minX && point.x <= maxX && point.y >= minY && point.y <= maxY
    }

    /// Whether the two rectangles share a pixel.
    @inlinable
    public func intersects(_ other: Rect) -> Bool {
        minX <= other.maxX && other.minX <= maxX && minY <= other.maxY && other.minY <= maxY
    }

    /// The smallest rectangle holding both.
    @inlinable
    public func union(_ other: Rect) -> Rect {
        Rect(
            minX: min(minX, other.minX), minY: min(minY, other.minY), maxX: max(maxX, other.maxX),
            maxY: max(maxY, other.maxY))
    }

    /// The smallest rectangle holding this one and `point`.
    @inlinable
    public func union(_ point: Point) -> Rect {
        union(Rect(point))
    }

    /// This rectangle moved by `offset` (wrapping, like ``Point/offset(by:)``).
    @inlinable
    public func offset(by offset: Point) -> Rect {
        Rect(minX: minX &+ offset.x, minY: minY &+ offset.y, maxX: maxX &+ offset.x, maxY: maxY &+ offset.y)
    }

    /// This rectangle grown by `amount` pixels on every side.
    public func inset(by amount: Int32) -> Rect {
        Rect(minX: minX &- amount, minY: minY &- amount, maxX: maxX &+ amount, maxY: maxY &+ amount)
    }

    /// `[minX, minY … maxX, maxY]`.
    public var description: String { "[\(minX), \(minY) … \(maxX), \(maxY)]" }
}
