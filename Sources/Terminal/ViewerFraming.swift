import Whiteboard

/// Where `view` looks: the whole board fitted to the screen, or one person
/// followed. Pure, so both are unit-tested.
public enum ViewerFraming {
    /// The origin and pixel mode that show `bounds` whole on a board area of
    /// `columns` × `rows` cells, centred: half-block when it fits, braille
    /// (twice as dense) otherwise; centred on the middle when even braille
    /// cannot hold it all.
    public static func fitting(_ bounds: Rect?, columns: Int, rows: Int) -> (origin: Point, mode: RasterMode) {
        guard let bounds else { return (.zero, .halfBlock) }
        let fitsHalfBlock =
            bounds.width <= Int64(columns) * Int64(RasterMode.halfBlock.pixelsPerColumn)
            && bounds.height <= Int64(rows) * Int64(RasterMode.halfBlock.pixelsPerRow)
        let mode: RasterMode = fitsHalfBlock ? .halfBlock : .braille
        let center = Point(
            Int32((Int64(bounds.minX) + Int64(bounds.maxX)) / 2), Int32((Int64(bounds.minY) + Int64(bounds.maxY)) / 2))
        return (centered(on: center, columns: columns, rows: rows, mode: mode), mode)
    }

    /// The origin that puts `point` in the middle of the board area.
    public static func centered(on point: Point, columns: Int, rows: Int, mode: RasterMode) -> Point {
        Point(
            point.x &- Int32(columns / 2) * mode.pixelsPerColumn, point.y &- Int32(rows / 2) * mode.pixelsPerRow)
    }
}
