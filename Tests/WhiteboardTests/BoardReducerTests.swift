import NetworkSimulator
import Scuttlebutt
import Testing

@testable import Whiteboard

@Suite struct BoardReducerTests {
    @Test(arguments: UInt64(1)...30)
    func anyDeliveryOrderGivesTheSameBoard(seed: UInt64) {
        let updates = randomBoardSession(seed: seed)
        var reference = Board()
        for update in updates.sorted(by: { $0.orderKey < $1.orderKey }) { BoardReducer().reduce(&reference, update) }
        var random = SeededGenerator(seed: seed &* 7)
        for policy in [SnapshotPolicy.standard, .every(5)] {
            for shuffled in [updates.shuffled(using: &random), updates.reversed()] {
                var timeline = Timeline(reducer: BoardReducer(), base: Board(), snapshotPolicy: policy)
                for update in shuffled { timeline.insert(update) }
                #expect(timeline.state.stateHash == reference.stateHash, "seed \(seed)")
                #expect(timeline.state == reference, "seed \(seed)")
            }
        }
    }

    @Test func theFootprintsLetIndependentLateStrokesCommute() {
        var script = BoardScript()
        let a = script.record(alice, .beginStroke(at: Point(0, 0), style: red), at: 100)
        for step in 1...20 {
            script.record(alice, .extendStroke(a.id, points: [Point(Int32(step), 0)]), at: 100 + UInt64(step))
        }
        // Bob's stroke is stamped in the middle of Alice's but arrives last.
        let b = script.record(bob, .beginStroke(at: Point(0, 5), style: blue), at: 105)
        var timeline = Timeline(reducer: BoardReducer(), base: Board())
        for update in script.updates { timeline.insert(update) }
        #expect(timeline.statistics.commutes == 1)
        #expect(timeline.statistics.rewinds == 0)
        #expect(timeline.state == script.board)
        #expect(timeline.state.elements[b.id]?.isVisible == true)
    }

    /// The footprint contract, checked directly: at every point of random
    /// sessions, two later updates from different origins whose footprints
    /// do not conflict give equal boards in either order. With an undo
    /// depth of 2, records fall out of reach all the time, so elements are
    /// pruned (rule 16) between and by the pairs.
    @Test(arguments: UInt64(1)...20, [500, 2])
    func updatesWhoseFootprintsDoNotConflictCommute(seed: UInt64, undoDepth: Int) {
        let updates = randomBoardSession(seed: seed).sorted { $0.orderKey < $1.orderKey }
        let reducer = boardReducer(undoingAtMost: undoDepth)
        var random = SeededGenerator(seed: seed ^ 0xF00D)
        var board = Board()
        var commuting = 0
        var conflicting = 0
        for (index, update) in updates.enumerated() {
            for _ in 0..<8 {
                let a = updates[Int.random(in: index..<updates.count, using: &random)]
                let b = updates[Int.random(in: index..<updates.count, using: &random)]
                guard a.origin != b.origin else { continue }
                guard !reducer.footprint(of: a).conflicts(with: reducer.footprint(of: b)) else {
                    conflicting += 1
                    continue
                }
                var ab = board
                reducer.reduce(&ab, a)
                reducer.reduce(&ab, b)
                var ba = board
                reducer.reduce(&ba, b)
                reducer.reduce(&ba, a)
                let same = ab == ba
                #expect(same, "seed \(seed), depth \(undoDepth): \(a.action) and \(b.action) do not commute")
                commuting += 1
            }
            reducer.reduce(&board, update)
        }
        #expect(commuting > 200 && conflicting > 0, "commuting \(commuting), conflicting \(conflicting)")
    }

    @Test func aLateUpdateRewindsBehindAnEraseOnlyWhenItTouchesAnErasedElement() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red), at: 100)
        script.record(bob, .erase([stroke.id]), at: 200)
        // Stamped before the erase, arriving after it: a shape right under
        // it (unseen by the eraser, so it stays), then points of the erased stroke.
        let under = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(8, 8), style: red), at: 150)
        script.record(alice, .extendStroke(stroke.id, points: [Point(3, 3)]), at: 160)
        var timeline = Timeline(reducer: BoardReducer(), base: Board())
        for update in script.updates { timeline.insert(update) }
        #expect(timeline.statistics.commutes == 1)
        #expect(timeline.statistics.rewinds == 1)
        #expect(timeline.state == script.board)
        #expect(timeline.state.elements[under.id]?.isVisible == true)
        #expect(timeline.state.elements[stroke.id]?.isVisible == false)
    }

    @Test func farFlungPointsStillCommute() {
        var script = BoardScript()
        let a = script.record(alice, .beginStroke(at: Point(0, 0), style: red), at: 100)
        let b = script.record(bob, .beginStroke(at: Point(0, 0), style: blue), at: 101)
        for step in 1...20 {
            let far = Point(Int32(step) * 100_000, Int32(step) * -90_000)
            script.record(alice, .extendStroke(a.id, points: [far, Point(0, 0)]), at: 100 + 2 * UInt64(step))
        }
        // Bob's long diagonal, stamped among Alice's extends, arrives last.
        script.record(bob, .extendStroke(b.id, points: [Point(-4_000_000, 4_000_000)]), at: 111)
        var timeline = Timeline(reducer: BoardReducer(), base: Board())
        for update in script.updates { timeline.insert(update) }
        #expect(timeline.statistics.rewinds == 0)
        #expect(timeline.statistics.commutes == 1)
        #expect(timeline.state == script.board)
    }

    @Test func onlyTheAuthorExtendsAnOpenStroke() {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red))
        script.record(bob, .extendStroke(stroke.id, points: [Point(9, 9)]))
        script.record(alice, .extendStroke(stroke.id, points: [Point(1, 1)]))
        script.record(alice, .endStroke(stroke.id))
        script.record(alice, .extendStroke(stroke.id, points: [Point(2, 2)]))
        guard case .stroke(let points) = script.board.elements[stroke.id]?.shape else {
            Issue.record("no stroke")
            return
        }
        #expect(Array(points) == [Point(0, 0), Point(1, 1)])
        #expect(script.board.elements[stroke.id]?.isOpen == false)
    }

    @Test func aStrokeStopsGrowingAtItsLimit() {
        var limits = BoardLimits()
        limits.maxPointsPerStroke = 10
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(0, 0), style: red))
        for step in 0..<5 {
            script.record(
                alice,
                .extendStroke(stroke.id, points: [Point(Int32(step), 1), Point(Int32(step), 2), Point(Int32(step), 3)]))
        }
        var board = Board()
        for update in script.updates { BoardReducer(limits: limits).reduce(&board, update) }
        guard case .stroke(let points) = board.elements[stroke.id]?.shape else {
            Issue.record("no stroke")
            return
        }
        #expect(points.count == 10)
    }

    @Test func zOrderFollowsTheTotalOrderNotArrival() {
        var script = BoardScript()
        let top = script.record(bob, .addShape(.rectangle, from: Point(0, 0), to: Point(5, 5), style: blue), at: 500)
        let bottom = script.record(
            alice, .addShape(.rectangle, from: Point(0, 0), to: Point(5, 5), style: red), at: 400)
        #expect(script.board.visibleElements.map(\.id) == [bottom.id, top.id])
    }

    @Test func theStateHashIsStableAndSensitive() {
        var script = BoardScript()
        script.record(alice, .addText(at: Point(3, 4), text: "hello", style: red))
        let first = script.board.stateHash
        #expect(first == script.board.stateHash)
        // A fixed value: the hash must not change across runs or machines.
        #expect(first == 0xD0CB_7181_2284_2DEF, "hash is \(String(first, radix: 16))")
        script.record(alice, .move(script.updates[0].id, by: Point(1, 0)))
        #expect(script.board.stateHash != first)
    }
}

