import Scuttlebutt
import Whiteboard

/// What the app must do after an input event.
public enum DrawingEffect: Sendable, Hashable {
    /// Record this action (for `beginStroke` and `erase`, then call
    /// ``DrawingController/gestureBegan(_:)`` with the update's id).
    case record(BoardAction)
    /// Leave.
    case quit
}

/// A gesture in progress: between a press and its release.
public enum Gesture: Sendable, Hashable {
    /// A freehand stroke; its id arrives once the begin is recorded. Points
    /// dragged through wait in `pending` until the frame is drawn (or 16
    /// of them fill an extend): one extend per frame, not one per point.
    case stroke(ElementID?, last: Point, pending: [Point])
    /// A line, rectangle or ellipse being dragged out.
    case shape(ShapeKind, from: Point, to: Point)
    /// The eraser, held down; the id of its first erase once it erased
    /// something (the rest of the drag continues it), and the last cell it
    /// passed.
    case erase(ElementID?, last: Rect)
    /// An element being dragged.
    case move(ElementID, from: Point, to: Point)
    /// The board being dragged with a modifier or the middle/right button.
    case pan(grabbed: Point)
}

/// Text being typed where the text tool was clicked.
public struct TextEntry: Sendable, Hashable {
    /// Where the text goes.
    public var position: Point
    /// What has been typed.
    public var text: String
}

/// The drawing client's interface as a pure state machine: input events in,
/// board actions out. It never touches a terminal or a network, so every
/// binding is unit-tested.
///
/// Mouse: the left button draws with the current tool; the middle or right
/// button, or the left with Ctrl or Alt, drags the board; the wheel pans
/// (with Shift, sideways). Keyboard: see ``helpLines``.
public struct DrawingController: Sendable {
    /// The tool in hand.
    public var tool: DrawingTool = .freehand
    /// The colour new elements get (a 256-colour palette index).
    public var color: UInt8
    /// The brush new elements get.
    public var brush: Brush = .solid
    /// What the board area of the screen shows.
    public private(set) var viewport: Viewport
    /// The keyboard cursor (canvas point), once keyboard drawing is used.
    public private(set) var keyboardCursor: Point?
    /// Where the pointer (mouse or keyboard cursor) last was on the canvas.
    public private(set) var pointer: Point?
    /// The gesture in progress, if any.
    public private(set) var gesture: Gesture?
    /// Text being typed, if any.
    public private(set) var textEntry: TextEntry?
    /// Whether the help overlay is open.
    public private(set) var showsHelp = false
    /// Whether the palette overlay is open.
    public private(set) var showsPalette = false
    /// A one-line notice for the status bar (a refusal, a mode change).
    public var notice: String?
    /// A viewer: nothing is drawn, only looked at.
    public let isReadOnly: Bool
    /// How many colours the terminal shows (8, 16 or 256).
    public var colorCount: Int

    /// Lines about the keys of the command around the board (viewer or
    /// replay keys), shown in the help before the common ones: where they
    /// take a key the common ones name, theirs is what the key does.
    public var modeHelp: [String] = []

    /// The brushes `b` cycles through.
    public static let brushes: [Brush] = [.solid, .glyph("█"), .glyph("#"), .glyph("*"), .glyph("o"), .glyph("+")]

    /// A controller showing `viewport` (the board area, without the status bar).
    public init(viewport: Viewport, color: UInt8 = 12, isReadOnly: Bool = false, colorCount: Int = 256) {
        self.viewport = viewport
        self.color = color
        self.isReadOnly = isReadOnly
        self.colorCount = colorCount
    }

    /// The style new elements get.
    public var style: Style { Style(color: color, brush: brush) }

    // MARK: Outside changes

    /// The terminal was resized; `rows` excludes the status bar.
    public mutating func resize(columns: Int, rows: Int) {
        viewport.columns = max(1, columns)
        viewport.rows = max(1, rows)
    }

    /// Moves the view (follow and fit modes of `view`).
    public mutating func show(origin: Point, mode: RasterMode) {
        viewport.origin = origin
        viewport.mode = mode
    }

    /// The `beginStroke` or `erase` that started the gesture was
    /// recorded as this update: the stroke's extends, or the drag's further
    /// erases, name it from now on.
    public mutating func gestureBegan(_ id: ElementID) {
        switch gesture {
        case .stroke(nil, let last, let pending): gesture = .stroke(id, last: last, pending: pending)
        case .erase(nil, let last): gesture = .erase(id, last: last)
        default: break
        }
    }

    // MARK: Input

    /// Handles one input event against the board as it is now.
    public mutating func handle(_ event: InputEvent, board: Board) -> [DrawingEffect] {
        switch event {
        case .key(let key): return handle(key, board: board)
        case .mouse(let mouse): return handle(mouse, board: board)
        }
    }

