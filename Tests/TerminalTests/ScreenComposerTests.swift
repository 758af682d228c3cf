import Foundation
import Scuttlebutt
import Testing
import Whiteboard

@testable import Terminal

/// Whole screens from the pure composer, against golden files in
/// Fixtures/screens (`SCUTTLEBOARD_UPDATE_GOLDENS=1` rewrites them).
@Suite struct ScreenComposerTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/screens")

    /// A rectangle, a line of text and a stroke, recorded by two peers.
    static let board: Board = {
        var board = Board()
        let reducer = BoardReducer()
        let actions: [(UInt64, BoardAction)] = [
            (1, .addShape(.rectangle, from: Point(2, 2), to: Point(20, 13), style: Style(color: 12))),
            (2, .addText(at: Point(4, 6), text: "plan", style: Style(color: 10))),
            (1, .addShape(.ellipse, from: Point(24, 2), to: Point(36, 12), style: Style(color: 9, brush: .glyph("*")))),
        ]
        var seqs: [UInt64: UInt64] = [:]
        for (index, (origin, action)) in actions.enumerated() {
            seqs[origin, default: 0] += 1
            reducer.reduce(
                &board,
                Update(
                    origin: PeerID(origin), seq: seqs[origin]!, timestamp: Timestamp(UInt64(index + 1)), action: action)
            )
        }
        return board
    }()

    static let status = StatusLine(room: "design", connection: "live", isLive: true, online: 2, latency: 3)
    static let others = [
        BoardPresence(name: "bob", color: 10, cursor: Point(30, 16), tool: .text, viewport: nil)
    ]

    func check(_ grid: CellGrid, golden name: String) throws {
        let text = grid.plainLines.joined(separator: "\n") + "\n"
        let file = Self.folder.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["SCUTTLEBOARD_UPDATE_GOLDENS"] == "1" {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == text, "screen \(name)")
    }

    func controller(columns: Int = 48, rows: Int = 12) -> DrawingController {
        DrawingController(viewport: Viewport(origin: .zero, columns: columns, rows: rows), color: 12)
    }

    @Test func theDrawingScreenShowsTheBoardCursorsAndStatus() throws {
        var composer = ScreenComposer(columns: 48, rows: 13)
        let grid = composer.compose(
            board: Self.board, controller: controller(), others: Self.others, status: Self.status)
        try check(grid, golden: "draw")
        #expect(grid.rows == 13 && grid.columns == 48)
        #expect(grid[30, 8] == Cell("◆", foreground: 10), "bob's cursor in his colour")
        let bar = (0..<48).map { grid[$0, 12] }
        #expect(bar.allSatisfy { $0.background == 236 }, "the status bar has its own background")
        #expect(bar.contains { $0.character == "■" && $0.foreground == 12 }, "the current colour is visible")
    }

    @Test func previewsShowWhatTheGestureWillRecord() throws {
        var composer = ScreenComposer(columns: 48, rows: 13)
        var drawing = controller()
        _ = drawing.handle(.key(.character("4")), board: Self.board)
        _ = drawing.handle(.mouse(MouseEvent(button: .left, action: .press, column: 30, row: 7)), board: Self.board)
        _ = drawing.handle(.mouse(MouseEvent(button: .left, action: .motion, column: 44, row: 10)), board: Self.board)
        let grid = composer.compose(board: Self.board, controller: drawing, others: [], status: Self.status)
        try check(grid, golden: "preview-ellipse")
        let without = ScreenComposer(columns: 48, rows: 13)
        var plain = without
        let before = plain.compose(board: Self.board, controller: controller(), others: [], status: Self.status)
        #expect(grid.plainLines[8] != before.plainLines[8], "the ellipse being dragged shows")
    }

    @Test func framesAfterTheFirstRepaintOnlyWhatChanged() {
        var board = Board(spatiallyIndexed: true)
        let reducer = BoardReducer()
        var seq: UInt64 = 0
        func record(_ action: BoardAction) -> ElementID {
            seq += 1
            let update = Update(origin: PeerID(7), seq: seq, timestamp: Timestamp(seq), action: action)
            reducer.reduce(&board, update)
            return update.id
        }
        _ = record(.addShape(.rectangle, from: Point(2, 2), to: Point(40, 20), style: Style(color: 12)))
        let stroke = record(.beginStroke(at: Point(10, 10), style: Style(color: 9)))
        var composer = ScreenComposer(columns: 120, rows: 41)
        var drawing = controller(columns: 120, rows: 40)
        func frame() -> CellGrid {
            composer.compose(board: board, controller: drawing, others: [], status: Self.status)
        }
        func fresh() -> CellGrid {
            var composer = ScreenComposer(columns: 120, rows: 41)
            return composer.compose(board: board, controller: drawing, others: [], status: Self.status)
        }
        _ = frame()
        #expect(composer.lastRepaint == .full)
        _ = frame()
        #expect(composer.lastRepaint == .regions(0), "nothing changed, nothing repainted")
        _ = record(.extendStroke(stroke, points: [Point(14, 12), Point(16, 12)]))
        #expect(frame() == fresh())
        #expect(composer.lastRepaint == .regions(1), "one tile: the stroke's new segment")
        // A shape being dragged is a preview: its tiles are damaged each frame.
        _ = drawing.handle(.key(.character("3")), board: board)
        _ = drawing.handle(.mouse(MouseEvent(button: .left, action: .press, column: 30, row: 2)), board: board)
        _ = drawing.handle(.mouse(MouseEvent(button: .left, action: .motion, column: 44, row: 10)), board: board)
        #expect(frame() == fresh())
        _ = drawing.handle(.mouse(MouseEvent(button: .left, action: .motion, column: 36, row: 6)), board: board)
        #expect(frame() == fresh())
        guard case .regions(let count) = composer.lastRepaint else {
            Issue.record("a preview's change is a region, not the whole screen")
            return
        }
        #expect(count > 0)
        drawing.show(origin: Point(5, 0), mode: .halfBlock)
        #expect(frame() == fresh())
        #expect(composer.lastRepaint == .full, "a moved viewport is painted whole")
    }

    @Test func helpAndOfflineScreens() throws {
        var composer = ScreenComposer(columns: 72, rows: 30)
        var drawing = controller(columns: 72, rows: 29)
        _ = drawing.handle(.key(.character("?")), board: Self.board)
        let offline = StatusLine(
            room: "design", connection: "offline", detail: "connection lost; drawing goes on", isLive: false,
            pending: 3)
        let grid = composer.compose(board: Self.board, controller: drawing, others: [], status: offline)
        try check(grid, golden: "help-offline")
        #expect(grid.plainLines[29].contains("3 pending"))
    }

    @Test func thePaletteShowsEveryColourTheTerminalHas() throws {
        var composer = ScreenComposer(columns: 48, rows: 13)
        var drawing = DrawingController(
            viewport: Viewport(origin: .zero, columns: 48, rows: 12), color: 3, colorCount: 16)
        _ = drawing.handle(.key(.character("p")), board: Self.board)
        let grid = composer.compose(board: Self.board, controller: drawing, others: [], status: Self.status)
        try check(grid, golden: "palette-16")
        let frame = drawing.paletteFrame
        #expect(
            grid[frame.column + 1 + 3 * 2, frame.row + 1] == Cell("◆", foreground: 3), "the current colour is marked")
        #expect(grid[frame.column + 1 + 15 * 2, frame.row + 1].foreground == 15)
    }

    @Test func aLongReasonNeverPushesTheToolColourOrHelpOffTheBar() {
        var composer = ScreenComposer(columns: 100, rows: 10)
        let refused = StatusLine(
            room: "design", connection: "offline",
            detail: "unauthorized: room \"design\" needs an editor token, and this one is not it; drawing goes on",
            isLive: false, pending: 17)
        let bar = composer.compose(
            board: Self.board, controller: controller(columns: 100, rows: 9), others: [], status: refused
        )
        .plainLines[9]
        #expect(bar.count <= 100)
        for part in ["design", "offline", "17 pending", "freehand", "■ 12", "? help", "…"] {
            #expect(bar.contains(part), "\(part) in \"\(bar)\"")
        }
        // Narrower still: the reason goes before the tool and the colour.
        var narrow = ScreenComposer(columns: 50, rows: 10)
        let small = narrow.compose(
            board: Self.board, controller: controller(columns: 50, rows: 9), others: [], status: refused
        )
        .plainLines[9]
        #expect(small.count <= 50)
        for part in ["offline", "freehand", "■ 12", "? help"] {
            #expect(small.contains(part), "\(part) in \"\(small)\"")
        }
    }

    @Test func theStatusBarKeepsWhatMattersMost() {
        typealias Segment = StatusBarLayout.Segment
        let segments = [
            Segment("aaaa", priority: 9), Segment("bbbbbbbbbbbbbbbbbbbb", priority: 6, shrinks: true),
            Segment("cccc", priority: 2), Segment("dddd", priority: 10, alignsRight: true),
        ]
        #expect(StatusBarLayout.fit(segments, width: 40).map(\.text) == segments.map(\.text), "everything fits")
        let fitted = StatusBarLayout.fit(segments, width: 20).map(\.text)
        #expect(fitted == ["aaaa", "bbbbbbbbbb… ", "dddd"], "the least important goes, the shrinkable shrinks")
        #expect(StatusBarLayout.fit(segments, width: 9).map(\.text) == ["aaaa", "dddd"])
    }

    @Test func aResizedComposerFillsTheNewSize() {
        var composer = ScreenComposer(columns: 30, rows: 8)
        var drawing = controller(columns: 30, rows: 7)
        var grid = composer.compose(board: Self.board, controller: drawing, others: [], status: Self.status)
        #expect(grid.columns == 30 && grid.rows == 8)
        drawing.resize(columns: 50, rows: 19)
        composer = ScreenComposer(columns: 50, rows: 20)
        grid = composer.compose(board: Self.board, controller: drawing, others: [], status: Self.status)
        #expect(grid.columns == 50 && grid.rows == 20)
        #expect(grid.plainLines[19].hasPrefix(" design"))
    }
}
