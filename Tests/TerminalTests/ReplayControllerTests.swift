import Scuttlebutt
import Testing
import Whiteboard

@testable import Terminal

@Suite struct ReplayControllerTests {
    /// A stroke of `count` extends, one every 100 ms, then a text after a
    /// ten-minute pause.
    static func history(count: Int) -> [Update<BoardAction>] {
        let origin = PeerID(1)
        let start: UInt64 = 1_764_316_800_000
        let stroke = ElementID(origin: origin, seq: 1)
        var updates = [
            Update(
                origin: origin, seq: 1, timestamp: Timestamp(milliseconds: start, counter: 0),
                action: BoardAction.beginStroke(at: .zero, style: Style(color: 1)))
        ]
        for index in 1...count {
            updates.append(
                Update(
                    origin: origin, seq: UInt64(index + 1),
                    timestamp: Timestamp(milliseconds: start + UInt64(index) * 100, counter: 0),
                    action: .extendStroke(stroke, points: [Point(Int32(index), Int32(index % 5))])))
        }
        updates.append(
            Update(
                origin: origin, seq: UInt64(count + 2),
                timestamp: Timestamp(milliseconds: start + UInt64(count) * 100 + 600_000, counter: 0),
                action: .addText(at: Point(0, 10), text: "later", style: Style(color: 2))))
        return updates
    }

    /// The board after the first `count` updates, reduced directly.
    static func board(_ updates: [Update<BoardAction>], first count: Int) -> Board {
        var board = Board()
        for update in updates.prefix(count) { BoardReducer().reduce(&board, update) }
        return board
    }

    @Test func timeFollowsTheLogScaledBySpeedAndLongPausesAreCut() {
        let updates = Self.history(count: 20)
        var replay = ReplayController(updates: updates, speed: 2)
        replay.advance(milliseconds: 0)
        #expect(replay.position == 1, "the first update shows at once")
        replay.advance(milliseconds: 250)
        #expect(replay.position == 6, "500 ms of log time at ×2: extends 1…5")
        replay.advance(milliseconds: 750)
        #expect(replay.position == 21)
        replay.advance(milliseconds: 10)
        #expect(replay.position == 21, "the ten-minute pause is not skipped at once…")
        replay.advance(milliseconds: 600)
        #expect(replay.position == 22, "…but cut to about a second")
        #expect(replay.isAtEnd && !replay.isPlaying)
        #expect(replay.board == Self.board(updates, first: 22))
    }

    @Test func stepsAndSeeksShowExactlyThePrefix() {
        let updates = Self.history(count: 1_500)
        var replay = ReplayController(updates: updates)
        #expect(replay.handle(.character("$")) == [])
        #expect(replay.position == updates.count)
        #expect(replay.handle(.character(",")) == [])
        #expect(replay.position == updates.count - 1 && !replay.isPlaying)
        #expect(replay.board == Self.board(updates, first: updates.count - 1))
        _ = replay.handle(.character("["))
        #expect(replay.position == updates.count - 1 - 150)
        #expect(replay.board == Self.board(updates, first: replay.position), "seeking back replays from a kept board")
        _ = replay.handle(.home)
        #expect(replay.position == 0 && replay.board == Board())
        _ = replay.handle(.character("."))
        #expect(replay.position == 1)
        _ = replay.handle(.character("]"))
        #expect(replay.position == 151)
        #expect(replay.board == Self.board(updates, first: 151))
    }

    @Test func keysControlPlaybackAndUnknownKeysAreLeftToTheView() {
        var replay = ReplayController(updates: Self.history(count: 3))
        #expect(replay.isPlaying)
        _ = replay.handle(.character(" "))
        #expect(!replay.isPlaying)
        _ = replay.handle(.character("+"))
        _ = replay.handle(.character("+"))
        #expect(replay.speed == 4)
        _ = replay.handle(.character("-"))
        #expect(replay.summary == "0/5 (0%) paused ×2")
        #expect(replay.handle(.arrow(.left, [])) == nil, "arrows pan the view")
        #expect(replay.handle(.character("q")) == [.quit])
    }
}
