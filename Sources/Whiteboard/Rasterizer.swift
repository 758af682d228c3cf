/// Turns a board into a grid of cells for one viewport: the only thing a
/// terminal front end needs, and testable without a terminal.
///
/// Solid elements paint canvas pixels (half-block or braille); text and
/// glyph brushes paint whole cells. Each pixel and cell remembers the
/// z-rank that painted it last, so the newest element wins a cell whichever
/// layer it is on. The rasterizer keeps its layers between frames: after a
/// change confined to a region (a stroke extend), ``render(_:dirty:)``
/// repaints only the cells of that region.
public struct Rasterizer: Sendable {
    /// What is on screen.
    public private(set) var viewport: Viewport
    /// The last frame, without cursors.
    public private(set) var grid: CellGrid

    private var pixelWidth: Int
    private var pixelHeight: Int
    private var pixelColor: [UInt8]
    /// 0: nothing painted; otherwise the z-rank of the painter.
    private var pixelRank: [Int32]
    private var glyphCharacter: [Unicode.Scalar]
    private var glyphColor: [UInt8]
    private var glyphRank: [Int32]

    /// A rasterizer for `viewport`; nothing is drawn until ``render(_:)``.
    public init(viewport: Viewport) {
        self.viewport = viewport
        self.grid = CellGrid(columns: viewport.columns, rows: viewport.rows)
        pixelWidth = viewport.columns * Int(viewport.mode.pixelsPerColumn)
        pixelHeight = viewport.rows * Int(viewport.mode.pixelsPerRow)
        pixelColor = Array(repeating: 0, count: pixelWidth * pixelHeight)
        pixelRank = Array(repeating: 0, count: pixelWidth * pixelHeight)
        glyphCharacter = Array(repeating: " ", count: viewport.columns * viewport.rows)
        glyphColor = Array(repeating: 0, count: viewport.columns * viewport.rows)
        glyphRank = Array(repeating: 0, count: viewport.columns * viewport.rows)
    }

    /// Renders the whole viewport.
    /// - Complexity: O(elements) to cull (with a spatial index, O(elements
    ///   near the viewport)), plus the pixels of visible ones.
    @discardableResult
    public mutating func render(_ board: Board) -> CellGrid {
        renderCells(board, columns: 0..<viewport.columns, rows: 0..<viewport.rows)
        return grid
    }

    /// Moves or resizes the viewport and renders it whole.
    @discardableResult
    public mutating func render(_ board: Board, viewport: Viewport) -> CellGrid {
        if viewport.columns != self.viewport.columns || viewport.rows != self.viewport.rows
            || viewport.mode != self.viewport.mode
        {
            self = Rasterizer(viewport: viewport)
        }
        self.viewport = viewport
        return render(board)
    }

    /// Re-renders only the cells showing `dirty` (canvas pixels), e.g. a
    /// rectangle ``Board/damage(since:in:)`` reported.
    /// - Complexity: O(elements) to cull (with a spatial index, O(elements
    ///   near the region)), plus the pixels in the region.
    @discardableResult
    public mutating func render(_ board: Board, dirty: Rect) -> CellGrid {
        let screen = viewport.canvasRect
        guard dirty.intersects(screen) else { return grid }
        let clipped = Rect(
            minX: max(dirty.minX, screen.minX), minY: max(dirty.minY, screen.minY),
            maxX: min(dirty.maxX, screen.maxX), maxY: min(dirty.maxY, screen.maxY))
        guard let first = viewport.cell(showing: Point(clipped.minX, clipped.minY)),
            let last = viewport.cell(showing: Point(clipped.maxX, clipped.maxY))
        else { return grid }
        renderCells(board, columns: first.column..<(last.column + 1), rows: first.row..<(last.row + 1))
        return grid
    }

    /// The last frame with cursors and their names drawn over it.
    public func frame(cursors: [CursorOverlay]) -> CellGrid {
        var frame = grid
        for cursor in cursors {
            guard let (column, row) = viewport.cell(showing: cursor.position) else { continue }
            frame[column, row] = Cell("◆", foreground: cursor.color)
            for (offset, scalar) in cursor.name.unicodeScalars.prefix(24).enumerated() {
                let labelColumn = column + 1 + offset
                guard labelColumn < frame.columns else { break }
                guard BoardLimits.isSingleCell(scalar) else { continue }
                frame[labelColumn, row] = Cell(scalar, foreground: cursor.color)
            }
        }
        return frame
    }

    // MARK: Painting

    private mutating func renderCells(_ board: Board, columns: Range<Int>, rows: Range<Int>) {
        let mode = viewport.mode
        let clip = PixelClip(
            minX: columns.lowerBound * Int(mode.pixelsPerColumn), minY: rows.lowerBound * Int(mode.pixelsPerRow),
            maxX: columns.upperBound * Int(mode.pixelsPerColumn) - 1, maxY: rows.upperBound * Int(mode.pixelsPerRow) - 1
        )
        for y in clip.minY...clip.maxY {
            for x in clip.minX...clip.maxX { pixelRank[y * pixelWidth + x] = 0 }
        }
        for row in rows {
            for column in columns { glyphRank[row * viewport.columns + column] = 0 }
        }
        let region = Rect(
            minX: viewport.origin.x &+ Int32(clip.minX), minY: viewport.origin.y &+ Int32(clip.minY),
            maxX: viewport.origin.x &+ Int32(clip.maxX), maxY: viewport.origin.y &+ Int32(clip.maxY))
        let elements = board.visibleElements(in: region).filter { screenBounds(of: $0).intersects(region) }
        for (index, element) in elements.enumerated() {
            paint(element, rank: Int32(index + 1), clip: clip)
        }
        for row in rows {
            for column in columns { grid[column, row] = compose(column: column, row: row) }
        }
    }

