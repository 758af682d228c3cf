import NetworkSimulator
import Scuttlebutt
import Testing
import Whiteboard

/// The spatial index answers exactly what a scan of every element answers,
/// and the damage it reports between two boards covers every cell that
/// differs, through rewinds and replays.
@Suite struct SpatialIndexTests {
    /// Late deliveries: each update held back by up to `window` places, so
    /// that the timeline rewinds and replays.
    static func deliveries(_ updates: [Update<BoardAction>], window: Int, seed: UInt64) -> [Update<BoardAction>] {
        var random = SeededGenerator(seed: seed)
        var pending = updates[...]
        var held: [Update<BoardAction>] = []
        var delivered: [Update<BoardAction>] = []
        while !pending.isEmpty || !held.isEmpty {
            while held.count < window, let next = pending.popFirst() { held.append(next) }
            delivered.append(held.remove(at: Int.random(in: 0..<held.count, using: &random)))
        }
        return delivered
    }

    static func timeline(indexed: Bool) -> Timeline<BoardReducer> {
        Timeline(
            reducer: BoardReducer(), base: Board(spatiallyIndexed: indexed),
            snapshotPolicy: BoardReducer.recommendedSnapshotPolicy)
    }

    @Test(arguments: UInt64(1)...10)
    func queriesOfAnIndexedBoardEqualAScanOfEveryElement(seed: UInt64) {
        // Spread ×12: points up to 480 pixels out, so elements cover many
        // tiles and big shapes are wide.
        let session = randomBoardSession(seed: seed, actions: 300, spread: 12)
        var indexed = Self.timeline(indexed: true)
        var scanned = Self.timeline(indexed: false)
        var random = SeededGenerator(seed: seed &+ 100)
        var found = 0
        for (step, update) in Self.deliveries(session, window: 8, seed: seed).enumerated() {
            indexed.insert(update)
            scanned.insert(update)
            #expect(indexed.state.isSpatiallyIndexed && !scanned.state.isSpatiallyIndexed)
            #expect(indexed.state == scanned.state)
            for _ in 0..<4 {
                let corner = Point(
                    Int32.random(in: -520...520, using: &random), Int32.random(in: -280...280, using: &random))
                let size = Int32.random(in: 0...(random.chance(0.8) ? 3 : 400), using: &random)
                let area = Rect(corner: corner, corner.offset(by: Point(size, size / 2)))
                let erasable = Set(indexed.state.erasable(in: area))
                found += erasable.count
                guard erasable == Set(scanned.state.erasable(in: area)),
                    indexed.state.visibleElements(in: area) == scanned.state.visibleElements(in: area)
                else {
                    Issue.record("seed \(seed), step \(step), \(area): the index and the scan disagree")
                    return
                }
            }
        }
        // Something was found at all, or the comparison proves little.
        #expect(found > 0)
    }

    @Test(arguments: UInt64(1)...8)
    func repaintingTheDamageEqualsAFullRender(seed: UInt64) {
        let session = randomBoardSession(seed: seed, actions: 140, spread: 10)
        for mode in RasterMode.allCases {
            let viewport = Viewport(origin: Point(-70, -45), columns: 64, rows: 20, mode: mode)
            var timeline = Self.timeline(indexed: true)
            var incremental = Rasterizer(viewport: viewport)
            var shown = timeline.state
            incremental.render(shown)
            var repainted = 0
            for update in Self.deliveries(session, window: 6, seed: seed) {
                timeline.insert(update)
                let board = timeline.state
                guard let damage = board.damage(since: shown, in: viewport.canvasRect) else {
                    Issue.record("two indexed boards must give their damage")
                    return
                }
                for region in damage {
                    #expect(region.intersects(viewport.canvasRect))
                    incremental.render(board, dirty: region)
                }
                repainted += damage.count
                shown = board
                var full = Rasterizer(viewport: viewport)
                guard incremental.grid == full.render(board) else {
                    Issue.record("seed \(seed), \(mode): repainting the damage missed a change after \(update.action)")
                    return
                }
            }
            #expect(repainted > 0)
        }
    }

    @Test func anUnchangedBoardHasNoDamageAndAnExtendDamagesOnlyItsSegment() {
        var script = BoardScript()
        var board = Board(spatiallyIndexed: true)
        func record(_ origin: PeerID, _ action: BoardAction) -> ElementID {
            let update = script.record(origin, action)
            BoardReducer().reduce(&board, update)
            return update.id
        }
        let far = record(alice, .addShape(.rectangle, from: Point(200, 200), to: Point(210, 210), style: red))
        let stroke = record(alice, .beginStroke(at: Point(2, 2), style: red))
        let before = board
        let screen = Rect(minX: 0, minY: 0, maxX: 399, maxY: 399)
        #expect(before.damage(since: before, in: screen) == [])
        _ = record(alice, .extendStroke(stroke, points: [Point(5, 3)]))
        // One 64-pixel tile: the segment from (2, 2) to (5, 3).
        #expect(board.damage(since: before, in: screen) == [Rect(minX: 0, minY: 0, maxX: 63, maxY: 63)])
        _ = record(bob, .move(far, by: Point(40, 0)))
        let moved = board.damage(since: before, in: screen) ?? []
        #expect(moved.contains { $0.contains(Point(205, 205)) } && moved.contains { $0.contains(Point(245, 205)) })
        #expect(!moved.contains { $0.contains(Point(100, 100)) })
        #expect(Board().damage(since: before, in: screen) == nil, "an unindexed board's damage is unknown")
    }

    @Test func aDecodedSnapshotIndexedAfterwardsAnswersAsTheOriginal() throws {
        var timeline = Self.timeline(indexed: true)
        for update in randomBoardSession(seed: 7, actions: 250, spread: 10) { timeline.insert(update) }
        var decoded = try BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(timeline.state))
        #expect(!decoded.isSpatiallyIndexed)
        decoded.indexSpatially()
        #expect(decoded.isSpatiallyIndexed && decoded == timeline.state)
        var random = SeededGenerator(seed: 9)
        for _ in 0..<200 {
            let corner = Point(
                Int32.random(in: -400...400, using: &random), Int32.random(in: -200...200, using: &random))
            let area = Rect(corner: corner, corner.offset(by: Point(8, 4)))
            #expect(Set(decoded.erasable(in: area)) == Set(timeline.state.erasable(in: area)))
        }
    }
}