@Suite struct BoardValidationTests {
    let limits = BoardLimits()

    func refusal(_ action: BoardAction) -> BoardValidationError? {
        do {
            try limits.validate(action)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsOrdinaryActions() {
        #expect(refusal(.beginStroke(at: Point(10, -10), style: Style(color: 9, brush: .glyph("#")))) == nil)
        #expect(refusal(.addText(at: .zero, text: "Grüße — ok", style: red)) == nil)
        #expect(refusal(.extendStroke(UpdateID(origin: alice, seq: 1), points: [Point(1, 1)])) == nil)
    }

    @Test func refusesCoordinatesOffTheCanvas() {
        let far = Point(1 << 25, 0)
        #expect(refusal(.beginStroke(at: far, style: red)) == .coordinateOutOfRange(far, limit: 1 << 24))
        #expect(refusal(.move(UpdateID(origin: alice, seq: 1), by: Point(0, -(1 << 25)))) != nil)
    }

    @Test func refusesBadPointCounts() {
        let id = UpdateID(origin: alice, seq: 1)
        #expect(refusal(.extendStroke(id, points: [])) == .pointCount(0, limit: 16))
        #expect(refusal(.extendStroke(id, points: Array(repeating: .zero, count: 17))) == .pointCount(17, limit: 16))
    }

    @Test func refusesBadText() {
        #expect(refusal(.addText(at: .zero, text: "", style: red)) == .textLength(0, limit: 500))
        #expect(refusal(.addText(at: .zero, text: String(repeating: "a", count: 501), style: red)) != nil)
        #expect(refusal(.addText(at: .zero, text: "tab\there", style: red)) == .unsupportedCharacter("\t"))
        #expect(refusal(.addText(at: .zero, text: "漢字", style: red)) == .unsupportedCharacter("漢"))
        let message = BoardValidationError.unsupportedCharacter("漢").description
        #expect(message.contains("U+6F22"))
    }

    @Test func refusesAnUnprintableBrush() {
        #expect(refusal(.restyle(UpdateID(origin: alice, seq: 1), Style(color: 1, brush: .glyph("\u{7}")))) != nil)
        #expect(refusal(.restyle(UpdateID(origin: alice, seq: 1), Style(color: 1, brush: .glyph(" ")))) != nil)
    }

    @Test func refusesAnEmptyErase() {
        let backwards = Rect(minX: 5, minY: 0, maxX: 4, maxY: 3)
        #expect(refusal(.eraseArea(backwards)) == .emptyArea(backwards))
        #expect(refusal(.erase([])) == .erasedCount(0, limit: 1_024))
        let many = Array(repeating: UpdateID(origin: alice, seq: 1), count: 1_025)
        #expect(refusal(.continueErasing(UpdateID(origin: alice, seq: 2), many)) == .erasedCount(1_025, limit: 1_024))
    }

    @Test func onlyTheEraserContinuesItsDrag() throws {
        let drag = UpdateID(origin: alice, seq: 3)
        let action = BoardAction.continueErasing(drag, [UpdateID(origin: bob, seq: 1)])
        try BoardReducer().validate(action, by: alice)
        #expect(throws: BoardValidationError.notTheAuthor(drag, origin: bob)) {
            try BoardReducer().validate(action, by: bob)
        }
    }

    @Test func theReducerRefusesThroughTheStore() {
        let store = ReplicatedStore(
            peer: alice, reducer: BoardReducer(), initialState: Board(), wallClock: ManualClock())
        #expect(throws: BoardValidationError.self) {
            try store.record(.extendStroke(UpdateID(origin: alice, seq: 1), points: []))
        }
        #expect(store.digest.seqs.isEmpty)
    }
}
