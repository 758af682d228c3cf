import Scuttlebutt
import Testing
import Whiteboard

@Suite struct BoardPresenceTests {
    @Test func roundTripsWithAndWithoutOptionalParts() throws {
        let full = BoardPresence(
            name: "Zoë", color: 201, cursor: Point(-12, 40), tool: .ellipse,
            viewport: Rect(minX: -100, minY: 0, maxX: 99, maxY: 119))
        let bare = BoardPresence(name: "", color: 0, cursor: nil, tool: .freehand, viewport: nil)
        for presence in [full, bare] {
            #expect(try BoardPresence(decoding: presence.encoded()) == presence)
        }
        #expect(bare.encoded().count == 3)
    }

    @Test func cutsLongNamesAndFeedsTheCursorOverlay() throws {
        let long = BoardPresence(
            name: String(repeating: "n", count: 100), color: 3, cursor: Point(1, 2), tool: .select, viewport: nil)
        let decoded = try BoardPresence(decoding: long.encoded())
        #expect(decoded.name.count == BoardPresence.maxNameLength)
        #expect(decoded.overlay == CursorOverlay(position: Point(1, 2), name: decoded.name, color: 3))
        #expect(BoardPresence(name: "x", color: 1, cursor: nil, tool: .text, viewport: nil).overlay == nil)
    }

    @Test func refusesMalformedPayloads() {
        let good = BoardPresence(name: "ab", color: 1, cursor: Point(1, 1), tool: .line, viewport: nil).encoded()
        for length in 0..<good.count {
            #expect(throws: BoardCodecError.self) { try BoardPresence(decoding: good.prefix(length)) }
        }
        var badTool = good
        badTool[4] = 0x3F
        #expect(throws: BoardCodecError.valueOutOfRange("tool")) { try BoardPresence(decoding: badTool) }
    }
}
