import Foundation
import Glibc
import Server
import TestHarness
import Testing

/// The real `scuttleboard draw`, driven through tmux as a person would: keys
/// and SGR mouse sequences typed into panes, screens read back with
/// capture-pane. Needs tmux (installed on every machine this project runs on).
@Suite(.serialized, .stopsWhatItStarts) struct EndToEndTests {
    /// The built `scuttleboard` executable, next to the test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "scuttleboard")
    }

    /// Runs `body` against a server on a free port whose database lives in
    /// a fresh folder (scratch files may go there too), removed afterwards.
    /// Records an issue instead if the executable is not built.
    static func withServer(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (_ folder: URL, _ port: Int) async throws -> Void
    ) async throws {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            Issue.record("\(executable.path) is not built; run swift build --build-tests")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.databasePath = folder.appendingPathComponent("rooms.sqlite").path
        configure(&configuration)
        let server = try ScuttleboardServer(configuration: configuration)
        let (port, serving) = try await server.startInBackground()
        do {
            try await body(folder, port)
        } catch {
            await server.shutdown()
            serving.cancel()
            throw error
        }
        await server.shutdown()
        serving.cancel()
    }

    /// Whether the board area (all but the status line) shows any of a
    /// rectangle's half-block edges.
    static func showsADrawing(_ lines: [String]) -> Bool {
        lines.dropLast(2).contains { $0.contains("█") || $0.contains("▀") || $0.contains("▄") }
    }

    @Test func twoPeopleDrawAndSeeEachOtherResizeAndQuitCleanly() async throws {
        try await Self.withServer { folder, port in

            let tmux = TmuxServer()
            defer { tmux.stop() }
            let binary = Self.executable.path
            func client(_ name: String) -> String {
                let state = folder.appendingPathComponent(name).path
                return "stty -g > \(state).before; \(binary) draw --server 127.0.0.1:\(port) --room e2e --name \(name) "
                    + "--no-local-db 2> \(state).err; stty -g > \(state).after; echo \(name) quit; sleep 60"
            }
            try tmux.start("alice", columns: 80, rows: 24, client("alice"))
            try tmux.start("bob", columns: 80, rows: 24, client("bob"))
            for name in ["alice", "bob"] {
                try await tmux.waitFor(name, "\(name) to be live with two people online") { lines in
                    lines.contains { $0.contains("2 online") && $0.contains("live") }
                }
            }

            // Alice picks the rectangle tool and drags one out with the mouse.
            try tmux.type("alice", "3")
            try tmux.type("alice", "\u{1B}[<0;10;5M")
            try tmux.type("alice", "\u{1B}[<32;20;8M")
            try tmux.type("alice", "\u{1B}[<32;30;10M")
            try tmux.type("alice", "\u{1B}[<0;30;10m")
            // The pointer moves on, so her cursor does not cover a corner on bob's screen.
            try tmux.type("alice", "\u{1B}[<35;70;20M")
            let rectangleTop = "         █▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀█"
            let rectangleBottom = "         ▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀"
            let seen = try await tmux.waitFor("bob", "alice's rectangle on bob's screen") { lines in
                lines.count > 10 && lines[4] == rectangleTop && lines[9] == rectangleBottom
            }
            #expect(seen[5] == "         █                   █", "the rectangle's sides")
            #expect(try tmux.screen("alice")[4] == rectangleTop, "alice sees what she drew")

            // Bob's terminal shrinks: the board and the status bar follow.
            try tmux.run(["resize-window", "-t", "bob:", "-x", "50", "-y", "15"])
            let resized = try await tmux.waitFor("bob", "bob's screen to redraw at 50×15") { lines in
                lines.count >= 15 && lines[14].hasPrefix(" e2e │") && lines[4].hasPrefix("         █▀▀▀")
            }
            #expect(resized[14].count <= 50)

            // Quitting leaves the terminal as it was.
            try tmux.type("alice", "q")
            try await tmux.waitFor("alice", "alice's shell after quitting") { lines in
                lines.contains("alice quit")
            }
            let after = try await tmux.waitFor("alice", "the screen without the board") { lines in
                !lines.contains { $0.contains("e2e │") }
            }
            #expect(!after.contains(rectangleTop), "the alternate screen is gone")
            let before = try String(contentsOf: folder.appendingPathComponent("alice.before"), encoding: .utf8)
            let restored = try String(contentsOf: folder.appendingPathComponent("alice.after"), encoding: .utf8)
            #expect(!before.isEmpty && before == restored, "the terminal modes are restored")
            let errors = try String(contentsOf: folder.appendingPathComponent("alice.err"), encoding: .utf8)
            #expect(errors.isEmpty, "nothing on stderr: \(errors)")
        }
    }

    @Test func viewersFitTheWholeBoardOrFollowSomeone() async throws {
        try await Self.withServer { _, port in
            let tmux = TmuxServer()
            defer { tmux.stop() }
            let binary = Self.executable.path
            let connection = "--server 127.0.0.1:\(port) --room views"
            try tmux.start(
                "ada", columns: 80, rows: 24, "\(binary) draw \(connection) --name ada --no-local-db; sleep 60")
            try tmux.start("wall", columns: 40, rows: 12, "\(binary) view \(connection) --fit; sleep 60")
            try tmux.start("fan", columns: 40, rows: 12, "\(binary) view \(connection) --follow ada; sleep 60")
            try tmux.start("plain", columns: 40, rows: 12, "\(binary) view \(connection); sleep 60")
            for name in ["ada", "wall", "fan", "plain"] {
                try await tmux.waitFor(name, "\(name) to be live") { lines in lines.contains { $0.contains("live") } }
            }
            // Ada pans far to the right (Shift+Right: 16 cells a press), then
            // drags out a rectangle there and leaves the pointer on its corner.
            for _ in 0..<8 { try tmux.type("ada", "\u{1B}[1;2C") }
            try tmux.type("ada", "3")
            try tmux.type("ada", "\u{1B}[<0;10;5M")
            try tmux.type("ada", "\u{1B}[<32;30;10M")
            try tmux.type("ada", "\u{1B}[<0;30;10m")
            try await tmux.waitFor("ada", "ada's rectangle") { Self.showsADrawing($0) }
            try await tmux.waitFor("wall", "the fitted wall display to show it") { Self.showsADrawing($0) }
            try await tmux.waitFor("fan", "the follower to centre on ada") { lines in
                Self.showsADrawing(lines) && lines.contains { $0.contains("ada") }
            }
            #expect(!Self.showsADrawing(try tmux.screen("plain")), "a viewer at the origin does not see it")
            // It has the drawing all the same: panning there shows it.
            for _ in 0..<8 { try tmux.type("plain", "\u{1B}[1;2C") }
            try await tmux.waitFor("plain", "the plain viewer, panned, to show it") { Self.showsADrawing($0) }
        }
    }
}