    private mutating func handle(_ key: Key, board: Board) -> [DrawingEffect] {
        if key == .control("c") { return [.quit] }
        if showsHelp {
            showsHelp = false
            return []
        }
        if textEntry != nil { return typeText(key) }
        if showsPalette, key == .escape || key == .character("p") {
            showsPalette = false
            return []
        }
        switch key {
        case .character("q"): return [.quit]
        case .character("?"): showsHelp = true
        case .arrow(let direction, let modifiers): pan(direction, cells: modifiers.isEmpty ? 4 : 16)
        case .home, .character("0"): viewport.origin = .zero
        case .pageUp: pan(.up, cells: viewport.rows)
        case .pageDown: pan(.down, cells: viewport.rows)
        case .character("m"):
            let middle = viewport.canvasPoint(column: viewport.columns / 2, row: viewport.rows / 2)
            viewport.mode = viewport.mode == .halfBlock ? .braille : .halfBlock
            center(on: middle)
            notice = viewport.mode == .braille ? "braille: 2×4 pixels per cell" : "half-block: 1×2 pixels per cell"
        case .escape:
            gesture = nil
            showsPalette = false
        default:
            return isReadOnly ? [] : handleDrawingKey(key, board: board)
        }
        return []
    }

    private mutating func handleDrawingKey(_ key: Key, board: Board) -> [DrawingEffect] {
        switch key {
        case .character(let character) where ("1"..."7").contains(character):
            select(DrawingTool.allCases[Int(String(character))! - 1])
        case .tab:
            select(DrawingTool.allCases[(Int(tool.rawValue) + 1) % DrawingTool.allCases.count])
        case .backTab:
            let count = DrawingTool.allCases.count
            select(DrawingTool.allCases[(Int(tool.rawValue) + count - 1) % count])
        case .character("c"): color = Self.nextVisibleColor(after: color, step: 1, within: min(16, colorCount))
        case .character("C"): color = Self.nextVisibleColor(after: color, step: -1, within: min(16, colorCount))
        case .character("+"): color = Self.nextVisibleColor(after: color, step: 1, within: colorCount)
        case .character("-"): color = Self.nextVisibleColor(after: color, step: -1, within: colorCount)
        case .character("p"): showsPalette.toggle()
        case .character("b"):
            let index = Self.brushes.firstIndex(of: brush) ?? 0
            brush = Self.brushes[(index + 1) % Self.brushes.count]
        case .character("u"), .control("z"): return [.record(.undo)]
        case .character("r"), .control("y"): return [.record(.redo)]
        case .character("h"): return moveKeyboardCursor(columns: -1, rows: 0, board: board)
        case .character("l"): return moveKeyboardCursor(columns: 1, rows: 0, board: board)
        case .character("k"): return moveKeyboardCursor(columns: 0, rows: -1, board: board)
        case .character("j"): return moveKeyboardCursor(columns: 0, rows: 1, board: board)
        case .character("H"): return moveKeyboardCursor(columns: -8, rows: 0, board: board)
        case .character("L"): return moveKeyboardCursor(columns: 8, rows: 0, board: board)
        case .character("K"): return moveKeyboardCursor(columns: 0, rows: -8, board: board)
        case .character("J"): return moveKeyboardCursor(columns: 0, rows: 8, board: board)
        case .character(" "), .enter:
            let point = keyboardCursor ?? viewport.canvasPoint(column: viewport.columns / 2, row: viewport.rows / 2)
            keyboardCursor = point
            pointer = point
            return gesture == nil ? press(at: point, board: board) : release(at: point)
        default:
            break
        }
        return []
    }

    /// The next colour from `color` in steps of `step`, among the first
    /// `count` palette entries, that shows on a dark background: black and
    /// the darkest greys are skipped (the palette still offers them).
    static func nextVisibleColor(after color: UInt8, step: Int, within count: Int) -> UInt8 {
        var candidate = Int(color)
        for _ in 0..<count {
            candidate = ((candidate + step) % count + count) % count
            let (red, green, blue) = Palette.rgb(UInt8(candidate))
            if max(red, green, blue) >= 60 { return UInt8(candidate) }
        }
        return color
    }

    private mutating func select(_ newTool: DrawingTool) {
        tool = newTool
        gesture = nil
        notice = nil
    }

    private mutating func moveKeyboardCursor(columns: Int, rows: Int, board: Board) -> [DrawingEffect] {
        let start = keyboardCursor ?? viewport.canvasPoint(column: viewport.columns / 2, row: viewport.rows / 2)
        let point = Point(
            start.x &+ Int32(columns) * viewport.mode.pixelsPerColumn,
            start.y &+ Int32(rows) * viewport.mode.pixelsPerRow)
        keyboardCursor = point
        pointer = point
        // Keep the cursor on screen: the view follows it.
        if viewport.cell(showing: point) == nil { center(on: point) }
        return gesture == nil ? [] : drag(to: point, board: board)
    }

