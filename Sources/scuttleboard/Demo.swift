import ArgumentParser
import Bots
import Client
import Foundation
import Server
import Terminal
import Whiteboard

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live board with bots drawing, in one command: no server to set up.",
        discussion: """
            Starts a server inside this process with its own SQLite file, lets a few bots draw in a room, \
            and opens the drawing client there for you. Press ? in the client for every key, q to quit. \
            With --headless (or without a terminal) it prints what happens instead.
            """)

    @Option(help: "How many bots draw (0-8).")
    var bots = 3

    @Option(help: "The room.")
    var room = "demo"

    @Option(help: "Your name beside your cursor.")
    var name = ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : String($0.prefix(32)) } ?? "you"

    @Option(help: "The SQLite file for the server (default: a new file in a temporary folder).")
    var db: String?

    @Flag(help: "Print what happens instead of opening the drawing client.")
    var headless = false

    @Option(help: "With --headless: seconds to run.")
    var duration = 10

    @Option(help: "Seed for the bots' drawing.")
    var seed: UInt64 = 1

    static let botNames = ["ada", "grace", "linus", "ken", "barbara", "dennis", "margaret", "alan"]
    static let behaviors: [BotBehavior] = [.scribbler, .shapes, .text, .scribbler, .eraser, .shapes, .text, .lurker]

    func validate() throws {
        guard (0...8).contains(bots) else { throw ValidationError("--bots must be between 0 and 8") }
        guard duration > 0 else { throw ValidationError("--duration must be at least 1 second") }
    }

    func run() async throws {
        let interactive = !headless && isatty(0) == 1 && isatty(1) == 1
        let path = try db ?? Self.temporaryDatabase()
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.databasePath = path
        let server: ScuttleboardServer
        do {
            server = try ScuttleboardServer(configuration: configuration)
        } catch {
            throw CommandFailure(error)
        }
        let (port, serving) = try await server.startInBackground()
        if !interactive {
            say("demo: server on 127.0.0.1:\(port), database \(path)")
        }
        // Bots draw where a terminal of the usual size shows them.
        var columns: Int32 = 80
        var rows: Int32 = 24
        if interactive, let size = TerminalDevice.currentSize(), size.columns > 20, size.rows > 8 {
            (columns, rows) = (Int32(size.columns), Int32(size.rows))
        }
        let area = Rect(minX: 2, minY: 2, maxX: columns - 3, maxY: (rows - 1) * 2 - 3)
        var botTasks: [Task<Bot.Statistics, Never>] = []
        var started: [String] = []
        for index in 0..<bots {
            let botName = Self.botNames[index]
            let behavior = Self.behaviors[index]
            var settings = ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: botName)
            settings.role = behavior == .lurker ? .viewer : .bot
            let client = try BoardClient(configuration: settings)
            let bot = Bot(
                client: client,
                brain: BotBrain(behavior: behavior, seed: seed &+ UInt64(index), area: area, stepDelay: 30),
                name: botName, color: UInt8(9 + index % 6))
            botTasks.append(
                Task {
                    let connection = Task { await client.run() }
                    let statistics = await bot.run()
                    connection.cancel()
                    return statistics
                })
            started.append("\(botName) (\(behavior.rawValue))")
        }
        if interactive {
            let client = try BoardClient(
                configuration: ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: name))
            do {
                try await BoardScreen(client: client, name: name, color: defaultColor(for: name), isReadOnly: false)
                    .run()
            } catch {
                await stop(server: server, serving: serving, bots: botTasks)
                throw CommandFailure(error)
            }
        } else {
            say("demo: \(started.isEmpty ? "no bots" : started.joined(separator: ", ")) drawing in room \"\(room)\"")
            for second in 1...duration {
                try await Task.sleep(for: .seconds(1))
                let counters = server.counters.snapshot
                let elements = try await server.room(named: room)?.board.visibleElements.count ?? 0
                say(
                    "t=\(second)s  elements \(elements)  updates stored \(counters.updatesIn)  "
                        + "delivered \(counters.updatesOut)  sessions \(counters.connectionsOpen)")
            }
        }
        let recorded = await stop(server: server, serving: serving, bots: botTasks)
        if !interactive {
            let board = try await server.room(named: room)?.board ?? Board()
            say("demo: stopped after \(duration) s; the bots recorded \(recorded) actions. The board:")
            var rasterizer = Rasterizer(
                viewport: Viewport(origin: .zero, columns: Int(columns), rows: Int(rows - 1)))
            say(PlainTextExporter.export(rasterizer.render(board)))
        }
        say(
            "demo: the room is stored in \(path); see it with: scuttleboard export --db \(path) --room \(room) --format ansi"
        )
    }

    /// Stops the bots and the server.
    /// - Returns: How many actions the bots recorded.
    @discardableResult
    private func stop(
        server: ScuttleboardServer, serving: Task<Void, any Error>, bots: [Task<Bot.Statistics, Never>]
    ) async -> Int {
        var recorded = 0
        for bot in bots {
            bot.cancel()
            recorded += await bot.value.recorded
        }
        await server.shutdown()
        _ = try? await serving.value
        return recorded
    }

    private static func temporaryDatabase() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "scuttleboard-demo-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(message: "cannot create \(folder.path): \(error.localizedDescription)")
        }
        return folder.appendingPathComponent("demo.sqlite").path
    }
}
