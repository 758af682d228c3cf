import Bots
import Client
import Foundation
import Glibc
import Rooms
import Server
import TestHarness
import Testing
import Whiteboard

@testable import Terminal

/// The terminal is always given back, refusals and connection failures are
/// shown for what they are, and the client keeps up with a busy room: the
/// real `scuttleboard draw` in tmux, as a person would run it.
@Suite(.serialized, .stopsWhatItStarts) struct TerminalRecoveryTests {
    static let binary = EndToEndTests.executable.path

    /// What a pane's terminal is doing, as tmux sees it.
    struct PaneModes: Equatable {
        var alternateScreen: Bool
        var mouseReporting: Bool
        var cursorVisible: Bool
    }

    static func modes(_ tmux: TmuxServer, _ name: String) throws -> PaneModes {
        let fields = try tmux.run(
            ["display-message", "-p", "-t", "\(name):", "#{alternate_on} #{mouse_any_flag} #{cursor_flag}"]
        ).split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return PaneModes(
            alternateScreen: fields.first == "1", mouseReporting: fields.dropFirst().first == "1",
            cursorVisible: fields.dropFirst(2).first == "1")
    }

    /// `draw` in a pane, recording the terminal's modes before and after and
    /// the exit status; returns the supervising parent's pid and the client's.
    static func startClient(
        _ tmux: TmuxServer, _ folder: URL, port: Int, name: String = "ada", extra: String = "", environment: String = ""
    ) async throws -> (parent: pid_t, client: pid_t) {
        let state = folder.appendingPathComponent(name).path
        try tmux.start(
            name, columns: 80, rows: 24,
            "stty -g > \(state).before; \(environment) \(binary) draw --server 127.0.0.1:\(port) --room recovery --name \(name) "
                + "--no-local-db \(extra); status=$?; stty -g > \(state).after; echo \"exit=$status\"; sleep 60")
        try await tmux.waitFor(name, "\(name) to be live") { lines in lines.contains { $0.contains("│ live") } }
        guard let shell = try tmux.panePID(name), let parent = TestProcesses.children(of: shell).first,
            let client = TestProcesses.children(of: parent).first
        else {
            Issue.record("no supervised client under \(name)'s shell")
            throw CancellationError()
        }
        return (parent, client)
    }

    /// The colour number the status bar shows ("■ 12").
    static func colour(in bar: String) -> UInt8? {
        guard let mark = bar.firstIndex(of: "■") else { return nil }
        return UInt8(bar[bar.index(after: mark)...].drop { $0 == " " }.prefix { $0.isNumber })
    }

    static func terminalWasRestored(_ tmux: TmuxServer, _ folder: URL, _ name: String) throws {
        let modes = try modes(tmux, name)
        #expect(modes == PaneModes(alternateScreen: false, mouseReporting: false, cursorVisible: true))
        let before = try String(contentsOf: folder.appendingPathComponent("\(name).before"), encoding: .utf8)
        let after = try String(contentsOf: folder.appendingPathComponent("\(name).after"), encoding: .utf8)
        #expect(!before.isEmpty && before == after, "stty -g before and after")
    }

    /// Under a sanitizer, its runtime handles crash signals itself
    /// (Scripts/sanitize.sh says which sanitizer runs).
    static let crashSignalsAreOurs = ProcessInfo.processInfo.environment["SCUTTLEBOARD_SANITIZER"] == nil

    @Test(arguments: crashSignalsAreOurs ? [SIGSEGV, SIGABRT, SIGKILL] : [SIGKILL])
    func aClientThatDiesAnyWayGivesTheTerminalBack(signal: Int32) async throws {
        try await EndToEndTests.withServer { folder, port in
            let tmux = TmuxServer()
            defer { tmux.stop() }
            let (_, client) = try await Self.startClient(tmux, folder, port: port)
            #expect(try Self.modes(tmux, "ada").alternateScreen, "the board is on the alternate screen")
            kill(client, signal)
            let screen = try await tmux.waitFor("ada", "the shell after the crash") { lines in
                lines.contains { $0.hasPrefix("exit=") }
            }
            #expect(screen.contains("exit=\(128 + signal)"), "the status a shell reports for the signal")
            let report = signal == SIGKILL ? "the client was killed (signal 9" : "the client died (signal \(signal)"
            #expect(screen.contains { $0.contains(report) }, "the message is readable after the board")
            try await Task.sleep(for: .milliseconds(200))
            try Self.terminalWasRestored(tmux, folder, "ada")
        }
    }

    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aStopSignalToTheCommandEndsItCleanly(signal: Int32) async throws {
        try await EndToEndTests.withServer { folder, port in
            let tmux = TmuxServer()
            defer { tmux.stop() }
            let (parent, _) = try await Self.startClient(tmux, folder, port: port)
            kill(parent, signal)
            let screen = try await tmux.waitFor("ada", "the shell after the signal") { lines in
                lines.contains { $0.hasPrefix("exit=") }
            }
            #expect(screen.contains("exit=0"), "a stop signal is an orderly end")
            try Self.terminalWasRestored(tmux, folder, "ada")
        }
    }