    private mutating func typeText(_ key: Key) -> [DrawingEffect] {
        guard var entry = textEntry else { return [] }
        switch key {
        case .enter:
            textEntry = nil
            return entry.text.isEmpty ? [] : [.record(.addText(at: entry.position, text: entry.text, style: style))]
        case .escape:
            textEntry = nil
        case .backspace:
            if !entry.text.isEmpty { entry.text.removeLast() }
            textEntry = entry
        case .character(let character):
            guard character.unicodeScalars.count == 1, let scalar = character.unicodeScalars.first,
                BoardLimits.isSingleCell(scalar), entry.text.count < BoardLimits().maxTextLength
            else {
                notice = "that character is not allowed in board text"
                return []
            }
            entry.text.append(character)
            textEntry = entry
        default:
            break
        }
        return []
    }

    private mutating func handle(_ mouse: MouseEvent, board: Board) -> [DrawingEffect] {
        if showsHelp {
            if mouse.action == .press { showsHelp = false }
            return []
        }
        let onBoard = mouse.row < viewport.rows
        let point = viewport.canvasPoint(column: mouse.column, row: min(mouse.row, viewport.rows - 1))
        switch (mouse.button, mouse.action) {
        case (.wheelUp, _):
            pan(mouse.modifiers.contains(.shift) ? .left : .up, cells: 3)
            return []
        case (.wheelDown, _):
            pan(mouse.modifiers.contains(.shift) ? .right : .down, cells: 3)
            return []
        default:
            break
        }
        if showsPalette {
            if mouse.action == .press, mouse.button == .left,
                let picked = paletteColor(column: mouse.column, row: mouse.row)
            {
                color = picked
                showsPalette = false
            }
            return []
        }
        if onBoard { pointer = point }
        let grabsBoard =
            mouse.button == .middle || mouse.button == .right
            || (mouse.button == .left && !mouse.modifiers.isDisjoint(with: [.control, .alt]))
        switch mouse.action {
        case .press where grabsBoard && onBoard:
            gesture = .pan(grabbed: point)
            return []
        case .press where mouse.button == .left && onBoard:
            if textEntry != nil { return typeText(.enter) + press(at: point, board: board) }
            return isReadOnly ? [] : press(at: point, board: board)
        case .motion where mouse.button != .none:
            return drag(to: point, board: board)
        case .release:
            return release(at: point)
        default:
            return []
        }
    }

    // MARK: Gestures

    private mutating func press(at point: Point, board: Board) -> [DrawingEffect] {
        guard !isReadOnly else { return [] }
        notice = nil
        switch tool {
        case .freehand:
            gesture = .stroke(nil, last: point, pending: [])
            return [.record(.beginStroke(at: point, style: style))]
        case .line, .rectangle, .ellipse:
            let kind: ShapeKind = tool == .line ? .line : tool == .rectangle ? .rectangle : .ellipse
            gesture = .shape(kind, from: point, to: point)
        case .text:
            textEntry = TextEntry(position: point, text: "")
        case .eraser:
            let area = cellArea(at: point)
            gesture = .erase(nil, last: area)
            return erase(in: area, continuing: nil, board: board)
        case .select:
            let hit = board.visibleElements(in: cellArea(at: point)).last
            if let hit {
                gesture = .move(hit.id, from: point, to: point)
            } else {
                notice = "nothing to move there"
            }
        }
        return []
    }

    private mutating func drag(to point: Point, board: Board) -> [DrawingEffect] {
        switch gesture {
        case .stroke(let id, let last, var pending):
            guard point != last else { return [] }
            pending.append(point)
            gesture = .stroke(id, last: point, pending: pending)
            return pending.count >= maxPointsPerExtend ? endOfFrame() : []
        case .shape(let kind, let from, _):
            gesture = .shape(kind, from: from, to: point)
        case .erase(let first, let last):
            let area = cellArea(at: point)
            guard area != last else { return [] }
            gesture = .erase(first, last: area)
            return erase(in: area, continuing: first, board: board)
        case .move(let id, let from, _):
            gesture = .move(id, from: from, to: point)
        case .pan(let grabbed):
            // Keep the grabbed canvas point under the pointer.
            viewport.origin = Point(
                viewport.origin.x &+ (grabbed.x &- point.x), viewport.origin.y &+ (grabbed.y &- point.y))
        case nil:
            break
        }
        return []
    }

    /// Erases what is visible under `area`, by id, as this person sees it;
    /// nothing when nothing is there. One drag, one undo: once the drag has
    /// erased something, the rest of it continues that first erase.
    private func erase(in area: Rect, continuing first: ElementID?, board: Board) -> [DrawingEffect] {
        let ids = board.erasable(in: area)
        guard !ids.isEmpty else { return [] }
        guard let first else { return [.record(.erase(ids))] }
        return [.record(.continueErasing(first, ids))]
    }

