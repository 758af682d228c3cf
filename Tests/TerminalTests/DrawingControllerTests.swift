import Scuttlebutt
import Testing
import Whiteboard

@testable import Terminal

@Suite struct DrawingControllerTests {
    let viewport = Viewport(origin: .zero, columns: 40, rows: 12)

    func press(_ column: Int, _ row: Int, _ button: MouseEvent.Button = .left, _ modifiers: KeyModifiers = [])
        -> InputEvent
    {
        .mouse(MouseEvent(button: button, action: .press, column: column, row: row, modifiers: modifiers))
    }

    func drag(_ column: Int, _ row: Int, _ button: MouseEvent.Button = .left) -> InputEvent {
        .mouse(MouseEvent(button: button, action: .motion, column: column, row: row))
    }

    func release(_ column: Int, _ row: Int) -> InputEvent {
        .mouse(MouseEvent(button: .left, action: .release, column: column, row: row))
    }

    func key(_ character: Character) -> InputEvent { .key(.character(character)) }

    /// A board holding one rectangle recorded by peer 1 as seq 1.
    func boardWithRectangle() -> (Board, ElementID) {
        var board = Board()
        let id = ElementID(origin: PeerID(1), seq: 1)
        BoardReducer().reduce(
            &board,
            Update(
                origin: id.origin, seq: id.seq, timestamp: Timestamp(1),
                action: .addShape(.rectangle, from: Point(4, 4), to: Point(12, 10), style: Style(color: 2))))
        return (board, id)
    }