    @Test func aWrongTokenIsShownAndTheClientStopsTrying() async throws {
        try await EndToEndTests.withServer(configure: {
            $0.roomAccess = ["recovery": RoomAccess(editor: "s3cret", viewer: nil)]
        }) { folder, port in
            let tmux = TmuxServer()
            defer { tmux.stop() }
            let state = folder.appendingPathComponent("ada").path
            try tmux.start(
                "ada", columns: 100, rows: 24,
                "stty -g > \(state).before; \(Self.binary) draw --server 127.0.0.1:\(port) --room recovery "
                    + "--name ada --no-local-db --token wrong; status=$?; stty -g > \(state).after; echo \"exit=$status\"; sleep 60"
            )
            let screen = try await tmux.waitFor("ada", "the refusal") { lines in
                lines.contains { $0.hasPrefix("exit=") }
            }
            #expect(screen.contains("exit=1"))
            #expect(
                screen.contains {
                    $0.contains("refused") && $0.contains("unauthorized") && $0.contains("editor token")
                },
                "the server's own reason: \(screen)")
            try Self.terminalWasRestored(tmux, folder, "ada")
        }
    }

    @Test func connectionFailuresNameTheirCause() async throws {
        let tmux = TmuxServer()
        defer { tmux.stop() }
        try tmux.start(
            "dns", columns: 120, rows: 10,
            "\(Self.binary) draw --server no-such-host.invalid:7070 --room recovery --name ada --no-local-db; sleep 60")
        try await tmux.waitFor("dns", "the resolver failure") { lines in
            lines.contains { $0.contains("offline") && $0.contains("cannot resolve host") }
        }
        // Port 1 on loopback: nothing listens there.
        try tmux.start(
            "refused", columns: 120, rows: 10,
            "\(Self.binary) draw --server 127.0.0.1:1 --room recovery --name ada --no-local-db; sleep 60")
        try await tmux.waitFor("refused", "the refused connection") { lines in
            lines.contains { $0.contains("offline") && $0.contains("connection refused") }
        }
    }

    /// Bots flood the room flat out; the person's keys still take effect
    /// and `q` still quits. (The old client queued a full redraw per update
    /// and fell minutes behind; this checks behaviour, the speed budget is
    /// measured by Scripts/key-latency.sh.)
    @Test func keysStillWorkWhileBotsFloodTheRoom() async throws {
        try await EndToEndTests.withServer(configure: { $0.maxUpdatesPerSecond = 1_000_000 }) { folder, port in
            let tmux = TmuxServer()
            defer { tmux.stop() }
            var bots: [Task<Bot.Statistics, Never>] = []
            for index in 0..<4 {
                var settings = ClientConfiguration(host: "127.0.0.1", port: port, room: "recovery", name: "bot\(index)")
                settings.role = .bot
                let client = try BoardClient(configuration: settings)
                let bot = Bot(
                    client: client,
                    brain: BotBrain(
                        behavior: .scribbler, seed: UInt64(index), area: Rect(minX: 0, minY: 0, maxX: 79, maxY: 45)),
                    name: "bot\(index)", color: 9)
                bots.append(
                    Task {
                        let connection = Task { await client.run() }
                        let statistics = await bot.run(pacing: .flatOut)
                        connection.cancel()
                        return statistics
                    })
            }
            defer { bots.forEach { $0.cancel() } }
            let latencyLog = folder.appendingPathComponent("latency").path
            _ = try await Self.startClient(
                tmux, folder, port: port, environment: "SCUTTLEBOARD_LATENCY_LOG=\(latencyLog)")
            try await Task.sleep(for: .seconds(3))
            // The colour starts at ada's (a number between 9 and 14); c steps it on.
            let bar = try tmux.screen("ada").last { $0.contains("? help") } ?? ""
            let start = try #require(Self.colour(in: bar), "the colour in \(bar)")
            var expected = start
            for _ in 0..<3 { expected = DrawingController.nextVisibleColor(after: expected, step: 1, within: 16) }
            for _ in 0..<3 { try tmux.type("ada", "c") }
            try await tmux.waitFor("ada", "three colours on under load", seconds: 10) { lines in
                lines.last(where: { $0.contains("? help") }).flatMap(Self.colour) == expected
            }
            try tmux.type("ada", "q")
            let screen = try await tmux.waitFor("ada", "q to quit under load", seconds: 10) { lines in
                lines.contains { $0.hasPrefix("exit=") }
            }
            #expect(screen.contains("exit=0"))
            try Self.terminalWasRestored(tmux, folder, "ada")
            // The client measured each key it drew (q ends it before a frame).
            let samples = try String(contentsOfFile: latencyLog, encoding: .utf8).split(separator: "\n")
                .compactMap { UInt64($0) }
            #expect(samples.count >= 3, "\(samples)")
            #expect(samples.allSatisfy { $0 > 0 })
            var recorded = 0
            for bot in bots {
                bot.cancel()
                recorded += await bot.value.recorded
            }
            #expect(recorded > 1_000, "the bots really flooded the room")
        }
    }
}
