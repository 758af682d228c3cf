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
            and opens the drawing client there for you; it prints the address of the same board in a browser. \
            The bots draw on the right of the screen and keep \
            only their latest drawings, so the left is yours. Press ? in the client for every key, q to quit. \
            With --headless (or without a terminal) it prints what happens instead. The database is \
            temporary and removed at the end unless --db names a file to keep.
            """)

    @Option(help: "How many bots draw (0-8).", transform: { try ArgumentParsing.integer($0, in: 0...8) })
    var bots = 3

    @Option(help: "The room.", transform: ArgumentParsing.room)
    var room = "demo"

    @Option(help: "Your name beside your cursor.", transform: ArgumentParsing.personName)
    var name = Demo.userName

    @Option(
        help: "A SQLite file to keep the board in (default: a temporary one, removed at the end).",
        transform: ArgumentParsing.writableFile)
    var db: String?

    @Flag(help: "Print what happens instead of opening the drawing client.")
    var headless = false

    @Option(
        parsing: .unconditional, help: "With --headless: how long to run: 10 (seconds), 30s, 2m.",
        transform: ArgumentParsing.duration)
    var duration: Duration = .seconds(10)

    @Option(help: "Seed for the bots' drawing.")
    var seed: UInt64 = 1

    @Option(
        help: ArgumentHelp(
            "The HTTP port, where a browser opens the board to draw with everyone (0: any free port).",
            valueName: "port"),
        transform: { try ArgumentParsing.port($0, allowingAny: true) })
    var httpPort = 0

    static let botNames = ["ada", "grace", "linus", "ken", "barbara", "dennis", "margaret", "alan"]
    static let behaviors: [BotBehavior] = [.scribbler, .shapes, .text, .scribbler, .eraser, .shapes, .text, .lurker]
    /// How many of its own drawings each demo bot keeps on the board.
    static let drawingsKept = 6
    /// Where a supervised child finds the temporary folder its parent made
    /// (and removes when the child has ended, however it ended).
    static let scratchVariable = "SCUTTLEBOARD_DEMO_FOLDER"

    /// `$USER`, as a valid name, or "you".
    static var userName: String {
        guard let user = ProcessInfo.processInfo.environment["USER"],
            let name = try? ArgumentParsing.personName(String(user.prefix(BoardPresence.maxNameLength)))
        else { return "you" }
        return name
    }

    func run() async throws {
        let interactive = !headless && isatty(0) == 1 && isatty(1) == 1
        if interactive && !TerminalSupervisor.isChild {
            // The parent owns the temporary database, so that it goes away
            // even when the child is killed.
            let scratch = db == nil ? try Self.makeScratchFolder() : nil
            let status = TerminalSupervisor.superviseIfNeeded(
                environment: scratch.map { [Self.scratchVariable: $0.path] } ?? [:])
            if let scratch { try? FileManager.default.removeItem(at: scratch) }
            if let status { throw ExitCode(status) }
        }
        let inherited = ProcessInfo.processInfo.environment[Self.scratchVariable].map(URL.init(fileURLWithPath:))
        let scratch = db == nil && inherited == nil ? try Self.makeScratchFolder() : nil
        defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
        let path = db ?? (inherited ?? scratch!).appendingPathComponent("demo.sqlite").path
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.databasePath = path
        configuration.httpPort = httpPort
        let server: ScuttleboardServer
        do {
            server = try ScuttleboardServer(configuration: configuration)
        } catch {
            throw CommandFailure(error)
        }
        let (port, boundHTTP, serving) = try await server.startInBackgroundWithPorts()
        let roomInPath = room.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? room
        let roomInQuery =
            room.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "+", "=", "#"]))
            ?? room
        let pageURL = boundHTTP.map { "http://127.0.0.1:\($0)/?room=\(roomInQuery)" } ?? ""
        let svgURL = boundHTTP.map { "http://127.0.0.1:\($0)/rooms/\(roomInPath)/board.svg" } ?? ""
        if !interactive {
            say("demo: server on 127.0.0.1:\(port), database \(path)")
        }
        // Before the screen opens: seen in a headless run, and in the
        // terminal once the drawing client has closed.
        say("demo: draw in a browser too: \(pageURL)")
        say("demo: the board as SVG: \(svgURL)")
        // Bots draw where a terminal of the usual size shows them.
        var columns: Int32 = 80
        var rows: Int32 = 24
        if interactive, let size = TerminalDevice.currentSize(), size.columns > 20, size.rows > 8 {
            (columns, rows) = (Int32(size.columns), Int32(size.rows))
        }
        let botTasks = startBots(port: port, columns: columns, rows: rows)
        if interactive {
            let client = try BoardClient(
                configuration: ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: name))
            do {
                var screen = BoardScreen(client: client, name: name, color: defaultColor(for: name), isReadOnly: false)
                screen.openingNotice = pageURL.isEmpty ? nil : "also in a browser: \(pageURL)"
                try await runScreen(screen)
            } catch {
                await stop(server: server, serving: serving, bots: botTasks)
                throw error
            }
            await stop(server: server, serving: serving, bots: botTasks)
        } else {
            try await runHeadless(server: server, serving: serving, bots: botTasks, columns: columns, rows: rows)
        }
        if db != nil {
            say("demo: the room is stored in \(path); see it with: scuttleboard export --db \(path) --room \(room)")
        } else {
            say("demo: the board was in a temporary database, now removed; pass --db FILE to keep it")
        }
    }

    /// Starts the bots, each in a lane of the right part of the screen
    /// (the eraser roams over all the lanes), leaving the left to the person.
    private func startBots(port: Int, columns: Int32, rows: Int32) -> [Task<Bot.Statistics, Never>] {
        let canvasHeight = (rows - 1) * 2
        let left = max(2, columns * 9 / 20)
        let drawing = (0..<bots).filter { Self.behaviors[$0] != .eraser && Self.behaviors[$0] != .lurker }
        let laneHeight = max(6, (canvasHeight - 4) / Int32(max(1, drawing.count)))
        let whole = Rect(minX: left, minY: 2, maxX: columns - 3, maxY: canvasHeight - 3)
        var tasks: [Task<Bot.Statistics, Never>] = []
        for index in 0..<bots {
            let botName = Self.botNames[index]
            let behavior = Self.behaviors[index]
            var area = whole
            if let lane = drawing.firstIndex(of: index) {
                let top = 2 + Int32(lane) * laneHeight
                area = Rect(minX: left, minY: top, maxX: columns - 3, maxY: min(canvasHeight - 3, top + laneHeight - 2))
            }
            var settings = ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: botName)
            settings.role = behavior == .lurker ? .viewer : .bot
            guard let client = try? BoardClient(configuration: settings) else { continue }
            let bot = Bot(
                client: client,
                brain: BotBrain(behavior: behavior, seed: seed &+ UInt64(index), area: area, stepDelay: 30),
                name: botName, color: UInt8(9 + index % 6), keepsAtMost: Self.drawingsKept)
            tasks.append(
                Task {
                    let connection = Task { await client.run() }
                    let statistics = await bot.run()
                    connection.cancel()
                    return statistics
                })
        }
        return tasks
    }

    /// Prints what happens once a second for the duration (or until SIGINT
    /// or SIGTERM), then the board.
    private func runHeadless(
        server: ScuttleboardServer, serving: Task<Void, any Error>, bots botTasks: [Task<Bot.Statistics, Never>],
        columns: Int32, rows: Int32
    ) async throws {
        let names = (0..<bots).map { "\(Self.botNames[$0]) (\(Self.behaviors[$0].rawValue))" }
        say("demo: \(names.isEmpty ? "no bots" : names.joined(separator: ", ")) drawing in room \"\(room)\"")
        let stopRequest = StopRequest()
        defer { stopRequest.cancel() }
        let start = ContinuousClock.now
        var second = 0
        while ContinuousClock.now - start < duration && !stopRequest.isRequested {
            let remaining = duration - (ContinuousClock.now - start)
            try await Task.sleep(for: min(.seconds(1), remaining))
            second += 1
            let counters = server.counters.snapshot
            let board = try await server.room(named: room)?.board ?? Board()
            // Hidden elements stay on the board (undo can bring them back).
            let visible = board.elements.values.count { $0.isVisible }
            say(
                "t=\(second)s  elements \(visible) shown, \(board.elements.count) kept  "
                    + "updates stored \(counters.updatesIn)  delivered \(counters.updatesOut)  "
                    + "sessions \(counters.connectionsOpen)  RSS \(Self.residentMegabytes()) MB")
        }
        let recorded = await stop(server: server, serving: serving, bots: botTasks)
        let board = try await server.room(named: room)?.board ?? Board()
        let elapsed = (ContinuousClock.now - start).components.seconds
        say("demo: stopped after \(elapsed) s; the bots recorded \(recorded) actions. The board:")
        var rasterizer = Rasterizer(viewport: Viewport(origin: .zero, columns: Int(columns), rows: Int(rows - 1)))
        say(PlainTextExporter.export(rasterizer.render(board)))
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

    /// This process's resident memory, in MB (0 where /proc is missing).
    static func residentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes / 1_024
    }

    private static func makeScratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "scuttleboard-demo-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(message: "cannot create \(folder.path): \(error.localizedDescription)")
        }
        return folder
    }
}
