/// Plain text: each row's characters, trailing blanks trimmed.
public enum PlainTextExporter {
    /// The grid as lines of text, each ending in a newline.
    public static func export(_ grid: CellGrid) -> String {
        grid.plainLines.map { $0 + "\n" }.joined()
    }
}

/// Text with ANSI 256-colour escapes, for `cat` in a terminal.
public enum ANSIExporter {
    /// The grid with `ESC[38;5;Nm` / `ESC[48;5;Nm` colours; every line ends
    /// with a reset, so nothing bleeds into the next one.
    public static func export(_ grid: CellGrid) -> String {
        var output = ""
        for row in 0..<grid.rows {
            var current: (UInt8?, UInt8?) = (nil, nil)
            var line = ""
            var pendingBlanks = 0
            for column in 0..<grid.columns {
                let cell = grid[column, row]
                if cell == .blank {
                    pendingBlanks += 1
                    continue
                }
                if pendingBlanks > 0 {
                    if current != (nil, nil) {
                        line += "\u{1B}[0m"
                        current = (nil, nil)
                    }
                    line += String(repeating: " ", count: pendingBlanks)
                    pendingBlanks = 0
                }
                if (cell.foreground, cell.background) != current {
                    line += "\u{1B}[0m"
                    if let foreground = cell.foreground { line += "\u{1B}[38;5;\(foreground)m" }
                    if let background = cell.background { line += "\u{1B}[48;5;\(background)m" }
                    current = (cell.foreground, cell.background)
                }
                line.unicodeScalars.append(cell.character)
            }
            if current != (nil, nil) { line += "\u{1B}[0m" }
            output += line + "\n"
        }
        return output
    }
}

