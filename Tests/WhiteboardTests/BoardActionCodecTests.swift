import Foundation
import NetworkSimulator
import Scuttlebutt
import Testing
import Whiteboard

@Suite struct BoardActionCodecTests {
    let context = UpdateID(origin: alice, seq: 40)
    let mine = UpdateID(origin: alice, seq: 37)
    let theirs = UpdateID(origin: bob, seq: 900)

    var everyKindOfAction: [BoardAction] {
        [
            .beginStroke(at: Point(-5, 1_000_000), style: Style(color: 200, brush: .glyph("█"), filled: true)),
            .extendStroke(mine, points: [Point(1, 2), Point(3, -4), Point(-16_000_000, 16_000_000)]),
            .extendStroke(theirs, points: [Point(0, 0)]),
            .endStroke(mine),
            .addShape(.ellipse, from: Point(10, 10), to: Point(-3, 7), style: red),
            .addShape(.line, from: .zero, to: Point(5, 5), style: blue),
            .addText(at: Point(2, 2), text: "Grüße, board", style: green),
            .move(theirs, by: Point(-7, 3)),
            .restyle(mine, Style(color: 0, brush: .solid, filled: true)),
            .delete(theirs),
            .eraseArea(Rect(minX: -3, minY: -3, maxX: 4, maxY: 9)),
            .continueErase(mine, Rect(minX: 7, minY: -2, maxX: 8, maxY: 1)),
            .erase([theirs, mine, theirs]),
            .continueErasing(mine, [UpdateID(origin: alice, seq: 39)]),
            .clear, .undo, .redo,
        ]
    }

    @Test func binaryRoundTripsEveryAction() throws {
        for action in everyKindOfAction {
            let bytes = BoardActionCodec.encode(action, context: context)
            #expect(try BoardActionCodec.decode(bytes, context: context) == action)
        }
    }

    @Test func jsonRoundTripsEveryActionInsideAnUpdate() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for action in everyKindOfAction {
            let update = Update(origin: alice, seq: 40, timestamp: Timestamp(123), action: action)
            let json = try encoder.encode(update)
            #expect(try JSONDecoder().decode(Update<BoardAction>.self, from: json) == update)
        }
        let sample = try encoder.encode(BoardAction.extendStroke(mine, points: [Point(1, 2)]))
        #expect(
            String(decoding: sample, as: UTF8.self)
                == #"{"points":[[1,2]],"stroke":"00000000000a11ce#37","type":"extendStroke"}"#)
    }

    @Test func anEraseOfOnesOwnRecentElementsTakesAByteEach() throws {
        let bytes = BoardActionCodec.encode(.erase([mine, UpdateID(origin: alice, seq: 39)]), context: context)
        #expect(bytes == [13, 2, 6, 2])
        // A count beyond what the bytes can hold is malformed, not an allocation.
        #expect(throws: BoardCodecError.valueOutOfRange("element count")) {
            try BoardActionCodec.decode([13, 0xFF, 0xFF, 0x03, 2], context: context)
        }
        #expect(throws: BoardCodecError.valueOutOfRange("element count")) {
            try BoardActionCodec.decode([13, 0], context: context)
        }
    }

    @Test func aStrokeExtendIsSmall() {
        // A realistic stroke: points a cell or two apart on a board a few
        // thousand pixels wide, 1–3 points per extend.
        var random = SeededGenerator(seed: 9)
        var point = Point(1_500, 800)
        var total = 0
        let count = 10_000
        for index in 0..<count {
            let points = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                point = Point(
                    point.x + Int32.random(in: -3...3, using: &random),
                    point.y + Int32.random(in: -2...2, using: &random))
                return point
            }
            let context = UpdateID(origin: alice, seq: UInt64(index + 2))
            total +=
                BoardActionCodec.encode(
                    .extendStroke(UpdateID(origin: alice, seq: 1), points: points), context: context
                ).count
        }
        let mean = Double(total) / Double(count)
        #expect(mean <= 12, "mean extend action is \(mean) bytes")
    }

    @Test func everyTruncationIsRefused() {
        for action in everyKindOfAction {
            let bytes = BoardActionCodec.encode(action, context: context)
            for length in 0..<bytes.count {
                #expect(throws: BoardCodecError.self) {
                    try BoardActionCodec.decode(bytes.prefix(length), context: context)
                }
            }
            #expect(throws: BoardCodecError.trailingBytes(1)) {
                try BoardActionCodec.decode(bytes + [0], context: context)
            }
        }
    }

    @Test func malformedValuesGetNamedErrors() {
        #expect(throws: BoardCodecError.unknownTag(99)) { try BoardActionCodec.decode([99], context: context) }
        #expect(throws: BoardCodecError.varintOverflow) {
            try BoardActionCodec.decode([5] + Array(repeating: 0xFF, count: 11), context: context)
        }
        // A same-origin reference reaching back past seq 1.
        #expect(throws: BoardCodecError.valueOutOfRange("element reference")) {
            try BoardActionCodec.decode([7, 200, 1], context: UpdateID(origin: alice, seq: 3))
        }
        // Text that is not UTF-8.
        let text = BoardActionCodec.encode(.addText(at: .zero, text: "ab", style: red), context: context)
        #expect(throws: BoardCodecError.invalidText) {
            try BoardActionCodec.decode(text.dropLast(2) + [0xC3, 0x28], context: context)
        }
    }

    @Test func randomBytesNeverTrap() {
        var random = SeededGenerator(seed: 4242)
        var decoded = 0
        for _ in 0..<50_000 {
            let length = Int.random(in: 0...24, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !bytes.isEmpty { bytes[0] %= 14 }
            if (try? BoardActionCodec.decode(bytes, context: context)) != nil { decoded += 1 }
        }
        // Some random inputs are valid actions; the point is that none trapped.
        #expect(decoded > 0)
    }
}
