import Scuttlebutt
import Testing
import Whiteboard

/// One test per rule of docs/UNDO.md, named after it.
@Suite struct UndoTests {
    @Test func ownActionsOnly() {
        var script = BoardScript()
        let mine = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: red))
        let theirs = script.record(bob, .addShape(.line, from: Point(0, 0), to: Point(9, 0), style: blue))
        script.record(alice, .undo)
        let board = script.board
        #expect(board.elements[mine.id]?.isVisible == false)
        #expect(board.elements[theirs.id]?.isVisible == true)
    }

    @Test func undoableActions() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red))
        script.record(alice, .extendStroke(stroke.id, points: [Point(1, 1), Point(2, 2)]))
        script.record(alice, .endStroke(stroke.id))
        let shape = script.record(alice, .addShape(.ellipse, from: Point(10, 10), to: Point(20, 20), style: blue))
        // One undo takes the shape; the next takes the whole stroke, not an extend.
        script.record(alice, .undo)
        #expect(script.board.elements[shape.id]?.isVisible == false)
        #expect(script.board.elements[stroke.id]?.isVisible == true)
        script.record(alice, .undo)
        #expect(script.board.elements[stroke.id]?.isVisible == false)
        guard case .stroke(let points) = script.board.elements[stroke.id]?.shape else {
            Issue.record("stroke missing")
            return
        }
        #expect(points.count == 3, "the stroke keeps its points while hidden")
    }

    @Test func aNewActionEndsRedo() {
        var script = BoardScript()
        let first = script.record(alice, .addText(at: Point(0, 0), text: "one", style: red))
        script.record(alice, .undo)
        let second = script.record(alice, .addText(at: Point(0, 4), text: "two", style: red))
        script.record(alice, .redo)
        let board = script.board
        #expect(board.elements[first.id] == nil, "redo after a new action does nothing; the undone text is pruned")
        #expect(board.elements[second.id]?.isVisible == true)
    }

    /// Rule 16: an element hidden by a mark no undo can lift any more is
    /// removed from the board, the same on every replica.
    @Test func hiddenElementsOutOfUndosReachArePruned() {
        let reducer = boardReducer(undoingAtMost: 3)
        var script = BoardScript()
        let kept = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(2, 2), style: red))
        let erased = script.record(alice, .addShape(.line, from: Point(0, 5), to: Point(9, 5), style: red))
        let alsoDeleted = script.record(bob, .addText(at: Point(0, 9), text: "b", style: red))
        script.record(alice, .erase([erased.id]))
        script.record(carol, .delete(erased.id))
        script.record(carol, .delete(alsoDeleted.id))
        func board() -> Board {
            var board = Board(spatiallyIndexed: true)
            for update in script.updates { reducer.reduce(&board, update) }
            return board
        }
        #expect(board().elements[erased.id]?.isVisible == false, "still within reach: undo can show it")
        // Alice does three more things: her erase is no longer undoable, so
        // the line can never show again, whatever Carol undoes.
        for index in 0..<3 { script.record(alice, .addText(at: Point(20, Int32(index) * 2), text: "x", style: red)) }
        #expect(board().elements[erased.id] == nil)
        #expect(board().elements[alsoDeleted.id]?.isVisible == false, "Carol's delete is still undoable")
        #expect(board().erasable(in: Rect(minX: 0, minY: 5, maxX: 9, maxY: 5)).isEmpty)
        script.record(carol, .undo)
        script.record(carol, .undo)
        #expect(board().elements[alsoDeleted.id]?.isVisible == true, "undoing Carol's delete shows Bob's text")
        #expect(board().elements[erased.id] == nil, "and undoing hers on the pruned line changes nothing")
        #expect(board().elements[kept.id]?.isVisible == true)
        // A snapshot of the pruned board decodes to the same board.
        #expect((try? BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(board()))) == board())
    }

    /// Rule 17: once a restyle in effect can no longer be undone, the
    /// restyles before it in the order are dropped, and a redo of one of
    /// them changes nothing, whichever of the two comes first.
    @Test func aRestyleNoUndoCanWithdrawDropsTheOlderOnes() {
        let reducer = boardReducer(undoingAtMost: 1)
        var script = BoardScript()
        let shape = script.record(carol, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: red))
        let older = script.record(bob, .restyle(shape.id, Style(color: 1)))
        script.record(bob, .undo)
        let kept = script.record(alice, .restyle(shape.id, Style(color: 2)))
        // Alice's next action puts her restyle out of reach; Bob's redo
        // brings back his, which sits before hers in the order. The two
        // commute (their footprints are disjoint): both orders agree.
        let outOfReach = script.record(alice, .addText(at: Point(9, 9), text: "a", style: red))
        let redo = script.record(bob, .redo)
        func board(_ last: [Update<BoardAction>]) -> Board {
            var board = Board()
            for update in script.updates.dropLast(2) + last { reducer.reduce(&board, update) }
            return board
        }
        let inOrder = board([outOfReach, redo])
        #expect(!reducer.footprint(of: outOfReach).conflicts(with: reducer.footprint(of: redo)))
        #expect(board([redo, outOfReach]) == inOrder)
        let element = inOrder.elements[shape.id]
        #expect(element?.restyles.keys.sorted { $0.seq < $1.seq } == [kept.id], "Bob's older restyle is dropped")
        #expect(element?.restyleFloor == kept.orderKey)
        #expect(element?.style == Style(color: 2))
        #expect(older.orderKey < kept.orderKey)
        // Within reach nothing is dropped: with a deeper undo, Bob's redo
        // puts his restyle back beside Alice's.
        var deep = Board()
        for update in script.updates { BoardReducer().reduce(&deep, update) }
        #expect(deep.elements[shape.id]?.restyles.count == 2)
        #expect(deep.elements[shape.id]?.restyleFloor == nil)
    }

    /// Rule 17 bounds what an element keeps however often it is restyled.
    @Test func restylingOneElementForeverKeepsWhatUndoCanReach() {
        let reducer = boardReducer(undoingAtMost: 8)
        var script = BoardScript()
        let shape = script.record(carol, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: red))
        var board = Board()
        reducer.reduce(&board, script.updates[0])
        for index in 0..<1_000 {
            let origin = [alice, bob][index % 2]
            reducer.reduce(&board, script.record(origin, .restyle(shape.id, Style(color: UInt8(index % 200)))))
        }
        // Each origin's last 8 within reach, plus the permanent floor.
        #expect(board.elements[shape.id]?.restyles.count == 17)
        #expect(board.elements[shape.id]?.style == Style(color: UInt8(999 % 200)))
        for _ in 0..<8 { reducer.reduce(&board, script.record(bob, .undo)) }
        for _ in 0..<8 { reducer.reduce(&board, script.record(alice, .undo)) }
        #expect(board.elements[shape.id]?.restyles.count == 1)
        #expect(board.elements[shape.id]?.style == Style(color: UInt8(983 % 200)), "the permanent one shows")
    }

    @Test func actionsOnAPrunedElementAreStillRecordedForUndo() {
        let reducer = boardReducer(undoingAtMost: 1)
        var script = BoardScript()
        let shape = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(2, 2), style: red))
        script.record(alice, .delete(shape.id))
        script.record(alice, .addText(at: Point(5, 5), text: "a", style: red))
        let other = script.record(bob, .addText(at: Point(9, 9), text: "b", style: red))
        // Bob moves the pruned rectangle, then undoes: the undo reverts the
        // move (a no-op), not his text.
        script.record(bob, .move(shape.id, by: Point(1, 1)))
        script.record(bob, .undo)
        var board = Board()
        for update in script.updates { reducer.reduce(&board, update) }
        #expect(board.elements[shape.id] == nil)
        #expect(board.elements[other.id]?.isVisible == true)
    }

    @Test func nothingToUndoOrRedoHasNoEffect() {
        var script = BoardScript()
        script.record(alice, .undo)
        script.record(alice, .redo)
        let empty = script.board
        let shape = script.record(alice, .addShape(.line, from: Point(0, 0), to: Point(3, 3), style: red))
        script.record(alice, .redo)
        #expect(empty.elements.isEmpty)
        #expect(script.board.elements[shape.id]?.isVisible == true)
    }

    @Test func depth() {
        var script = BoardScript()
        var created: [UpdateID] = []
        for index in 0..<502 {
            created.append(script.record(alice, .addText(at: Point(0, Int32(index) * 2), text: "x", style: red)).id)
        }
        for _ in 0..<502 { script.record(alice, .undo) }
        let board = script.board
        #expect(created.prefix(2).allSatisfy { board.elements[$0]?.isVisible == true })
        #expect(created.dropFirst(2).allSatisfy { board.elements[$0]?.isVisible == false })
    }

    @Test func undoingACreationHidesButLaterEditsStillApply() {
        var script = BoardScript()
        let shape = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(2, 2), style: red))
        script.record(alice, .undo)
        script.record(bob, .move(shape.id, by: Point(10, 0)))
        script.record(alice, .redo)
        let element = script.board.elements[shape.id]
        #expect(element?.isVisible == true)
        #expect(element?.bounds == Rect(minX: 10, minY: 0, maxX: 12, maxY: 2))
    }

    @Test func undoingAMoveSubtractsOnlyThatMove() {
        var script = BoardScript()
        let shape = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(2, 2), style: red))
        script.record(alice, .move(shape.id, by: Point(5, 0)))
        script.record(bob, .move(shape.id, by: Point(0, 3)))
        script.record(alice, .undo)
        #expect(script.board.elements[shape.id]?.offset == Point(0, 3))
        script.record(alice, .redo)
        #expect(script.board.elements[shape.id]?.offset == Point(5, 3))
    }

    @Test func undoingARestyleShowsTheLatestStillInEffect() {
        var script = BoardScript()
        let shape = script.record(bob, .addShape(.line, from: Point(0, 0), to: Point(5, 0), style: red))
        script.record(alice, .restyle(shape.id, blue))
        script.record(bob, .restyle(shape.id, green))
        script.record(alice, .undo)
        #expect(script.board.elements[shape.id]?.style == green, "a later restyle by someone else wins anyway")
        script.record(bob, .undo)
        #expect(script.board.elements[shape.id]?.style == red, "with no restyle left, the creation style shows")
        script.record(alice, .redo)
        #expect(script.board.elements[shape.id]?.style == blue)
    }

    @Test func undoingAHideRemovesOnlyItsOwnMark() {
        var script = BoardScript()
        let shape = script.record(bob, .addShape(.ellipse, from: Point(0, 0), to: Point(9, 9), style: red))
        script.record(alice, .delete(shape.id))
        script.record(bob, .delete(shape.id))
        script.record(alice, .undo)
        #expect(script.board.elements[shape.id]?.isVisible == false, "bob's delete still hides it")
        script.record(bob, .undo)
        #expect(script.board.elements[shape.id]?.isVisible == true)
    }

    @Test func redoReappliesTheUndoneAction() {
        var script = BoardScript()
        let shape = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(9, 9), style: red))
        script.record(alice, .erase([shape.id]))
        #expect(script.board.elements[shape.id]?.isVisible == false)
        script.record(alice, .undo)
        #expect(script.board.elements[shape.id]?.isVisible == true)
        script.record(alice, .redo)
        #expect(script.board.elements[shape.id]?.isVisible == false)
    }

    @Test func clearHidesExactlyWhatPrecedesItInTheOrder() {
        var script = BoardScript()
        let before = script.record(alice, .addText(at: Point(0, 0), text: "old", style: red), at: 100)
        let stroke = script.record(bob, .beginStroke(at: Point(0, 0), style: blue), at: 150)
        let clear = script.record(alice, .clear, at: 200)
        script.record(bob, .extendStroke(stroke.id, points: [Point(5, 5)]), at: 250)
        let after = script.record(bob, .addText(at: Point(0, 8), text: "new", style: blue), at: 300)
        // Arrives late over the network, but is stamped before the clear.
        let late = script.record(PeerID(7), .addText(at: Point(0, 4), text: "late", style: green), at: 180)
        let board = script.board
        #expect(board.elements[before.id]?.isVisible == false)
        #expect(board.elements[stroke.id]?.isVisible == false)
        #expect(board.elements[late.id]?.isVisible == false)
        #expect(board.elements[after.id]?.isVisible == true)
        #expect(board.elements[before.id]?.hiddenBy == [clear.id])
    }

    @Test func eraseHidesTheElementsItNames() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red), at: 100)
        let box = script.record(bob, .addShape(.rectangle, from: Point(0, 10), to: Point(20, 20), style: blue), at: 110)
        let erase = script.record(alice, .erase([stroke.id, box.id, box.id]), at: 200)
        // Drawn concurrently into the same area (stamped before the erase,
        // unseen by its author): it stays. Points added to an erased stroke
        // later: hidden with it.
        let concurrent = script.record(
            bob, .addShape(.line, from: Point(0, 0), to: Point(20, 20), style: blue), at: 150)
        script.record(alice, .extendStroke(stroke.id, points: [Point(30, 30)]), at: 160)
        let board = script.board
        #expect(board.elements[stroke.id]?.hiddenBy == [erase.id])
        #expect(board.elements[box.id]?.hiddenBy == [erase.id])
        #expect(board.elements[concurrent.id]?.isVisible == true)
        #expect(board.elements[stroke.id]?.bounds == Rect(minX: 0, minY: 0, maxX: 30, maxY: 30))
        script.record(alice, .undo)
        #expect(script.board.elements[box.id]?.isVisible == true, "one undo brings back all it named")
        #expect(script.board.elements[stroke.id]?.isVisible == true)
    }

    @Test func anAreaEraseFromAnOlderPeerHidesWhatTouchesIt() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red))
        script.record(alice, .extendStroke(stroke.id, points: [Point(20, 0)]))
        let box = script.record(bob, .addShape(.rectangle, from: Point(0, 10), to: Point(20, 20), style: blue))
        let far = script.record(bob, .addText(at: Point(100, 100), text: "far", style: blue))
        // Inside the stroke's bounds but touching none of its two points.
        script.record(alice, .eraseArea(Rect(minX: 9, minY: 0, maxX: 11, maxY: 12)))
        let board = script.board
        #expect(board.elements[stroke.id]?.isVisible == true)
        #expect(board.elements[box.id]?.isVisible == false)
        #expect(board.elements[far.id]?.isVisible == true)
    }

    @Test func eraseMarksHiddenElementsToo() {
        var script = BoardScript()
        let box = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(9, 9), style: blue))
        script.record(bob, .delete(box.id))
        let erase = script.record(alice, .erase([box.id]))
        #expect(script.board.elements[box.id]?.hiddenBy.contains(erase.id) == true)
        script.record(bob, .undo)
        #expect(script.board.elements[box.id]?.isVisible == false, "alice's erase still hides it")
        script.record(alice, .undo)
        #expect(script.board.elements[box.id]?.isVisible == true)
    }

    @Test func oneEraserDragIsOneUndo() {
        var script = BoardScript()
        let boxes = (0..<3).map { index in
            let corner = Point(Int32(index) * 10, 0)
            return script.record(
                bob, .addShape(.rectangle, from: corner, to: corner.offset(by: Point(4, 4)), style: blue))
        }
        // The drag erases the first box, then crosses the other two.
        let first = script.record(alice, .erase([boxes[0].id]))
        for box in boxes.dropFirst() { script.record(alice, .continueErasing(first.id, [box.id])) }
        #expect(boxes.allSatisfy { script.board.elements[$0.id]?.hiddenBy == [first.id] }, "under the drag's one mark")
        script.record(alice, .undo)
        #expect(boxes.allSatisfy { script.board.elements[$0.id]?.isVisible == true }, "one undo brings all three back")
        script.record(alice, .redo)
        #expect(boxes.allSatisfy { script.board.elements[$0.id]?.isVisible == false })
        script.record(alice, .undo)
        script.record(alice, .undo)
        #expect(boxes.allSatisfy { script.board.elements[$0.id]?.isVisible == true }, "nothing else to undo")
    }

    @Test func aDragContinuedAfterItsUndoStartsANewStep() {
        var script = BoardScript()
        let left = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: blue))
        let right = script.record(bob, .addShape(.rectangle, from: Point(10, 0), to: Point(14, 4), style: blue))
        let first = script.record(alice, .erase([left.id]))
        script.record(alice, .undo)
        script.record(alice, .continueErasing(first.id, [right.id]))
        #expect(script.board.elements[left.id]?.isVisible == true)
        #expect(script.board.elements[right.id]?.isVisible == false)
        script.record(alice, .redo)
        #expect(script.board.elements[left.id]?.isVisible == true, "the new step ended redo (rule 3)")
        script.record(alice, .undo)
        #expect(script.board.elements[right.id]?.isVisible == true)
    }

    @Test func onlyTheOriginCanContinueItsOwnDrag() {
        var script = BoardScript()
        let mine = script.record(alice, .addShape(.rectangle, from: Point(20, 20), to: Point(24, 24), style: red))
        let box = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: blue))
        let first = script.record(alice, .erase([mine.id]))
        script.record(bob, .continueErasing(first.id, [box.id]))
        #expect(script.board.elements[box.id]?.isVisible == true, "bob cannot erase under alice's mark")
    }

    @Test func aStrokeBeingDrawnMovesWithItsLaterPoints() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red))
        script.record(bob, .move(stroke.id, by: Point(5, 5)))
        #expect(script.board.elements[stroke.id]?.bounds == Rect(Point(5, 5)))
        script.record(alice, .extendStroke(stroke.id, points: [Point(1, 1)]))
        #expect(script.board.elements[stroke.id]?.bounds == Rect(minX: 5, minY: 5, maxX: 6, maxY: 6))
        script.record(bob, .undo)
        #expect(script.board.elements[stroke.id]?.bounds == Rect(minX: 0, minY: 0, maxX: 1, maxY: 1))
    }
}
