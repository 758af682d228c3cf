import Scuttlebutt
import Whiteboard

/// What the status bar says about the connection and the room.
public struct StatusLine: Sendable, Hashable {
    /// The room's name.
    public var room: String
    /// The connection in a word or two: live, syncing…, connecting…,
    /// offline, refused (or what a replay is doing).
    public var connection: String
    /// Why it is offline or refused, if known.
    public var detail: String?
    /// Whether the connection is live (shown in green) or not (in yellow).
    public var isLive: Bool
    /// People in the room, this one included; nil when unknown (offline, replay).
    public var online: Int?
    /// The last round trip to the server, in milliseconds; nil when offline.
    public var latency: UInt64?
    /// Own updates the server has not confirmed.
    public var pending: Int
    /// Who is followed (`view`), if anyone.
    public var following: String?

    /// A status line.
    public init(
        room: String, connection: String, detail: String? = nil, isLive: Bool, online: Int? = nil,
        latency: UInt64? = nil, pending: Int = 0, following: String? = nil
    ) {
        self.room = room
        self.connection = connection
        self.detail = detail
        self.isLive = isLive
        self.online = online
        self.latency = latency
        self.pending = pending
        self.following = following
    }
}

/// Builds whole terminal screens from the board, the interface state and
/// the room's presence: pure, so every screen can be a golden test.
///
/// The board fills every row but the last, which is the status bar.
/// Previews (a shape being dragged, an element being moved, text being
/// typed) are drawn by applying the action to a copy of the board, which is
/// cheap because the board is persistent.
///
/// Frames after the first repaint only what changed: when the viewport is
/// the same and the boards keep a spatial index, ``Board/damage(since:in:)``
/// names the regions that may differ from the last frame's board.
public struct ScreenComposer: Sendable {
    /// How a frame's board area was painted.
    public enum Repaint: Sendable, Hashable {
        /// Every cell (the first frame, a new viewport, an unindexed board,
        /// or changes over much of the screen).
        case full
        /// Only the cells showing these many damaged rectangles (0: the
        /// board area is as it was).
        case regions(Int)
    }

    private var rasterizer: Rasterizer
    /// The board (previews applied) the last frame showed.
    private var lastShown: Board?
    /// How the last frame's board area was painted.
    public private(set) var lastRepaint = Repaint.full
    private let reducer = BoardReducer()
    /// The origin previews are recorded under: never a real peer.
    private static let previewOrigin = PeerID(UInt64.max)

    /// A composer for a terminal of `columns` × `rows` cells.
    public init(columns: Int, rows: Int) {
        rasterizer = Rasterizer(
            viewport: Viewport(origin: .zero, columns: max(1, columns), rows: max(1, rows - 1)))
    }

    /// The screen for this moment.
    /// - Parameters:
    ///   - board: The board as the replica holds it.
    ///   - controller: Tool, colour, viewport, gesture and overlays.
    ///   - others: Everyone else's presence.
    ///   - status: The connection and room facts for the status bar.
    public mutating func compose(
        board: Board, controller: DrawingController, others: [BoardPresence], status: StatusLine
    ) -> CellGrid {
        let viewport = controller.viewport
        repaint(preview(of: board, controller: controller), viewport: viewport)
        var cursors = others.compactMap(\.overlay)
        if let cursor = controller.keyboardCursor, !controller.isReadOnly {
            cursors.append(CursorOverlay(position: cursor, name: "", color: controller.color))
        }
        let boardArea = rasterizer.frame(cursors: cursors)
        var screen = CellGrid(columns: viewport.columns, rows: viewport.rows + 1)
        for row in 0..<viewport.rows {
            for column in 0..<viewport.columns { screen[column, row] = boardArea[column, row] }
        }
        drawStatusBar(into: &screen, controller: controller, status: status)
        if controller.showsPalette { drawPalette(into: &screen, controller: controller) }
        if controller.showsHelp { drawBox(lines: controller.helpLines, into: &screen) }
        return screen
    }

    /// Paints `board` into the rasterizer: only the damaged regions when
    /// they are known and cover less than half the screen, all of it
    /// otherwise.
    private mutating func repaint(_ board: Board, viewport: Viewport) {
        defer { lastShown = board }
        let screen = viewport.canvasRect
        guard let lastShown, viewport == rasterizer.viewport,
            let damage = board.damage(since: lastShown, in: screen)
        else {
            rasterizer.render(board, viewport: viewport)
            lastRepaint = .full
            return
        }
        let damagedPixels = damage.reduce(Int64(0)) { total, region in
            let clipped = Rect(
                minX: max(region.minX, screen.minX), minY: max(region.minY, screen.minY),
                maxX: min(region.maxX, screen.maxX), maxY: min(region.maxY, screen.maxY))
            return total + clipped.width * clipped.height
        }
        if damagedPixels * 2 > screen.width * screen.height {
            rasterizer.render(board)
            lastRepaint = .full
        } else {
            for region in damage { rasterizer.render(board, dirty: region) }
            lastRepaint = .regions(damage.count)
        }
    }

    /// The board with the gesture in progress applied, for drawing only.
    private func preview(of board: Board, controller: DrawingController) -> Board {
        let action: BoardAction? =
            if let entry = controller.textEntry {
                .addText(at: entry.position, text: entry.text + "▏", style: controller.style)
            } else {
                switch controller.gesture {
                case .shape(let kind, let from, let to): .addShape(kind, from: from, to: to, style: controller.style)
                case .move(let id, let from, let to): .move(id, by: Point(to.x &- from.x, to.y &- from.y))
                default: nil
                }
            }
        guard let action else { return board }
        var preview = board
        reducer.reduce(
            &preview, Update(origin: Self.previewOrigin, seq: 1, timestamp: Timestamp(UInt64.max), action: action))
        return preview
    }

