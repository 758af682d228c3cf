import Foundation
import NIOCore
import Scuttlebutt
import TestHarness
import Testing
import Storage
import Whiteboard
import Wire

/// `scuttleboard serve` as a real child process: killed with SIGKILL mid
/// stream, and stopped with SIGTERM.
@Suite(.serialized, .stopsWhatItStarts) struct ProcessTests {
    /// The built `scuttleboard` executable, next to the test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "scuttleboard")
    }

    /// Starts `scuttleboard serve` on a free port and `database`; reading its
    /// output has a deadline, so a silent server fails the test instead of
    /// hanging the suite.
    static func serve(_ database: String) throws -> (server: TestHarness.ServerProcess, port: Int) {
        try serve(storingWith: ["--db", database])
    }

    /// Starts `scuttleboard serve` on a free port with `storage` options
    /// (`--db FILE` or `--store URL`).
    static func serve(storingWith storage: [String]) throws -> (server: TestHarness.ServerProcess, port: Int) {
        let server = try TestHarness.ServerProcess(
            executable: executable.path, arguments: ["--port", "0"] + storage)
        return (server, try server.port(after: "serving on "))
    }

    /// The engines a server can store with here: SQLite, and PostgreSQL
    /// when a server answers (``TestPostgres``).
    static var engines: [String] { TestPostgres.serverURL == nil ? ["sqlite"] : ["sqlite", "postgres"] }

    /// A fresh database path in a folder of its own, or nil (with an issue
    /// recorded) when the executable under test is not built.
    static func prepare() throws -> (folder: URL, database: String)? {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            Issue.record("\(executable.path) is not built; run swift build --build-tests")
            return nil
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return (folder, folder.appendingPathComponent("rooms.sqlite").path)
    }

    @Test(arguments: engines) func anAcknowledgedUpdateSurvivesSIGKILL(storingIn engine: String) async throws {
        guard let (folder, database) = try Self.prepare() else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        if engine == "postgres" {
            try await TestPostgres.withScratchDatabase { url in
                try await Self.killAndRestart(storingWith: ["--store", url])
            }
        } else {
            try await Self.killAndRestart(storingWith: ["--db", database])
        }
    }

    /// Draws on a server, kills it with SIGKILL mid-stream, starts another
    /// on the same storage, and checks that it has everything acknowledged.
    static func killAndRestart(storingWith storage: [String]) async throws {
        let (first, port) = try Self.serve(storingWith: storage)
        // Draw, wait for every ack (each follows durability), then keep
        // drawing without waiting, and kill the server mid-stream.
        let acknowledged = try await withPeer(port: port, name: "alice", room: "crash") { peer, messages, outbound in
            try await LoopbackTests.draw(peer, extends: 40, inbound: &messages, outbound: outbound)
            let confirmed = peer.store.digest
            let stroke = try await peer.record(.beginStroke(at: Point(9, 9), style: Style(color: 2)), outbound)
            for step in 0..<20 {
                try await peer.record(.extendStroke(stroke.id, points: [Point(Int32(step), 9)]), outbound)
            }
            kill(first.pid, SIGKILL)
            return confirmed
        }
        #expect(first.stop(SIGKILL) == 128 + SIGKILL)

        let (second, secondPort) = try Self.serve(storingWith: storage)
        let recovered = try await withPeer(port: secondPort, name: "bob", room: "crash", role: .viewer) {
            peer, messages, outbound in
            try await peer.run(&messages, outbound) { peer.session.isCaughtUp }
            return peer.store.digest
        }
        #expect(recovered.covers(acknowledged), "acknowledged \(acknowledged), recovered \(recovered)")
        #expect(second.stop() == 0)
    }

    @Test func aPortInUseIsSaidInOneLine() async throws {
        let busy = try await RunningServer()
        let taken = try ExportCommandTests().run(["serve", "--memory", "--port", "\(busy.port)"])
        #expect(taken.status == 1)
        #expect(
            taken.output
                == "Error: cannot listen on 127.0.0.1:\(busy.port): the port is in use (is another server running? "
                + "pick another port)\n")
        let metrics = try ExportCommandTests().run([
            "serve", "--memory", "--port", "0", "--http-port", "\(busy.port)",
        ])
        #expect(metrics.status == 1)
        #expect(metrics.output.hasPrefix("Error: cannot listen on 127.0.0.1:\(busy.port): the port is in use"))
        await busy.stop()
    }

    @Test func sigtermSaysGoodbyeAndExitsCleanly() async throws {
        guard let (folder, database) = try Self.prepare() else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        let (server, port) = try Self.serve(database)
        let goodbye = try await withTimeout(30, "the shutdown goodbye") {
            let channel = try await connect(port: port)
            let received = GoodbyeBox()
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var messages = inbound.makeAsyncIterator()
                    let peer = LoopbackPeer(name: "alice", room: "closing")
                    try await peer.start(outbound)
                    try await LoopbackTests.draw(peer, extends: 3, inbound: &messages, outbound: outbound)
                    kill(server.pid, SIGTERM)
                    try await peer.run(&messages, outbound) { peer.goodbye != nil }
                    received.reason = peer.goodbye
                }
            } catch is ChannelError where received.reason != nil {}
            return received.reason
        }
        #expect(goodbye == .shuttingDown)
        #expect(server.stop(SIGTERM) == 0)
        #expect(server.text.split(separator: "\n").last == "scuttleboard stopped", "\(server.text)")
    }
}

@Suite(.stopsWhatItStarts) struct ExportCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/boards/house-and-sun")

    /// Runs `scuttleboard` with `arguments`; returns its exit status and output.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = ProcessTests.executable
        process.arguments = arguments
        process.environment = TestProcesses.environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func exportWritesTheGoldenRendersOfAStoredRoom() async throws {
        guard let (folder, database) = try ProcessTests.prepare() else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        let session = try JSONDecoder().decode(
            [Update<BoardAction>].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("session.json")))
        let log = try DurableLog(path: database)
        try await log.append(
            room: "house",
            session.map {
                StoredUpdate(
                    origin: $0.origin, seq: $0.seq, timestamp: $0.timestamp,
                    action: BoardActionCodec.encode($0.action, context: $0.id))
            })
        try log.checkpoint()

        let svg = try run(["export", "--room", "house", "--format", "svg", "--db", database])
        #expect(svg.status == 0)
        #expect(
            svg.output == (try String(contentsOf: Self.fixtures.appendingPathComponent("board.svg"), encoding: .utf8)))
        let text = try run(["export", "--room", "house", "--format", "text", "--db", database])
        #expect(
            text.output == (try String(contentsOf: Self.fixtures.appendingPathComponent("render.txt"), encoding: .utf8))
        )
        let json = try run(["export", "--room", "house", "--format", "json", "--db", database])
        let exported = try JSONDecoder().decode([Update<BoardAction>].self, from: Data(json.output.utf8))
        #expect(exported == session.sorted { $0.orderKey < $1.orderKey })
        let missing = try run(["export", "--room", "nowhere", "--db", database])
        #expect(missing.status == 1)
        #expect(missing.output == "Error: room \"nowhere\" has nothing stored in \(database); rooms there: house\n")
        let listed = try run(["rooms", "--db", database])
        #expect(listed.output.hasPrefix("house\t\(session.count) updates\t2 origins · last update 1970-01-01T"))
    }
}