    /// Where an element shows on screen: text takes one cell per character
    /// whatever the mode, so it spans more canvas pixels in braille mode.
    private func screenBounds(of element: Element) -> Rect {
        guard case .text(let origin, let text) = element.shape else { return element.bounds }
        let start = origin.offset(by: element.offset)
        let width = Int32(max(text.unicodeScalars.count, 1)) * viewport.mode.pixelsPerColumn
        return Rect(
            minX: start.x, minY: start.y, maxX: start.x &+ width &- 1, maxY: start.y &+ viewport.mode.pixelsPerRow &- 1)
    }

    private mutating func paint(_ element: Element, rank: Int32, clip: PixelClip) {
        let style = element.style
        if case .text(let origin, let text) = element.shape {
            paintText(text, at: origin.offset(by: element.offset), color: style.color, rank: rank, clip: clip)
            return
        }
        let shift = (
            Int64(element.offset.x) - Int64(viewport.origin.x), Int64(element.offset.y) - Int64(viewport.origin.y)
        )
        let perColumn = Int(viewport.mode.pixelsPerColumn)
        let perRow = Int(viewport.mode.pixelsPerRow)
        let columns = viewport.columns
        ShapeRasterizer.forEachPixel(of: element.shape, shift: shift, filled: style.filled, clip: clip) { x, y in
            switch style.brush {
            case .solid:
                pixelColor[y * pixelWidth + x] = style.color
                pixelRank[y * pixelWidth + x] = rank
            case .glyph(let scalar):
                let cell = (y / perRow) * columns + x / perColumn
                glyphCharacter[cell] = scalar
                glyphColor[cell] = style.color
                glyphRank[cell] = rank
            }
        }
    }

    private mutating func paintText(_ text: String, at origin: Point, color: UInt8, rank: Int32, clip: PixelClip) {
        let mode = viewport.mode
        let x = Int64(origin.x) - Int64(viewport.origin.x)
        let y = Int64(origin.y) - Int64(viewport.origin.y)
        guard y >= 0 else { return }
        let row = Int(y / Int64(mode.pixelsPerRow))
        guard row < viewport.rows, row * Int(mode.pixelsPerRow) >= clip.minY - Int(mode.pixelsPerRow) + 1,
            row * Int(mode.pixelsPerRow) <= clip.maxY
        else { return }
        let firstColumn =
            x >= 0
            ? x / Int64(mode.pixelsPerColumn) : (x - Int64(mode.pixelsPerColumn) + 1) / Int64(mode.pixelsPerColumn)
        let clipColumns = (clip.minX / Int(mode.pixelsPerColumn))...(clip.maxX / Int(mode.pixelsPerColumn))
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let column = firstColumn + Int64(offset)
            guard column >= Int64(clipColumns.lowerBound) else { continue }
            guard column <= Int64(clipColumns.upperBound) else { break }
            let cell = row * viewport.columns + Int(column)
            glyphCharacter[cell] = scalar
            glyphColor[cell] = color
            glyphRank[cell] = rank
        }
    }

    /// The dot of U+2800 each pixel of a braille cell sets, row by row:
    /// columns 0/1, rows 0…3.
    private static let brailleBits: [UInt32] = [0x01, 0x08, 0x02, 0x10, 0x04, 0x20, 0x40, 0x80]

    private func compose(column: Int, row: Int) -> Cell {
        let glyphCell = row * viewport.columns + column
        let glyph = glyphRank[glyphCell]
        switch viewport.mode {
        case .halfBlock:
            let top = (row * 2) * pixelWidth + column
            let bottom = top + pixelWidth
            let topRank = pixelRank[top]
            let bottomRank = pixelRank[bottom]
            if glyph > max(topRank, bottomRank) {
                return Cell(glyphCharacter[glyphCell], foreground: glyphColor[glyphCell])
            }
            switch (topRank > 0, bottomRank > 0) {
            case (false, false): return .blank
            case (true, false): return Cell("▀", foreground: pixelColor[top])
            case (false, true): return Cell("▄", foreground: pixelColor[bottom])
            case (true, true):
                let (upper, lower) = (pixelColor[top], pixelColor[bottom])
                return upper == lower ? Cell("█", foreground: upper) : Cell("▀", foreground: upper, background: lower)
            }
        case .braille:
            var pattern: UInt32 = 0
            var newest: Int32 = 0
            var color: UInt8 = 0
            for dotRow in 0..<4 {
                for dotColumn in 0..<2 {
                    let index = (row * 4 + dotRow) * pixelWidth + column * 2 + dotColumn
                    let rank = pixelRank[index]
                    guard rank > 0 else { continue }
                    pattern |= Self.brailleBits[dotRow * 2 + dotColumn]
                    if rank > newest {
                        newest = rank
                        color = pixelColor[index]
                    }
                }
            }
            if glyph > newest { return Cell(glyphCharacter[glyphCell], foreground: glyphColor[glyphCell]) }
            guard pattern != 0 else { return .blank }
            return Cell(Unicode.Scalar(0x2800 + pattern)!, foreground: color)
        }
    }
}

/// The pixels being painted, in viewport pixel coordinates, inclusive.
struct PixelClip {
    let minX: Int
    let minY: Int
    let maxX: Int
    let maxY: Int

    func contains(_ x: Int64, _ y: Int64) -> Bool {
        x >= Int64(minX) && x <= Int64(maxX) && y >= Int64(minY) && y <= Int64(maxY)
    }
}
