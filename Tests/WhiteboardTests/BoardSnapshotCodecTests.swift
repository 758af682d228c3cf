import NetworkSimulator
import Scuttlebutt
import Testing

@testable import Whiteboard

@Suite struct BoardSnapshotCodecTests {
    func reduce(_ updates: [Update<BoardAction>]) -> Board {
        var board = Board()
        for update in updates.sorted(by: { $0.orderKey < $1.orderKey }) { BoardReducer().reduce(&board, update) }
        return board
    }

    @Test(arguments: UInt64(1)...25)
    func aRandomSessionRoundTrips(seed: UInt64) throws {
        let board = reduce(randomBoardSession(seed: seed))
        let bytes = BoardSnapshotCodec.encode(board)
        let decoded = try BoardSnapshotCodec.decode(bytes)
        #expect(decoded == board, "seed \(seed)")
        #expect(decoded.stateHash == board.stateHash)
        #expect(BoardSnapshotCodec.encode(decoded) == bytes, "the encoding is canonical")
    }

    @Test func everyFixtureRoundTripsAndKeepsBehavingTheSame() throws {
        for (name, updates) in FixtureSessions.all {
            let board = reduce(updates)
            var decoded = try BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(board))
            #expect(decoded == board, "\(name)")
            // Undo and redo work from a decoded board as from the original.
            var original = board
            let origins = Set(updates.map(\.origin)).sorted()
            for (index, origin) in origins.enumerated() {
                let undo = Update<BoardAction>(
                    origin: origin, seq: 10_000, timestamp: Timestamp(UInt64(1_000_000 + index)), action: .undo)
                BoardReducer().reduce(&original, undo)
                BoardReducer().reduce(&decoded, undo)
            }
            #expect(decoded.stateHash == original.stateHash, "\(name)")
        }
    }

    @Test func everyTruncationIsRefused() {
        let bytes = BoardSnapshotCodec.encode(reduce(FixtureSessions.concurrentMoves))
        for length in 0..<bytes.count {
            #expect(throws: BoardCodecError.self) { try BoardSnapshotCodec.decode(bytes.prefix(length)) }
        }
        #expect(throws: BoardCodecError.trailingBytes(1)) { try BoardSnapshotCodec.decode(bytes + [0]) }
        #expect(throws: BoardCodecError.valueOutOfRange("snapshot version")) {
            try BoardSnapshotCodec.decode([9] + bytes.dropFirst())
        }
    }

    @Test func corruptedBytesNeverTrapAndWhatDecodesRoundTrips() {
        var random = SeededGenerator(seed: 11)
        let valid = BoardSnapshotCodec.encode(reduce(FixtureSessions.concurrentMoves))
        var (decoded, refused) = (0, 0)
        for _ in 0..<20_000 {
            // A real board with one to three bytes changed: some still decode
            // (a coordinate, a colour), most do not.
            var bytes = valid
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            do {
                let board = try BoardSnapshotCodec.decode(bytes)
                decoded += 1
                #expect(try BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(board)) == board)
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 100 && refused > 100, "both paths are reached: \(decoded) decoded, \(refused) refused")
    }

    @Test func anEmptyBoardIsThreeBytes() throws {
        #expect(BoardSnapshotCodec.encode(Board()) == [3, 0, 0])
        #expect(try BoardSnapshotCodec.decode([3, 0, 0]) == Board())
        #expect(try BoardSnapshotCodec.decode([2, 0, 0]) == Board(), "version 2 is still read")
        #expect(try BoardSnapshotCodec.decode([1, 0, 0]) == Board(), "version 1 is still read")
    }

    /// Version 3: a restyle floor (docs/UNDO.md, rule 17) round-trips, and
    /// a floor that is not the key of a restyle listed is refused.
    @Test func theRestyleFloorRoundTripsAndMustNameARestyle() throws {
        let reducer = boardReducer(undoingAtMost: 1)
        var script = BoardScript()
        let shape = script.record(alice, .addShape(.rectangle, from: Point(0, 0), to: Point(4, 4), style: red))
        script.record(bob, .restyle(shape.id, Style(color: 1)))
        let kept = script.record(bob, .restyle(shape.id, Style(color: 2)))
        script.record(bob, .addText(at: Point(9, 9), text: "b", style: red))
        var board = Board()
        for update in script.updates { reducer.reduce(&board, update) }
        #expect(board.elements[shape.id]?.restyleFloor == kept.orderKey)
        let bytes = BoardSnapshotCodec.encode(board)
        let decoded = try BoardSnapshotCodec.decode(bytes)
        #expect(decoded == board)
        #expect(decoded.stateHash == board.stateHash)
        var withoutFloor = board
        withoutFloor.modifyElement(shape.id) {
            $0.restyleFloor = nil
            return true
        }
        #expect(withoutFloor.stateHash != board.stateHash, "the floor is part of the state hash")
        // The floor's flag and key sit right before the element's offset:
        // point it at a key no restyle has.
        var writer = ByteWriter()
        writer.key(kept.orderKey)
        var moved = ByteWriter()
        moved.key(OrderKey(timestamp: Timestamp(kept.timestamp.rawValue + 1), origin: bob))
        let at = try #require(bytes.firstRange(of: [1] + writer.bytes))
        var forged = bytes
        forged.replaceSubrange(at, with: [1] + moved.bytes)
        #expect(throws: BoardCodecError.valueOutOfRange("restyle floor")) { try BoardSnapshotCodec.decode(forged) }
    }

    @Test func aDecodedStrokeKeepsItsPointsEncodedUntilItGrows() throws {
        var script = BoardScript()
        let stroke = script.record(alice, .beginStroke(at: Point(-3, 7), style: red))
        for step in 1...40 {
            script.record(alice, .extendStroke(stroke.id, points: [Point(Int32(step) * 1_000, Int32(-step))]))
        }
        let board = script.board
        var decoded = try BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(board))
        guard case .stroke(let points) = decoded.elements[stroke.id]?.shape else {
            Issue.record("no stroke")
            return
        }
        #expect(points.encodedBytes != nil)
        #expect(decoded == board)
        #expect(points.last == Point(40_000, -40) && points.count == 41)
        // It grows like any stroke, and the encoding stays canonical.
        let extend = Update<BoardAction>(
            origin: alice, seq: 100, timestamp: Timestamp(100_000), action: .extendStroke(stroke.id, points: [.zero]))
        var grown = board
        BoardReducer().reduce(&grown, extend)
        BoardReducer().reduce(&decoded, extend)
        #expect(decoded == grown)
        #expect(BoardSnapshotCodec.encode(decoded) == BoardSnapshotCodec.encode(grown))
    }

    @Test func strokeBytesMustBeExactlyItsPoints() throws {
        try BoardSnapshotCodec.checkDeltas([2, 4, 0x80, 0x01, 3], pairs: 2)
        try BoardSnapshotCodec.checkDeltas([], pairs: 0)
        // Eight bytes at a time, then the rest.
        try BoardSnapshotCodec.checkDeltas(ArraySlice(repeating: 2, count: 18), pairs: 9)
        #expect(throws: BoardCodecError.valueOutOfRange("stroke points")) {
            try BoardSnapshotCodec.checkDeltas(ArraySlice(repeating: 2, count: 17), pairs: 9)
        }
        #expect(throws: BoardCodecError.valueOutOfRange("stroke points")) {
            try BoardSnapshotCodec.checkDeltas([2, 4, 6], pairs: 2)
        }
        #expect(throws: BoardCodecError.valueOutOfRange("stroke points"), "a varint cut short") {
            try BoardSnapshotCodec.checkDeltas([2, 4, 0x80], pairs: 2)
        }
        #expect(throws: BoardCodecError.valueOutOfRange("stroke points")) {
            try BoardSnapshotCodec.checkDeltas([], pairs: 1)
        }
    }

    @Test func overLongVarintsDecodeWithoutTrappingAndRoundTrip() throws {
        // A stroke of one point whose x is a 12-byte varint, as only a
        // hostile encoder writes it.
        let points = PointList(
            count: 1, last: Point(0, 1), encoded: ArraySlice(Array(repeating: 0xFF, count: 11) + [0x7F, 2]))
        #expect(Array(points).count == 1)
        var grown = points
        grown.append(Point(5, 5))
        #expect(grown.count == 2 && grown.last == Point(5, 5))
    }
}
