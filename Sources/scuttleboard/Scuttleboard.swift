import ArgumentParser
import Foundation
import Logging
import Scuttlebutt
import Server
import Storage
import Whiteboard
import Wire

/// A failure to report as one line (no usage text: the input was fine).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ error: some Error) {
        description = String(describing: error)
    }

    init(message: String) {
        description = message
    }
}

/// The `scuttleboard` command: one executable, one subcommand per job.
@main
struct Scuttleboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A real-time collaborative whiteboard for terminals.",
        subcommands: [
            Demo.self, Serve.self, Draw.self, View.self, Replay.self, SwarmCommand.self, Rooms.self, Export.self,
        ])
}

/// Options shared by the commands that open the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite file holding every room.")
    var db = "./scuttleboard.sqlite"

    @Flag(name: .long, help: "Keep everything in memory; nothing is written to disk.")
    var memory = false

    var path: String? { memory ? nil : db }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 7070

    @OptionGroup var database: DatabaseOptions

    @Option(help: "When an update counts as stored: full (fsync each commit), normal (survives kill -9), off.")
    var durability = Durability.normal

    @Option(help: "The largest frame accepted from a peer, in bytes.")
    var maxFrame = 1 << 20

    @Option(
        name: .customLong("token"),
        help: ArgumentHelp(
            "Protect a room: ROOM=EDITOR-TOKEN[:VIEWER-TOKEN]. Repeat for more rooms.",
            valueName: "room=editor[:viewer]"))
    var tokens: [String] = []

    @Option(
        help: ArgumentHelp(
            "A JSON file of room tokens: {\"rooms\": {\"name\": {\"editor\": \"…\", \"viewer\": \"…\"}}}."))
    var config: String?

    @Option(help: "Connections served at once.")
    var maxConnections = 1_000

    @Option(help: "Rooms held at once.")
    var maxRooms = 1_000

    @Option(help: "Updates one connection may send per second (bursts up to twice that).")
    var rateLimit = 2_000

    @Option(help: "Seconds a room stays in memory after its last session ends.")
    var idleRoomTimeout = 300

    @Option(help: "Write a room's state to the database after this many updates fold (bounds restart time).")
    var checkpointInterval = 10_000

    @Option(help: "Serve Prometheus metrics at /metrics and /healthz on this HTTP port (0: any free port).")
    var metricsPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    /// The room tokens from --config and --token (flags win).
    func roomAccess() throws -> [String: RoomAccess] {
        var access: [String: RoomAccess] = [:]
        if let config {
            struct File: Decodable { let rooms: [String: RoomAccess] }
            do {
                access = try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: config))).rooms
            } catch {
                throw ValidationError("cannot read --config \(config): \(error.localizedDescription)")
            }
        }
        for token in tokens {
            let parts = token.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--token takes ROOM=EDITOR-TOKEN[:VIEWER-TOKEN], not \"\(token)\"")
            }
            let secrets = parts[1].split(separator: ":", maxSplits: 1).map(String.init)
            access[String(parts[0])] = RoomAccess(editor: secrets[0], viewer: secrets.count > 1 ? secrets[1] : nil)
        }
        return access
    }

    func run() async throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.databasePath = database.path
        configuration.durability = durability
        configuration.maxFrameSize = maxFrame
        configuration.roomAccess = try roomAccess()
        configuration.maxConnections = maxConnections
        configuration.maxRooms = maxRooms
        configuration.maxUpdatesPerSecond = rateLimit
        configuration.metricsPort = metricsPort
        configuration.idleRoomTimeout = UInt64(max(0, idleRoomTimeout)) * 1_000
        guard checkpointInterval > 0 else { throw ValidationError("--checkpoint-interval must be at least 1") }
        configuration.checkpointInterval = checkpointInterval
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        configuration.logger = Logger(label: "scuttleboard")
        let server: ScuttleboardServer
        do {
            server = try ScuttleboardServer(configuration: configuration)
        } catch {
            throw CommandFailure(error)
        }
        let store = database.path ?? "memory"
        // SIGINT and SIGTERM stop the server gracefully.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                say("scuttleboard stopping: closing sessions and checkpointing \(store)")
                Task { await server.shutdown() }
            }
            source.resume()
            return source
        }
        try await server.run(
            onListening: { port in say("scuttleboard serving on \(host):\(port), rooms stored in \(store)") },
            onMetricsListening: { port in say("metrics on http://\(host):\(port)/metrics") })
        signals.forEach { $0.cancel() }
        say("scuttleboard stopped")
    }
}

struct Rooms: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the rooms stored in the database.")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let log: DurableLog
        let rooms: [RoomSummary]
        do {
            log = try DurableLog(path: database.path)
            rooms = try log.rooms()
        } catch {
            throw CommandFailure(error)
        }
        if rooms.isEmpty { print("no rooms in \(database.path ?? "memory")") }
        for room in rooms {
            print("\(room.name)\t\(room.updateCount) updates\t\(room.originCount) origins")
        }
    }
}

extension Durability: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stored room to standard output as SVG, ANSI, plain text or its JSON action log.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case svg, ansi, text, json
    }

    @Option(help: "The room to export.")
    var room: String

    @Option(help: "svg (vectors), ansi (colour text for a terminal), text, or json (the action log).")
    var format = Format.svg

    @Option(help: "For ansi and text: half-block (default) or braille.")
    var mode = RasterMode.halfBlock

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let history: [StoredUpdate]
        do {
            history = try DurableLog(path: database.path).history(room: room)
        } catch {
            throw CommandFailure(error)
        }
        guard !history.isEmpty else {
            throw CommandFailure(message: "room \"\(room)\" has nothing stored in \(database.path ?? "memory")")
        }
        var updates: [Update<BoardAction>] = []
        for update in history {
            guard let decoded = update.decoded(with: BoardActionCodec.decode) else {
                throw CommandFailure(
                    message: "update \(update.origin)#\(update.seq) in room \"\(room)\" does not decode")
            }
            updates.append(decoded)
        }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            say(String(decoding: try encoder.encode(updates), as: UTF8.self))
            return
        case .svg, .ansi, .text:
            var board = Board()
            let reducer = BoardReducer()
            for update in updates { reducer.reduce(&board, update) }
            if format == .svg {
                FileHandle.standardOutput.write(Data(SVGExporter.export(board).utf8))
                return
            }
            var rasterizer = Rasterizer(viewport: .fitting(board.visibleBounds ?? Rect(.zero), mode: mode))
            let grid = rasterizer.render(board)
            let text = format == .ansi ? ANSIExporter.export(grid) : PlainTextExporter.export(grid)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

extension RasterMode: ExpressibleByArgument {}

/// Writes a line to standard output at once (unbuffered, even into a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
