import Foundation
import Scuttlebutt
import Testing
import Whiteboard
import Wire

/// Golden files for the board's own encodings, beside the wire's:
/// `Fixtures/wire/v1-board-actions.json` holds one action of every tag with
/// its context and bytes; `Fixtures/wire/v3-snapshot-body.hex` is the
/// snapshot body of the board those updates build, applied in order
/// (`v2-` and `v1-snapshot-body.hex` the same board in the body's older
/// versions, which must still decode).
/// `SCUTTLEBOARD_UPDATE_GOLDENS=1` rewrites them — only with a version bump.
@Suite struct BoardGoldenVectorTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/wire")

    /// One update of every action tag, in seq order from two origins.
    static let updates: [Update<BoardAction>] = {
        let style = Style(color: 9)
        let glyph = Style(color: 3, brush: .glyph("#"), filled: true)
        let actions: [(PeerID, BoardAction)] = [
            (alice, .beginStroke(at: Point(10, 20), style: style)),
            (alice, .extendStroke(UpdateID(origin: alice, seq: 1), points: [Point(11, 21), Point(-3, 400)])),
            (alice, .endStroke(UpdateID(origin: alice, seq: 1))),
            (bob, .addShape(.rectangle, from: Point(0, 0), to: Point(8, -4), style: glyph)),
            (bob, .addText(at: Point(2, 2), text: "héllo ─ ▲", style: style)),
            (bob, .move(UpdateID(origin: alice, seq: 1), by: Point(5, -5))),
            (alice, .restyle(UpdateID(origin: bob, seq: 1), Style(color: 200, filled: true))),
            (bob, .delete(UpdateID(origin: bob, seq: 2))),
            (alice, .eraseArea(Rect(minX: 9, minY: 19, maxX: 12, maxY: 22))),
            (alice, .continueErase(UpdateID(origin: alice, seq: 6), Rect(minX: 13, minY: 19, maxX: 14, maxY: 20))),
            (bob, .undo),
            (bob, .redo),
            (alice, .clear),
            // Appended to v1 (2026-12): erases by id.
            (alice, .erase([UpdateID(origin: bob, seq: 1), UpdateID(origin: alice, seq: 1)])),
            (alice, .continueErasing(UpdateID(origin: alice, seq: 8), [UpdateID(origin: bob, seq: 2)])),
        ]
        var seqs: [PeerID: UInt64] = [:]
        return actions.enumerated().map { index, entry in
            let (origin, action) = entry
            seqs[origin, default: 0] += 1
            return Update(
                origin: origin, seq: seqs[origin]!,
                timestamp: Timestamp(milliseconds: 1_764_316_800_000 + UInt64(index), counter: 0), action: action)
        }
    }()

    func check(_ name: String, _ expected: String) throws {
        let file = Self.folder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SCUTTLEBOARD_UPDATE_GOLDENS"] == "1" {
            try expected.write(to: file, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == expected, "\(name)")
    }

    @Test func everyActionTagHasItsGoldenBytes() throws {
        let entries = try Self.updates.map { update -> [String: Any] in
            let bytes = BoardActionCodec.encode(update.action, context: update.id)
            #expect(try BoardActionCodec.decode(bytes, context: update.id) == update.action)
            return [
                "context": WireGoldenJSON.id(update.id), "timestamp": WireGoldenJSON.stamp(update.timestamp),
                "bytes": WireGoldenVectorTests.hex(bytes), "action": try WireGoldenJSON.action(update.action),
            ]
        }
        let data = try JSONSerialization.data(
            withJSONObject: entries, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try check("v1-board-actions.json", String(decoding: data, as: UTF8.self) + "\n")
    }

    @Test func theBoardTheyBuildHasItsGoldenSnapshotBody() throws {
        var board = Board()
        // Stop before the clear, so that the body holds elements, restyles,
        // hiders and undo histories.
        for update in Self.updates.prefix(while: { $0.action != .clear }) { BoardReducer().reduce(&board, update) }
        let body = BoardSnapshotCodec.encode(board)
        #expect(try BoardSnapshotCodec.decode(body) == board)
        try check("v3-snapshot-body.hex", WireGoldenVectorTests.hex(body) + "\n")
        // Bodies of older versions (checkpoints and servers of before) still read.
        for older in ["v1-snapshot-body.hex", "v2-snapshot-body.hex"] {
            let hex = try String(contentsOf: Self.folder.appendingPathComponent(older), encoding: .utf8)
            let bytes = stride(from: 0, to: hex.utf8.count - 1, by: 2).map { offset -> UInt8 in
                let digits = hex.utf8.dropFirst(offset).prefix(2)
                return UInt8(String(decoding: digits, as: UTF8.self), radix: 16)!
            }
            #expect(try BoardSnapshotCodec.decode(bytes) == board, "\(older)")
        }
    }
}