    // MARK: Status bar

    private static let barBackground: UInt8 = 236
    private static let barForeground: UInt8 = 252

    private func drawStatusBar(into screen: inout CellGrid, controller: DrawingController, status: StatusLine) {
        let row = screen.rows - 1
        for index in 0..<screen.columns {
            screen[index, row] = Cell(" ", foreground: Self.barForeground, background: Self.barBackground)
        }
        var column = 0
        for segment in StatusBarLayout.fit(Self.segments(controller: controller, status: status), width: screen.columns)
        {
            if segment.alignsRight { column = max(column, screen.columns - segment.width) }
            for scalar in segment.text.unicodeScalars where column < screen.columns {
                screen[column, row] = Cell(
                    BoardLimits.isSingleCell(scalar) ? scalar : "?", foreground: segment.color,
                    background: Self.barBackground)
                column += 1
            }
        }
    }

    /// The status bar's parts, in order, each with how much it matters when
    /// the terminal is too narrow for all of them.
    static func segments(controller: DrawingController, status: StatusLine) -> [StatusBarLayout.Segment] {
        typealias Segment = StatusBarLayout.Segment
        let warning: UInt8 = 214
        var segments = [Segment(" \(status.room) ", priority: 9)]
        segments.append(Segment("│ \(status.connection) ", color: status.isLive ? 114 : warning, priority: 10))
        if let detail = status.detail {
            segments.append(Segment("(\(detail)) ", color: warning, priority: 6, shrinks: true))
        }
        if let online = status.online { segments.append(Segment("│ \(online) online ", priority: 5)) }
        if let latency = status.latency { segments.append(Segment("│ \(latency) ms ", priority: 4)) }
        if status.pending > 0 { segments.append(Segment("│ \(status.pending) pending ", color: warning, priority: 7)) }
        if let following = status.following { segments.append(Segment("│ following \(following) ", priority: 5)) }
        if controller.isReadOnly {
            segments.append(Segment("│ viewing ", priority: 8))
        } else {
            segments.append(Segment("│ \(Self.toolName(controller.tool)) ", priority: 8))
            segments.append(Segment("│ ", priority: 8))
            segments.append(Segment("■", color: controller.color, priority: 8))
            segments.append(Segment(" \(controller.color) ", priority: 8))
            if case .glyph(let glyph) = controller.brush { segments.append(Segment("│ brush \(glyph) ", priority: 3)) }
        }
        if let notice = controller.notice {
            segments.append(Segment("│ \(notice) ", color: 223, priority: 6, shrinks: true))
        }
        segments.append(Segment(" ? help ", priority: 10, alignsRight: true))
        return segments
    }

    /// A tool's name as the status bar shows it.
    public static func toolName(_ tool: DrawingTool) -> String {
        switch tool {
        case .freehand: "freehand"
        case .line: "line"
        case .rectangle: "rectangle"
        case .ellipse: "ellipse"
        case .text: "text"
        case .eraser: "eraser"
        case .select: "select-and-move"
        }
    }

    // MARK: Overlays

    private func drawPalette(into screen: inout CellGrid, controller: DrawingController) {
        let frame = controller.paletteFrame
        drawFrame(column: frame.column, row: frame.row, columns: frame.columns, rows: frame.rows, into: &screen)
        for index in 0..<controller.colorCount {
            let column = frame.column + 1 + (index % 16) * 2
            let row = frame.row + 1 + index / 16
            guard column + 1 < screen.columns, row < screen.rows - 1 else { continue }
            let mark: Unicode.Scalar = index == Int(controller.color) ? "◆" : "█"
            screen[column, row] = Cell(mark, foreground: UInt8(index))
            screen[column + 1, row] = Cell("█", foreground: UInt8(index))
        }
    }

    private func drawBox(lines: [String], into screen: inout CellGrid) {
        let width = min(screen.columns, (lines.map(\.count).max() ?? 0) + 4)
        let height = min(screen.rows - 1, lines.count + 2)
        let left = (screen.columns - width) / 2
        let top = max(0, (screen.rows - 1 - height) / 2)
        drawFrame(column: left, row: top, columns: width, rows: height, into: &screen)
        for (index, line) in lines.prefix(height - 2).enumerated() {
            for (offset, scalar) in line.unicodeScalars.prefix(width - 4).enumerated() {
                screen[left + 2 + offset, top + 1 + index] = Cell(BoardLimits.isSingleCell(scalar) ? scalar : "?")
            }
        }
    }

    private func drawFrame(
        column left: Int, row top: Int, columns width: Int, rows height: Int, into screen: inout CellGrid
    ) {
        guard width >= 2, height >= 2 else { return }
        for row in top..<min(top + height, screen.rows - 1) {
            for column in left..<min(left + width, screen.columns) {
                let isTop = row == top
                let isBottom = row == top + height - 1
                let isLeft = column == left
                let isRight = column == left + width - 1
                let character: Unicode.Scalar =
                    switch (isTop, isBottom, isLeft, isRight) {
                    case (true, _, true, _): "┌"
                    case (true, _, _, true): "┐"
                    case (_, true, true, _): "└"
                    case (_, true, _, true): "┘"
                    case (true, _, _, _), (_, true, _, _): "─"
                    case (_, _, true, _), (_, _, _, true): "│"
                    default: " "
                    }
                screen[column, row] = Cell(character)
            }
        }
    }
}
