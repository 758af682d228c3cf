import Foundation
import NetworkSimulator
import Scuttlebutt
import Testing
import Whiteboard

/// Golden files for the recorded sessions in Fixtures/boards/: the action log
/// (JSON), renders (plain, ANSI, braille), an SVG and the state hash.
/// `SCUTTLEBOARD_UPDATE_GOLDENS=1 swift test --filter FixtureTests` rewrites them.
@Suite struct FixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/boards")
    static var updating: Bool { ProcessInfo.processInfo.environment["SCUTTLEBOARD_UPDATE_GOLDENS"] == "1" }

    /// Every fixture action must pass validation, as it would in a real store.
    @Test(arguments: FixtureSessions.all.map(\.name))
    func everyRecordedActionIsValid(name: String) throws {
        for update in FixtureSessions.all.first(where: { $0.name == name })!.updates {
            try BoardLimits().validate(update.action)
        }
    }

    static func board(_ updates: [Update<BoardAction>]) -> Board {
        var board = Board()
        for update in updates.sorted(by: { $0.orderKey < $1.orderKey }) { BoardReducer().reduce(&board, update) }
        return board
    }

    /// Every artefact of a fixture, as the code produces it now.
    static func artefacts(_ updates: [Update<BoardAction>]) throws -> [String: String] {
        let board = board(updates)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bounds = board.visibleBounds ?? Rect(.zero)
        var halfBlock = Rasterizer(viewport: .fitting(bounds))
        var braille = Rasterizer(viewport: .fitting(bounds, mode: .braille))
        return [
            "session.json": String(decoding: try encoder.encode(updates), as: UTF8.self) + "\n",
            "render.txt": PlainTextExporter.export(halfBlock.render(board)),
            "render.ansi": ANSIExporter.export(halfBlock.grid),
            "render-braille.txt": PlainTextExporter.export(braille.render(board)),
            "board.svg": SVGExporter.export(board),
            "state-hash.txt": String(board.stateHash, radix: 16) + "\n",
        ]
    }

    @Test(arguments: FixtureSessions.all.map(\.name))
    func rendersMatchTheGoldenFiles(name: String) throws {
        let updates = FixtureSessions.all.first { $0.name == name }!.updates
        let folder = Self.directory.appendingPathComponent(name)
        let expected = try Self.artefacts(updates)
        if Self.updating {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (file, contents) in expected {
                try contents.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
            }
        }
        for (file, contents) in expected {
            let golden = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(golden == contents, "\(name)/\(file) differs from its golden file")
        }
    }

    @Test(arguments: FixtureSessions.all.map(\.name))
    func theRecordedLogDecodesToTheSameSession(name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("\(name)/session.json"))
        let decoded = try JSONDecoder().decode([Update<BoardAction>].self, from: data)
        #expect(decoded == FixtureSessions.all.first { $0.name == name }!.updates)
        #expect(Set(decoded.map(\.origin)).count >= 2)
    }

    @Test(arguments: FixtureSessions.all.map(\.name))
    func anyDeliveryOrderGivesTheSameRenderAndHash(name: String) throws {
        let updates = FixtureSessions.all.first { $0.name == name }!.updates
        let reference = Self.board(updates)
        let viewport = Viewport.fitting(reference.visibleBounds ?? Rect(.zero))
        var referenceRasterizer = Rasterizer(viewport: viewport)
        let referenceGrid = referenceRasterizer.render(reference)
        var random = SeededGenerator(seed: UInt64(name.utf8.count))
        for _ in 0..<40 {
            // Any interleaving of the origins, each origin's updates in seq order
            // (as links deliver them), into a replica with bounded history.
            var queues = Dictionary(grouping: updates, by: \.origin).mapValues { $0.sorted { $0.seq < $1.seq } }
            var configuration = ReplicaConfiguration()
            configuration.snapshotPolicy = SnapshotPolicy(denseTail: 2, interval: 3)
            configuration.timestampStrategy = .lamport
            configuration.maxClockSkew = UInt64.max / 2
            let store = ReplicatedStore(
                peer: PeerID(99), reducer: BoardReducer(), initialState: Board(), configuration: configuration,
                wallClock: ManualClock())
            while let origin = queues.keys.sorted().filter({ !queues[$0]!.isEmpty }).randomElement(using: &random) {
                let outcome = store.receive(queues[origin]!.removeFirst())
                guard case .applied = outcome else {
                    Issue.record("\(name): \(outcome)")
                    return
                }
            }
            var rasterizer = Rasterizer(viewport: viewport)
            #expect(store.state.stateHash == reference.stateHash, "\(name)")
            #expect(rasterizer.render(store.state) == referenceGrid, "\(name)")
        }
        // Any order at all, straight into a timeline.
        for _ in 0..<40 {
            var timeline = Timeline(reducer: BoardReducer(), base: Board(), snapshotPolicy: .every(2))
            for update in updates.shuffled(using: &random) { timeline.insert(update) }
            #expect(timeline.state.stateHash == reference.stateHash, "\(name)")
        }
    }
}
