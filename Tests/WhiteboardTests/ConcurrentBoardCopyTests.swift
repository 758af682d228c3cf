import Foundation
import Scuttlebutt
import Testing

@testable import Whiteboard

/// A board is a value: one thread may keep a copy and drop it while another
/// goes on reducing into its own. This is what the terminal client does (the
/// screen reads the client's board, draws it and lets it go while updates
/// keep arriving), and it is where the demo crashed.
///
/// The crash was a use-after-free in swift-collections 1.6.0, in debug
/// builds only: `TreeDictionary`'s in-place update (`_modify`, which
/// `updateValue(forKey:with:)` and `dict[key]?.mutate()` use) asserts against
/// the node its path recorded *before* making that node unique. When the
/// only other owner of the old node was a copy on another thread, released
/// in that instant, the assert read freed memory. The board now updates
/// elements through ``TreeDictionary/mutateValue(forKey:_:)``, which takes
/// the insertion path instead. Without AddressSanitizer a stale read usually
/// goes unnoticed, so `Scripts/sanitize.sh address` is what makes this test
/// bite: it reported the use-after-free on the old code within seconds.
@Suite struct ConcurrentBoardCopyTests {
    /// A copy of the board that another thread takes and drops.
    final class SharedCopy: @unchecked Sendable {
        private let lock = NSLock()
        private var board: Board?
        private var done = false

        func publish(_ board: Board) { lock.withLock { self.board = board } }
        func drop() -> Bool {
            lock.withLock {
                board = nil
                return !done
            }
        }
        func finish() { lock.withLock { done = true } }
    }

    @Test func aCopyReleasedOnAnotherThreadWhileTheOwnerUpdatesIsHarmless() async {
        var script = BoardScript()
        // Enough elements for a tree of several levels, so updates descend.
        var ids: [ElementID] = []
        for index in 0..<2_000 {
            let point = Point(Int32(index % 100), Int32(index / 100))
            ids.append(script.record(alice, .addShape(.rectangle, from: point, to: point, style: red)).id)
        }
        let stroke = script.record(alice, .beginStroke(at: Point(0, 200), style: green)).id
        var board = script.board
        // Indexed, as a client's board is: the index's maps are updated in
        // place too.
        board.indexSpatially()
        let shared = SharedCopy()
        let dropper = Thread {
            while shared.drop() {}
        }
        dropper.start()
        // A shallow undo depth, so that deleted elements are pruned
        // (removed from the board) all the time.
        let reducer = boardReducer(undoingAtMost: 8)
        var seq = UInt64(ids.count + 1)
        @discardableResult
        func apply(_ action: BoardAction) -> ElementID {
            seq += 1
            let update = Update(origin: alice, seq: seq, timestamp: Timestamp(1_000_000 + seq), action: action)
            reducer.reduce(&board, update)
            return update.id
        }
        var restyles = 0
        for round in 0..<20_000 {
            // Share the board with the other thread, then change it: every
            // kind of in-place update must copy the nodes the copy holds.
            shared.publish(board)
            switch round % 4 {
            case 0:
                apply(.restyle(ids[restyles % ids.count], blue))
                restyles += 1
                apply(.delete(apply(.addShape(.line, from: Point(0, 300), to: Point(9, 300), style: red))))
            case 1:
                // A move changes which tiles of the index hold the element.
                apply(.move(ids[round % ids.count], by: Point(40, round % 8 == 1 ? 40 : -40)))
            case 2: apply(.extendStroke(stroke, points: [Point(Int32(round % 1_000), 200)]))
            default:
                apply(.undo)
                shared.publish(board)
                apply(.redo)
            }
        }
        shared.finish()
        #expect(board.visibleElements.count == ids.count + 1)
        #expect(board.elements.count <= ids.count + 1 + 8, "deleted lines beyond the undo depth are pruned")
        guard case .stroke(let points) = board.elements[stroke]?.shape else {
            Issue.record("the stroke is gone")
            return
        }
        #expect(points.count == 1 + 5_000)
        #expect(ids.allSatisfy { board.elements[$0]?.style == blue })
    }
}
