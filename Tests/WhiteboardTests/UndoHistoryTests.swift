import Scuttlebutt
import Testing

@testable import Whiteboard

/// The undo history's stack: jump pointers find any height, and a push
/// reports exactly the records that left undo's reach.
@Suite struct UndoHistoryTests {
    static func moved(_ index: Int) -> UndoRecord {
        .moved(ElementID(origin: PeerID(1), seq: UInt64(index)), by: Point(Int32(index), 0))
    }

    @Test func everyHeightIsFoundFromEveryTop() {
        var top: UndoNode?
        var nodes: [UndoNode] = []
        for index in 1...1_200 {
            let node = UndoNode(Self.moved(index), below: top)
            nodes.append(node)
            top = node
        }
        for from in stride(from: 0, to: nodes.count, by: 37) {
            for height in 1...nodes[from].height {
                guard nodes[from].node(atHeight: height) === nodes[Int(height) - 1] else {
                    Issue.record("from height \(from + 1), height \(height) not found")
                    return
                }
            }
            #expect(nodes[from].node(atHeight: nodes[from].height + 1) == nil)
        }
    }

    @Test func aPushReportsWhatLeftReachWhateverTheLayout() {
        var history = UndoHistory()
        var lostUndoable: [UndoRecord] = []
        for index in 1...25 {
            if let record = history.push(Self.moved(index), depth: 4).undoable { lostUndoable.append(record) }
        }
        // Each push beyond the fourth puts the oldest reachable record out of reach.
        #expect(lostUndoable == (1...21).map(Self.moved))
        // A history laid out afresh (as a snapshot decodes it) loses the same next.
        var decoded = UndoHistory(undoable: history.undoable, redoable: history.redoable)
        #expect(decoded == history)
        #expect(decoded.push(Self.moved(26), depth: 4).undoable == history.push(Self.moved(26), depth: 4).undoable)
        // Undo twice, then a new action: the two undone records are lost to redo.
        _ = history.popForUndo()
        _ = history.popForUndo()
        let lost = history.push(Self.moved(27), depth: 4)
        #expect(lost.redoable == [Self.moved(25), Self.moved(26)])
        #expect(lost.undoable == nil, "two undone, so the history had room")
    }
}
