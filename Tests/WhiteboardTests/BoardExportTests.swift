import Foundation
import Scuttlebutt
import Testing
import Whiteboard

/// The board as plain values (`GET /rooms/{room}/board.json`).
@Suite struct BoardExportTests {
    @Test func visibleElementsBottomFirstWithMovesAndStylesApplied() throws {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(1, 1), style: Style(color: 9, brush: .glyph("#"))))
        script.record(alice, .extendStroke(stroke.id, points: [Point(2, 3)]))
        let box = script.record(bob, .addShape(.rectangle, from: Point(5, 5), to: Point(9, 7), style: blue))
        script.record(bob, .move(box.id, by: Point(10, -1)))
        script.record(carol, .restyle(box.id, Style(color: 46, filled: true)))
        let hidden = script.record(carol, .addText(at: Point(0, 9), text: "gone", style: red))
        script.record(carol, .delete(hidden.id))
        let note = script.record(alice, .addText(at: Point(0, 12), text: "hé", style: red))
        let export = BoardExport(script.board)

        #expect(export.elements.map(\.id) == ["\(stroke.id)", "\(box.id)", "\(note.id)"], "hidden ones left out")
        #expect(export.elements[0].kind == "stroke")
        #expect(export.elements[0].points == [[1, 1], [2, 3]])
        #expect(export.elements[0].glyph == "#")
        #expect(export.elements[0].open == true)
        #expect(export.elements[1].kind == "rectangle")
        #expect(export.elements[1].rect == [15, 4, 19, 6], "moved")
        #expect(export.elements[1].color == 46 && export.elements[1].filled, "the restyle in effect")
        #expect(export.elements[1].hex == Palette.hex(46))
        #expect(export.elements[2].text == "hé" && export.elements[2].at == [0, 12])
        #expect(export.bounds == script.board.visibleBounds.map { [$0.minX, $0.minY, $0.maxX, $0.maxY] })
        // JSON round trip, as a browser or a tool reads it.
        let data = try JSONEncoder().encode(export)
        #expect(try JSONDecoder().decode(BoardExport.self, from: data) == export)
        #expect(BoardExport(Board()).elements.isEmpty && BoardExport(Board()).bounds == nil)
    }
}