    private mutating func release(at point: Point) -> [DrawingEffect] {
        defer { gesture = nil }
        switch gesture {
        case .stroke(let id, _, _):
            let rest = endOfFrame()
            return id.map { rest + [.record(.endStroke($0))] } ?? []
        case .shape(let kind, let from, _):
            return [.record(.addShape(kind, from: from, to: point, style: style))]
        case .move(let id, let from, _):
            let offset = Point(point.x &- from.x, point.y &- from.y)
            return offset == .zero ? [] : [.record(.move(id, by: offset))]
        case .erase, .pan, nil:
            return []
        }
    }

    /// The points a stroke extend carries at most (the board refuses more).
    private var maxPointsPerExtend: Int { BoardLimits().maxPointsPerExtend }

    /// Called once per frame, before it is drawn (and by a release): the
    /// stroke's points dragged through since the last frame, as one extend.
    /// Points wait while the stroke's begin has no id yet.
    public mutating func endOfFrame() -> [DrawingEffect] {
        guard case .stroke(let id?, let last, let pending) = gesture, !pending.isEmpty else { return [] }
        gesture = .stroke(id, last: last, pending: [])
        return stride(from: 0, to: pending.count, by: maxPointsPerExtend).map { start in
            .record(.extendStroke(id, points: Array(pending[start..<min(start + maxPointsPerExtend, pending.count)])))
        }
    }

    /// The canvas pixels one cell shows.
    private func cellArea(at point: Point) -> Rect {
        Rect(
            minX: point.x, minY: point.y, maxX: point.x &+ viewport.mode.pixelsPerColumn &- 1,
            maxY: point.y &+ viewport.mode.pixelsPerRow &- 1)
    }

    private mutating func pan(_ direction: Direction, cells: Int) {
        let dx = Int32(cells) * viewport.mode.pixelsPerColumn
        let dy = Int32(cells) * viewport.mode.pixelsPerRow
        let origin = viewport.origin
        switch direction {
        case .up: viewport.origin = Point(origin.x, origin.y &- dy)
        case .down: viewport.origin = Point(origin.x, origin.y &+ dy)
        case .left: viewport.origin = Point(origin.x &- dx, origin.y)
        case .right: viewport.origin = Point(origin.x &+ dx, origin.y)
        }
    }

    private mutating func center(on point: Point) {
        viewport.origin = Point(
            point.x &- Int32(viewport.columns / 2) * viewport.mode.pixelsPerColumn,
            point.y &- Int32(viewport.rows / 2) * viewport.mode.pixelsPerRow)
    }

    // MARK: Overlays

    /// Where the palette overlay sits: 16 swatches of 2 cells per row.
    public var paletteFrame: (column: Int, row: Int, columns: Int, rows: Int) {
        let rows = (colorCount + 15) / 16
        return (max(0, (viewport.columns - 34) / 2), max(0, (viewport.rows - rows - 2) / 2), 34, rows + 2)
    }

    /// The colour of the palette swatch at a screen cell, if any.
    public func paletteColor(column: Int, row: Int) -> UInt8? {
        let frame = paletteFrame
        let x = column - frame.column - 1
        let y = row - frame.row - 1
        guard x >= 0, x < 32, y >= 0, y < frame.rows - 2 else { return nil }
        let index = y * 16 + x / 2
        return index < colorCount ? UInt8(index) : nil
    }

    /// The help overlay's lines (at most 64 characters wide).
    public var helpLines: [String] {
        var lines = ["Scuttleboard: keys and mouse", ""] + modeHelp
        if !isReadOnly { lines.append("left button   draw with the current tool") }
        lines += [
            "middle/right  drag the board (or Ctrl/Alt + left)",
            "wheel         pan up and down (Shift: sideways)",
            "arrows        pan (Shift: faster); PgUp/PgDn: a screen",
            "0, Home       back to the origin",
            "m             half-block or braille (denser) pixels",
        ]
        if !isReadOnly {
            lines += [
                "1-7, Tab      freehand, line, rectangle, ellipse, text,",
                "              eraser, select-and-move",
                "c / C         next / previous of the 16 basic colours",
                "+ / -         step through all \(colorCount) colours; p: palette",
                "b             brush: solid, or a glyph (█ # * o +)",
                "u / r         undo / redo your own last action (^Z / ^Y)",
                "h j k l       move the keyboard cursor (H J K L: 8 cells)",
                "Space, Enter  press / release at the keyboard cursor",
                "text tool     click, type, Enter places it, Esc cancels",
            ]
        }
        lines += ["?             this help (any key closes it)", "q, Ctrl-C     quit"]
        return lines
    }
}
