import Scuttlebutt
import Testing

@testable import Whiteboard

@Suite struct RasterizerTests {
    func render(_ script: BoardScript, _ viewport: Viewport) -> CellGrid {
        var rasterizer = Rasterizer(viewport: viewport)
        return rasterizer.render(script.board)
    }

    let small = Viewport(origin: .zero, columns: 8, rows: 3)

    @Test func halfBlocksComposeTopBottomAndBoth() {
        var script = BoardScript()
        script.record(alice, .addShape(.line, from: Point(0, 0), to: Point(2, 0), style: red))
        script.record(alice, .addShape(.line, from: Point(1, 1), to: Point(3, 1), style: red))
        script.record(alice, .addShape(.line, from: Point(3, 0), to: Point(3, 0), style: blue))
        let grid = render(script, small)
        #expect(grid.plainLines[0] == "▀██▀")
        #expect(grid[0, 0] == Cell("▀", foreground: 196))
        #expect(grid[1, 0] == Cell("█", foreground: 196))
        #expect(grid[3, 0] == Cell("▀", foreground: 21, background: 196))
        #expect(grid.plainLines[1].isEmpty)
    }

    @Test func bottomHalfAndFilledShapes() {
        var script = BoardScript()
        script.record(
            alice, .addShape(.rectangle, from: Point(0, 1), to: Point(3, 4), style: Style(color: 2, filled: true)))
        script.record(alice, .addShape(.rectangle, from: Point(5, 0), to: Point(7, 3), style: green))
        let lines = render(script, small).plainLines
        #expect(lines == ["▄▄▄▄ █▀█", "████ █▄█", "▀▀▀▀"])
    }

    @Test func anEllipseIsRoundAndFilledOnRequest() {
        var script = BoardScript()
        script.record(alice, .addShape(.ellipse, from: Point(0, 0), to: Point(8, 9), style: red))
        script.record(
            alice, .addShape(.ellipse, from: Point(10, 0), to: Point(18, 9), style: Style(color: 1, filled: true)))
        let lines = render(script, Viewport(origin: .zero, columns: 19, rows: 5)).plainLines
        #expect(
            lines == [
                " ▄▄▀▀▀▄▄   ▄▄███▄▄",
                "▄▀     ▀▄ ▄███████▄",
                "█       █ █████████",
                "▀▄     ▄▀ ▀███████▀",
                " ▀▀▄▄▄▀▀   ▀▀███▀▀",
            ])
    }

    @Test func theNewerElementWinsACellWhicheverLayerItIsOn() {
        var script = BoardScript()
        script.record(alice, .addText(at: Point(0, 0), text: "abc", style: blue))
        script.record(bob, .addShape(.line, from: Point(1, 0), to: Point(1, 1), style: red))
        script.record(alice, .addText(at: Point(2, 2), text: "z", style: green))
        script.record(
            bob, .addShape(.line, from: Point(0, 2), to: Point(4, 3), style: Style(color: 3, brush: .glyph("#"))))
        let grid = render(script, small)
        #expect(grid.plainLines[0] == "a█c")
        #expect(grid[0, 0] == Cell("a", foreground: 21))
        #expect(grid.plainLines[1] == "#####", "the glyph line is newer than the text 'z'")
    }

    @Test func zOrderFollowsTheTotalOrderNotArrival() {
        var early = BoardScript()
        early.record(bob, .addShape(.line, from: Point(0, 0), to: Point(0, 1), style: blue), at: 500)
        early.record(alice, .addShape(.line, from: Point(0, 0), to: Point(0, 1), style: red), at: 400)
        #expect(render(early, small)[0, 0] == Cell("█", foreground: 21))
    }

    @Test func brailleDotsMapToTheirBits() {
        var script = BoardScript()
        script.record(alice, .addShape(.line, from: Point(0, 0), to: Point(0, 0), style: red))
        script.record(alice, .addShape(.line, from: Point(1, 3), to: Point(1, 3), style: blue))
        script.record(alice, .addShape(.line, from: Point(2, 0), to: Point(3, 3), style: green))
        let grid = render(script, Viewport(origin: .zero, columns: 2, rows: 1, mode: .braille))
        #expect(grid[0, 0] == Cell("\u{2881}", foreground: 21), "dots 1 and 8; the newer colour wins")
        // The line (2,0)→(3,3) lights dots (0,0) (0,1) (1,2) (1,3) of cell 1.
        #expect(grid[1, 0] == Cell("\u{28A3}", foreground: 46))
    }

    @Test func hugeShapesAreClippedNotWalked() {
        var script = BoardScript()
        let far: Int32 = 16_000_000
        script.record(alice, .addShape(.rectangle, from: Point(-far, -far), to: Point(far, far), style: red))
        script.record(alice, .addShape(.line, from: Point(-far, 1), to: Point(far, 1), style: blue))
        let grid = render(script, small)
        #expect(grid.plainLines == ["▄▄▄▄▄▄▄▄", "", ""], "the rectangle's border is off screen; the line crosses")
    }

    @Test func movesAndOffScreenElements() {
        var script = BoardScript()
        let box = script.record(alice, .addShape(.rectangle, from: Point(100, 100), to: Point(101, 101), style: red))
        #expect(render(script, small).plainLines == ["", "", ""])
        script.record(bob, .move(box.id, by: Point(-98, -100)))
        #expect(render(script, small).plainLines[0] == "  ██")
    }

    @Test func cursorsAndNamesAreDrawnOverTheFrame() {
        var rasterizer = Rasterizer(viewport: small)
        rasterizer.render(BoardScript().board)
        let frame = rasterizer.frame(cursors: [
            CursorOverlay(position: Point(2, 3), name: "bob-the-builder", color: 201),
            CursorOverlay(position: Point(500, 0), name: "off screen", color: 1),
        ])
        #expect(frame.plainLines == ["", "  ◆bob-t", ""])
        #expect(frame[3, 1] == Cell("b", foreground: 201))
        #expect(rasterizer.grid.plainLines[1].isEmpty, "the overlay does not touch the cached grid")
    }

    @Test func exportersWriteTextAnsiAndSvg() {
        var script = BoardScript()
        script.record(alice, .addShape(.line, from: Point(0, 0), to: Point(2, 0), style: red))
        script.record(bob, .addText(at: Point(0, 2), text: "a<b", style: blue))
        let grid = render(script, Viewport(origin: .zero, columns: 4, rows: 2))
        #expect(PlainTextExporter.export(grid) == "▀▀▀\na<b\n")
        #expect(
            ANSIExporter.export(grid) == "\u{1B}[0m\u{1B}[38;5;196m▀▀▀\u{1B}[0m\n\u{1B}[0m\u{1B}[38;5;21ma<b\u{1B}[0m\n"
        )
        let svg = SVGExporter.export(script.board)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("<line x1="))
        #expect(svg.contains(">a&lt;b</text>"))
        #expect(svg.contains("stroke=\"#ff0000\""))
    }
}
