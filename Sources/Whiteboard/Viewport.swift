/// How canvas pixels map onto terminal cells.
public enum RasterMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// One cell shows 1 × 2 pixels with half-block characters (▀ ▄ █); the default.
    case halfBlock
    /// One cell shows 2 × 4 pixels as braille dots: a finer, zoomed-out view.
    case braille

    /// Canvas pixels per cell, horizontally.
    public var pixelsPerColumn: Int32 { self == .halfBlock ? 1 : 2 }
    /// Canvas pixels per cell, vertically.
    public var pixelsPerRow: Int32 { self == .halfBlock ? 2 : 4 }
}

/// The part of the canvas a screen shows.
public struct Viewport: Hashable, Sendable {
    /// The canvas pixel at the top-left corner.
    public var origin: Point
    /// Width in cells.
    public var columns: Int
    /// Height in cells.
    public var rows: Int
    /// How pixels map to cells.
    public var mode: RasterMode

    /// A viewport.
    public init(origin: Point, columns: Int, rows: Int, mode: RasterMode = .halfBlock) {
        self.origin = origin
        self.columns = columns
        self.rows = rows
        self.mode = mode
    }

    /// The canvas pixels on screen.
    public var canvasRect: Rect {
        Rect(
            minX: origin.x, minY: origin.y,
            maxX: origin.x &+ Int32(columns) * mode.pixelsPerColumn &- 1,
            maxY: origin.y &+ Int32(rows) * mode.pixelsPerRow &- 1)
    }

    /// The cell showing canvas `point`, if it is on screen.
    public func cell(showing point: Point) -> (column: Int, row: Int)? {
        guard canvasRect.contains(point) else { return nil }
        return (
            Int((point.x &- origin.x) / mode.pixelsPerColumn), Int((point.y &- origin.y) / mode.pixelsPerRow)
        )
    }

    /// The canvas pixel at the top-left of a cell.
    public func canvasPoint(column: Int, row: Int) -> Point {
        Point(
            origin.x &+ Int32(column) * mode.pixelsPerColumn, origin.y &+ Int32(row) * mode.pixelsPerRow)
    }
}

/// Someone else's cursor, drawn over the board.
public struct CursorOverlay: Hashable, Sendable {
    /// Where it points, in canvas pixels.
    public var position: Point
    /// The name shown beside it.
    public var name: String
    /// Its colour.
    public var color: UInt8

    /// A cursor.
    public init(position: Point, name: String, color: UInt8) {
        self.position = position
        self.name = name
        self.color = color
    }
}