/// SVG drawn from the elements themselves (vectors, not cells).
public enum SVGExporter {
    /// The visible elements, bottom first, on a dark background, in a
    /// picture sized to hold them all; `scale` user units per canvas pixel.
    /// Glyph brushes are drawn as plain strokes in their colour.
    public static func export(_ board: Board, scale: Int = 8) -> String {
        let bounds = (board.visibleBounds ?? Rect(.zero)).inset(by: 2)
        let s = Double(scale)
        func x(_ value: Int32) -> String { format((Double(Int64(value) - Int64(bounds.minX)) + 0.5) * s) }
        func y(_ value: Int32) -> String { format((Double(Int64(value) - Int64(bounds.minY)) + 0.5) * s) }
        let width = format(Double(bounds.width) * s)
        let height = format(Double(bounds.height) * s)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
            <rect width="100%" height="100%" fill="#000000"/>

            """
        for element in board.visibleElements {
            let color = Palette.hex(element.style.color)
            let paint = element.style.filled ? "fill=\"\(color)\"" : "fill=\"none\" stroke=\"\(color)\""
            let line =
                "stroke=\"\(color)\" stroke-width=\"\(format(s))\" stroke-linecap=\"round\" stroke-linejoin=\"round\""
            let shift = element.offset
            switch element.shape {
            case .stroke(let points):
                let list = points.map { point in
                    let moved = point.offset(by: shift)
                    return "\(x(moved.x)),\(y(moved.y))"
                }.joined(separator: " ")
                svg += "<polyline points=\"\(list)\" fill=\"none\" \(line)/>\n"
            case .line(let a, let b):
                let (from, to) = (a.offset(by: shift), b.offset(by: shift))
                svg += "<line x1=\"\(x(from.x))\" y1=\"\(y(from.y))\" x2=\"\(x(to.x))\" y2=\"\(y(to.y))\" \(line)/>\n"
            case .rectangle(let rect):
                let moved = rect.offset(by: shift)
                svg +=
                    "<rect x=\"\(x(moved.minX))\" y=\"\(y(moved.minY))\" width=\"\(format(Double(moved.width - 1) * s))\" "
                    + "height=\"\(format(Double(moved.height - 1) * s))\" \(paint) stroke-width=\"\(format(s))\"/>\n"
            case .ellipse(let rect):
                let moved = rect.offset(by: shift)
                let centerX = (Double(Int64(moved.minX) + Int64(moved.maxX)) / 2 - Double(bounds.minX) + 0.5) * s
                let centerY = (Double(Int64(moved.minY) + Int64(moved.maxY)) / 2 - Double(bounds.minY) + 0.5) * s
                svg +=
                    "<ellipse cx=\"\(format(centerX))\" cy=\"\(format(centerY))\" "
                    + "rx=\"\(format(Double(moved.width - 1) / 2 * s))\" ry=\"\(format(Double(moved.height - 1) / 2 * s))\" "
                    + "\(paint) stroke-width=\"\(format(s))\"/>\n"
            case .text(let origin, let text):
                let moved = origin.offset(by: shift)
                let baseline = (Double(Int64(moved.y) - Int64(bounds.minY)) + 1.7) * s
                let left = Double(Int64(moved.x) - Int64(bounds.minX)) * s
                svg +=
                    "<text x=\"\(format(left))\" y=\"\(format(baseline))\" font-family=\"monospace\" "
                    + "font-size=\"\(format(2 * s))\" textLength=\"\(format(Double(text.unicodeScalars.count) * s))\" "
                    + "fill=\"\(color)\">\(escape(text))</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }

    static func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
            .replacingAll("\"", with: "&quot;")
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}

extension Viewport {
    /// The smallest viewport in `mode` that shows all of `bounds`.
    public static func fitting(_ bounds: Rect, mode: RasterMode = .halfBlock) -> Viewport {
        let columns = Int((bounds.width + Int64(mode.pixelsPerColumn) - 1) / Int64(mode.pixelsPerColumn))
        let rows = Int((bounds.height + Int64(mode.pixelsPerRow) - 1) / Int64(mode.pixelsPerRow))
        return Viewport(origin: Point(bounds.minX, bounds.minY), columns: columns, rows: rows, mode: mode)
    }
}

/// The visible board as plain values, for JSON (`GET /rooms/{room}/board.json`):
/// what a tool or a browser needs to draw it, bottom first, with moves
/// applied and the style in effect.
public struct BoardExport: Codable, Sendable, Equatable {
    /// One visible element.
    public struct Item: Codable, Sendable, Equatable {
        /// The creating update, as `origin#seq` (origin in 16 hex digits).
        public var id: String
        /// `stroke`, `line`, `rectangle`, `ellipse` or `text`.
        public var kind: String
        /// A stroke's points in order, or a line's two ends, as `[x, y]`.
        public var points: [[Int32]]?
        /// A rectangle's or an ellipse's bounds: `[minX, minY, maxX, maxY]`.
        public var rect: [Int32]?
        /// A text's characters.
        public var text: String?
        /// Where a text's first character sits, `[x, y]`.
        public var at: [Int32]?
        /// The colour: an index into the xterm 256-colour palette.
        public var color: UInt8
        /// The same colour as `#rrggbb`.
        public var hex: String
        /// Whether a rectangle or an ellipse is filled.
        public var filled: Bool
        /// The character a glyph brush marks its cells with, if it has one.
        public var glyph: String?
        /// Whether a stroke is still being drawn.
        public var open: Bool?
    }

    /// The visible elements, bottom first.
    public var elements: [Item]
    /// The bounds of everything visible, `[minX, minY, maxX, maxY]`; nil when
    /// nothing is.
    public var bounds: [Int32]?

    /// The visible elements of `board`.
    public init(_ board: Board) {
        elements = board.visibleElements.map(Self.item)
        bounds = board.visibleBounds.map { [$0.minX, $0.minY, $0.maxX, $0.maxY] }
    }

    private static func item(_ element: Element) -> Item {
        let style = element.style
        var glyph: String?
        if case .glyph(let scalar) = style.brush { glyph = String(Character(scalar)) }
        var item = Item(
            id: "\(element.id)", kind: "", color: style.color, hex: Palette.hex(style.color), filled: style.filled,
            glyph: glyph)
        let shift = element.offset
        func pair(_ point: Point) -> [Int32] {
            let moved = point.offset(by: shift)
            return [moved.x, moved.y]
        }
        switch element.shape {
        case .stroke(let points):
            item.kind = "stroke"
            item.points = points.map(pair)
            item.open = element.isOpen
        case .line(let a, let b):
            item.kind = "line"
            item.points = [pair(a), pair(b)]
        case .rectangle(let rect), .ellipse(let rect):
            if case .rectangle = element.shape { item.kind = "rectangle" } else { item.kind = "ellipse" }
            let moved = rect.offset(by: shift)
            item.rect = [moved.minX, moved.minY, moved.maxX, moved.maxY]
        case .text(let origin, let text):
            item.kind = "text"
            item.text = text
            item.at = pair(origin)
        }
        return item
    }
}
