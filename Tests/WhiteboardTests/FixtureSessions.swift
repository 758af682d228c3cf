import Scuttlebutt
import Whiteboard

/// The recorded sessions under Fixtures/boards/, as the scripts that wrote
/// them. Stamps are explicit so that concurrency is visible: equal-ish
/// stamps from different origins are actions made at the same moment.
enum FixtureSessions {
    static let carol = PeerID(0xCA201)

    static var all: [(name: String, updates: [Update<BoardAction>])] {
        [("house-and-sun", houseAndSun), ("concurrent-moves", concurrentMoves), ("erase-and-undo", eraseAndUndo)]
    }

    /// Alice draws a house, Bob a sun and a greeting; Bob recolours Alice's
    /// roof; Alice scribbles smoke, undoes it, and redoes it.
    static var houseAndSun: [Update<BoardAction>] {
        var script = BoardScript()
        let house = script.record(
            alice, .addShape(.rectangle, from: Point(4, 14), to: Point(22, 31), style: Style(color: 180)), at: 1_000)
        let roofLeft = script.record(
            alice, .addShape(.line, from: Point(2, 14), to: Point(13, 4), style: Style(color: 124)), at: 1_100)
        script.record(
            alice, .addShape(.line, from: Point(13, 4), to: Point(24, 14), style: Style(color: 124)), at: 1_200)
        script.record(
            alice, .addShape(.rectangle, from: Point(11, 22), to: Point(15, 31), style: Style(color: 94, filled: true)),
            at: 1_300)
        script.record(
            bob, .addShape(.ellipse, from: Point(34, 2), to: Point(44, 11), style: Style(color: 226, filled: true)),
            at: 1_150)
        script.record(bob, .addText(at: Point(30, 18), text: "hello, board!", style: Style(color: 51)), at: 1_250)
        script.record(bob, .restyle(roofLeft.id, Style(color: 202)), at: 1_400)
        let smoke = script.record(alice, .beginStroke(at: Point(19, 8), style: Style(color: 250)), at: 1_500)
        for (index, points) in [[Point(20, 6), Point(19, 4)], [Point(21, 2)], [Point(23, 1), Point(25, 0)]].enumerated()
        {
            script.record(alice, .extendStroke(smoke.id, points: points), at: 1_510 + UInt64(index) * 10)
        }
        script.record(alice, .endStroke(smoke.id), at: 1_550)
        script.record(alice, .undo, at: 1_600)
        script.record(alice, .redo, at: 1_700)
        script.record(bob, .move(house.id, by: Point(0, 0)), at: 1_800)
        return script.updates
    }

    /// A box moved by Alice and Bob at the same moment; Alice undoes her move
    /// after Bob's; Carol clears the board while a stroke is being drawn, and
    /// a text stamped before the clear arrives after it.
    static var concurrentMoves: [Update<BoardAction>] {
        var script = BoardScript()
        let box = script.record(
            alice, .addShape(.rectangle, from: Point(0, 0), to: Point(9, 7), style: Style(color: 33, filled: true)),
            at: 2_000)
        script.record(alice, .move(box.id, by: Point(12, 0)), at: 2_100)
        script.record(bob, .move(box.id, by: Point(0, 6)), at: 2_100)
        script.record(bob, .restyle(box.id, Style(color: 208, brush: .glyph("▒"))), at: 2_150)
        script.record(alice, .undo, at: 2_200)
        let stroke = script.record(bob, .beginStroke(at: Point(0, 20), style: Style(color: 118)), at: 2_300)
        script.record(bob, .extendStroke(stroke.id, points: [Point(8, 22), Point(16, 20)]), at: 2_320)
        script.record(carol, .addText(at: Point(0, 30), text: "before the clear", style: Style(color: 219)), at: 2_390)
        script.record(carol, .clear, at: 2_400)
        script.record(bob, .extendStroke(stroke.id, points: [Point(24, 22), Point(32, 20)]), at: 2_420)
        script.record(bob, .endStroke(stroke.id), at: 2_430)
        let after = script.record(
            carol, .addShape(.ellipse, from: Point(2, 2), to: Point(30, 16), style: Style(color: 213)), at: 2_500)
        script.record(alice, .addText(at: Point(8, 8), text: "after", style: Style(color: 15)), at: 2_510)
        script.record(bob, .move(after.id, by: Point(3, 1)), at: 2_600)
        script.record(alice, .move(after.id, by: Point(-1, 0)), at: 2_600)
        return script.updates
    }

    /// Glyph-brush strokes and shapes; Bob erases an area across them and
    /// undoes it, erases his scratch note, Alice deletes a shape and undoes
    /// the delete.
    static var eraseAndUndo: [Update<BoardAction>] {
        var script = BoardScript()
        let zigzag = script.record(
            alice, .beginStroke(at: Point(0, 0), style: Style(color: 82, brush: .glyph("*"))), at: 3_000)
        var points: [Point] = []
        for step in 1...12 { points.append(Point(Int32(step * 3), step % 2 == 0 ? 0 : 6)) }
        for (index, chunk) in stride(from: 0, to: points.count, by: 3).enumerated() {
            script.record(
                alice, .extendStroke(zigzag.id, points: Array(points[chunk..<min(chunk + 3, points.count)])),
                at: 3_010 + UInt64(index))
        }
        script.record(alice, .endStroke(zigzag.id), at: 3_050)
        let frame = script.record(
            bob,
            .addShape(.rectangle, from: Point(2, 10), to: Point(30, 20), style: Style(color: 45, brush: .glyph("#"))),
            at: 3_100)
        script.record(bob, .addText(at: Point(6, 14), text: "Grüße • → done", style: Style(color: 229)), at: 3_150)
        script.record(bob, .eraseArea(Rect(minX: 0, minY: 0, maxX: 10, maxY: 12)), at: 3_200)
        script.record(bob, .undo, at: 3_300)
        script.record(bob, .addText(at: Point(44, 2), text: "scratch", style: Style(color: 244)), at: 3_350)
        script.record(bob, .eraseArea(Rect(minX: 42, minY: 0, maxX: 60, maxY: 8)), at: 3_400)
        script.record(alice, .delete(frame.id), at: 3_500)
        script.record(alice, .undo, at: 3_600)
        return script.updates
    }
}