    @Test func freehandSendsBeginExtendsAndEndWithTheRecordedID() {
        var controller = DrawingController(viewport: viewport, color: 5)
        let board = Board()
        #expect(
            controller.handle(press(3, 2), board: board) == [
                .record(.beginStroke(at: Point(3, 4), style: Style(color: 5)))
            ])
        #expect(controller.handle(drag(4, 2), board: board).isEmpty, "no id yet: the point waits")
        #expect(controller.endOfFrame().isEmpty, "no id yet: nothing can name the stroke")
        let id = ElementID(origin: PeerID(9), seq: 1)
        controller.gestureBegan(id)
        #expect(controller.handle(drag(5, 3), board: board).isEmpty, "points wait for the frame")
        #expect(controller.handle(drag(5, 3), board: board).isEmpty)
        #expect(
            controller.endOfFrame() == [.record(.extendStroke(id, points: [Point(4, 4), Point(5, 6)]))],
            "the frame's points as one extend; the same point twice is sent once")
        #expect(controller.endOfFrame().isEmpty, "each point is sent once")
        _ = controller.handle(drag(6, 3), board: board)
        #expect(
            controller.handle(release(6, 3), board: board)
                == [.record(.extendStroke(id, points: [Point(6, 6)])), .record(.endStroke(id))],
            "a release sends the points still waiting before the end")
        #expect(controller.gesture == nil)
    }

    @Test func aFastStrokeFillsExtendsOfSixteenPointsAtMost() {
        var controller = DrawingController(viewport: viewport, color: 5)
        let board = Board()
        _ = controller.handle(press(0, 0), board: board)
        let id = ElementID(origin: PeerID(9), seq: 1)
        controller.gestureBegan(id)
        var extends: [[Point]] = []
        for column in 1...40 {
            for effect in controller.handle(drag(column, 0), board: board) {
                guard case .record(.extendStroke(id, let points)) = effect else {
                    Issue.record("unexpected \(effect)")
                    continue
                }
                extends.append(points)
            }
        }
        #expect(extends.map(\.count) == [16, 16], "a full extend goes at once, without waiting for the frame")
        #expect(controller.endOfFrame() == [.record(.extendStroke(id, points: (33...40).map { Point(Int32($0), 0) }))])
        #expect(extends.joined().map(\.x) == (1...32).map { Int32($0) }, "every point, in order")
    }

    @Test func shapesAreRecordedOnceOnRelease() {
        var controller = DrawingController(viewport: viewport, color: 3)
        let board = Board()
        for (tool, kind) in [("2", ShapeKind.line), ("3", .rectangle), ("4", .ellipse)] {
            _ = controller.handle(key(Character(tool)), board: board)
            #expect(controller.handle(press(1, 1), board: board).isEmpty)
            #expect(controller.handle(drag(6, 4), board: board).isEmpty)
            #expect(controller.gesture == .shape(kind, from: Point(1, 2), to: Point(6, 8)), "previewed while dragged")
            #expect(
                controller.handle(release(8, 5), board: board)
                    == [.record(.addShape(kind, from: Point(1, 2), to: Point(8, 10), style: Style(color: 3)))])
        }
    }

    @Test func textIsTypedThenPlacedWithEnterOrCancelledWithEscape() {
        var controller = DrawingController(viewport: viewport, color: 1)
        let board = Board()
        _ = controller.handle(key("5"), board: board)
        _ = controller.handle(press(2, 2), board: board)
        for character in "hi q" { #expect(controller.handle(key(character), board: board).isEmpty) }
        _ = controller.handle(.key(.backspace), board: board)
        #expect(controller.textEntry?.text == "hi ")
        _ = controller.handle(key("✓"), board: board)
        #expect(controller.notice != nil && controller.textEntry?.text == "hi ", "✓ is not a single-cell character")
        #expect(
            controller.handle(.key(.enter), board: board)
                == [.record(.addText(at: Point(2, 4), text: "hi ", style: Style(color: 1)))])
        _ = controller.handle(press(0, 0), board: board)
        _ = controller.handle(key("x"), board: board)
        #expect(controller.handle(.key(.escape), board: board).isEmpty)
        #expect(controller.textEntry == nil)
        #expect(controller.handle(.key(.control("c")), board: board) == [.quit], "Ctrl-C quits even while typing")
    }

    /// A board with one short vertical line in each of these cell columns
    /// (canvas rows 2 and 3, the first cell row).
    func boardWithLines(atColumns columns: [Int32]) -> (Board, [ElementID]) {
        var board = Board()
        var ids: [ElementID] = []
        for (index, x) in columns.enumerated() {
            let id = ElementID(origin: PeerID(1), seq: UInt64(index + 1))
            BoardReducer().reduce(
                &board,
                Update(
                    origin: id.origin, seq: id.seq, timestamp: Timestamp(UInt64(index + 1)),
                    action: .addShape(.line, from: Point(x, 2), to: Point(x, 3), style: Style(color: 2))))
            ids.append(id)
        }
        return (board, ids)
    }

    @Test func theEraserErasesWhatItSeesUnderEachNewCellOnce() {
        var controller = DrawingController(viewport: viewport)
        let (board, ids) = boardWithLines(atColumns: [2, 3, 5])
        _ = controller.handle(key("6"), board: board)
        #expect(controller.handle(press(2, 1), board: board) == [.record(.erase([ids[0]]))])
        let first = ElementID(origin: PeerID(9), seq: 4)
        controller.gestureBegan(first)
        #expect(controller.handle(drag(2, 1), board: board).isEmpty)
        #expect(
            controller.handle(drag(3, 1), board: board) == [.record(.continueErasing(first, [ids[1]]))],
            "the rest of the drag continues the first erase: one undo for the whole drag")
        #expect(controller.handle(drag(4, 1), board: board).isEmpty, "an empty cell erases nothing")
        #expect(controller.handle(release(4, 1), board: board).isEmpty)
        // A new drag starts a new erase, at its first cell with something in it.
        #expect(controller.handle(press(4, 1), board: board).isEmpty)
        #expect(controller.handle(drag(5, 1), board: board) == [.record(.erase([ids[2]]))])
    }

    @Test func selectAndMoveMovesTheTopElementByTheDrag() {
        var controller = DrawingController(viewport: viewport)
        let (board, id) = boardWithRectangle()
        _ = controller.handle(key("7"), board: board)
        #expect(controller.handle(press(0, 0), board: board).isEmpty)
        #expect(controller.notice == "nothing to move there")
        _ = controller.handle(press(4, 2), board: board)
        _ = controller.handle(drag(10, 3), board: board)
        #expect(controller.handle(release(10, 3), board: board) == [.record(.move(id, by: Point(6, 2)))])
    }

    @Test func arrowsWheelAndModifierDragsPan() {
        var controller = DrawingController(viewport: viewport)
        let board = Board()
        _ = controller.handle(.key(.arrow(.right, [])), board: board)
        #expect(controller.viewport.origin == Point(4, 0))
        _ = controller.handle(.key(.arrow(.down, .shift)), board: board)
        #expect(controller.viewport.origin == Point(4, 32))
        _ = controller.handle(.mouse(MouseEvent(button: .wheelUp, action: .press, column: 0, row: 0)), board: board)
        #expect(controller.viewport.origin == Point(4, 26))
        _ = controller.handle(.key(.home), board: board)
        #expect(controller.viewport.origin == .zero)
        // Ctrl + left drag: the grabbed point follows the pointer, nothing is drawn.
        #expect(controller.handle(press(10, 5, .left, .control), board: board).isEmpty)
        #expect(controller.handle(drag(12, 6), board: board).isEmpty)
        #expect(controller.viewport.origin == Point(-2, -2))
        _ = controller.handle(release(12, 6), board: board)
        #expect(controller.handle(press(1, 1, .middle), board: board).isEmpty)
        #expect(controller.handle(drag(1, 3, .middle), board: board).isEmpty)
        #expect(controller.viewport.origin == Point(-2, -6))
    }

    @Test func theKeyboardAloneCanDraw() {
        var controller = DrawingController(viewport: viewport, color: 4)
        let board = Board()
        _ = controller.handle(key("j"), board: board)
        #expect(controller.keyboardCursor == Point(20, 14), "from the middle, one cell down")
        #expect(
            controller.handle(key(" "), board: board)
                == [.record(.beginStroke(at: Point(20, 14), style: Style(color: 4)))])
        let id = ElementID(origin: PeerID(3), seq: 7)
        controller.gestureBegan(id)
        #expect(controller.handle(key("l"), board: board).isEmpty, "the point waits for the frame")
        #expect(controller.endOfFrame() == [.record(.extendStroke(id, points: [Point(21, 14)]))])
        #expect(controller.handle(key("L"), board: board).isEmpty)
        #expect(
            controller.handle(.key(.enter), board: board)
                == [.record(.extendStroke(id, points: [Point(29, 14)])), .record(.endStroke(id))])
    }

    @Test func keysPickToolsColoursBrushesAndUndo() {
        var controller = DrawingController(viewport: viewport, color: 15, colorCount: 256)
        let board = Board()
        _ = controller.handle(.key(.tab), board: board)
        #expect(controller.tool == .line)
        _ = controller.handle(.key(.backTab), board: board)
        _ = controller.handle(.key(.backTab), board: board)
        #expect(controller.tool == .select)
        _ = controller.handle(key("c"), board: board)
        #expect(controller.color == 1, "c wraps within the 16 basic colours, past black")
        _ = controller.handle(key("C"), board: board)
        #expect(controller.color == 15, "C steps back, past black too")
        _ = controller.handle(key("-"), board: board)
        #expect(controller.color == 14)
        controller.color = 17
        _ = controller.handle(key("-"), board: board)
        #expect(controller.color == 15, "+ and - skip the palette's blacks (16) as well")
        for _ in 0..<300 { _ = controller.handle(key("+"), board: board) }
        #expect(![0, 16, 232, 233, 234, 235].contains(controller.color), "never a colour lost on a dark background")
        _ = controller.handle(key("b"), board: board)
        #expect(controller.brush == .glyph("█"))
        #expect(controller.handle(key("u"), board: board) == [.record(.undo)])
        #expect(controller.handle(.key(.control("y")), board: board) == [.record(.redo)])
        #expect(controller.handle(key("q"), board: board) == [.quit])
    }

    @Test func thePalettePicksTheClickedColour() {
        var controller = DrawingController(viewport: Viewport(origin: .zero, columns: 60, rows: 24), colorCount: 256)
        let board = Board()
        _ = controller.handle(key("p"), board: board)
        #expect(controller.showsPalette)
        let frame = controller.paletteFrame
        // Row 2 of swatches, 5th swatch: colour 2 * 16 + 4.
        #expect(controller.handle(press(frame.column + 1 + 4 * 2, frame.row + 1 + 2), board: board).isEmpty)
        #expect(controller.color == 36)
        #expect(!controller.showsPalette)
    }

    @Test func aViewerNeverRecordsButStillPansAndQuits() {
        var controller = DrawingController(viewport: viewport, isReadOnly: true)
        let board = Board()
        #expect(controller.handle(press(3, 3), board: board).isEmpty)
        #expect(controller.handle(key("u"), board: board).isEmpty)
        #expect(controller.handle(key(" "), board: board).isEmpty)
        _ = controller.handle(.key(.arrow(.left, [])), board: board)
        #expect(controller.viewport.origin == Point(-4, 0))
        #expect(controller.handle(key("q"), board: board) == [.quit])
    }

    @Test func theHelpOfAReplayOrAViewerShowsItsOwnKeysAndNoDrawingKeys() {
        var replay = DrawingController(viewport: viewport, isReadOnly: true)
        replay.modeHelp = ReplayController.helpLines
        let lines = replay.helpLines
        #expect(lines.contains { $0.hasPrefix("Space         play or pause") })
        #expect(!lines.contains { $0.contains("undo") || $0.contains("draw with") || $0.contains("colours") })
        #expect(
            lines.firstIndex { $0.hasPrefix("Space") }! < lines.firstIndex { $0.hasPrefix("arrows") }!,
            "the command's own keys come first")
    }

    @Test func helpOpensWithQuestionMarkAndAnyKeyClosesIt() {
        var controller = DrawingController(viewport: viewport)
        let board = Board()
        _ = controller.handle(key("?"), board: board)
        #expect(controller.showsHelp)
        #expect(controller.handle(key("q"), board: board).isEmpty, "the key that closes help does nothing else")
        #expect(!controller.showsHelp)
        #expect(controller.helpLines.allSatisfy { $0.count <= 64 })
    }

    @Test func aResizeKeepsTheOriginAndChangesTheSize() {
        var controller = DrawingController(viewport: viewport)
        _ = controller.handle(.key(.arrow(.right, [])), board: Board())
        controller.resize(columns: 100, rows: 30)
        #expect(controller.viewport == Viewport(origin: Point(4, 0), columns: 100, rows: 30))
    }
}
