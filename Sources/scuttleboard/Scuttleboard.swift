import ArgumentParser
import Client
import Foundation
import Logging
import PostgresStorage
import Rooms
import Scuttlebutt
import Server
import ServiceLifecycle
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
            Check.self, Nodes.self, RedisBaselineCommand.self,
        ])
}

/// Where `serve` keeps its rooms.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long, help: "The SQLite file holding every room, created if missing (default: ./scuttleboard.sqlite).",
        transform: ArgumentParsing.writableFile)
    var db: String?

    @Flag(name: .long, help: "Keep everything in memory; nothing is written to disk.")
    var memory = false

    /// The SQLite file, or nil in memory.
    var path: String? { memory ? nil : file }

    /// The SQLite file named or the default one.
    var file: String { db ?? "./scuttleboard.sqlite" }
}

/// The database a reading command (`rooms`, `export`, `replay`) reads: it
/// must exist, and it is opened read-only, never created or migrated.
struct StoredDatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite file to read (it is never created or changed).")
    var db = "./scuttleboard.sqlite"

    @Option(
        help: ArgumentHelp(
            "Read the rooms a server keeps in PostgreSQL instead of a SQLite file (--db).",
            valueName: "postgres://user@host:port/database"))
    var store: String?

    func validate() throws {
        if let store {
            do {
                _ = try PostgresLocation(url: store)
            } catch {
                throw ValidationError("--store: \(error)")
            }
        }
    }

    /// Where the rooms are read from, for messages.
    var location: String { (try? store.map { try PostgresLocation(url: $0).description }) ?? nil ?? db }

    /// Runs `body` with the log opened to read, and closes it afterwards.
    func read<T>(_ body: (any DurableStore) async throws -> T) async throws -> T {
        guard let store else {
            do {
                return try await body(try DurableLog(readingAt: db))
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure(error)
            }
        }
        let log: PostgresLog
        do {
            log = try await PostgresLog.open(try PostgresLocation(url: store), reading: true, maximumConnections: 2)
        } catch {
            throw CommandFailure(error)
        }
        do {
            let result = try await body(log)
            await log.close()
            return result
        } catch let failure as CommandFailure {
            await log.close()
            throw failure
        } catch {
            await log.close()
            throw CommandFailure(error)
        }
    }

    /// The SQLite file, opened to read, for what only SQLite files have (`check`).
    func openFile() throws -> DurableLog {
        if store != nil { throw CommandFailure(message: "--store: this command reads SQLite files only (--db)") }
        do {
            return try DurableLog(readingAt: db)
        } catch {
            throw CommandFailure(error)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server.",
        discussion: """
            Rooms load from the SQLite file when someone joins and unload when idle. SIGINT or SIGTERM stops \
            the server gracefully: sessions are told why, rooms are checkpointed; the exit status is non-zero \
            when that did not complete (the database failed, or the stop took longer than --shutdown-timeout). \
            When the database cannot take writes (a full disk, a lock held elsewhere, the file deleted), the \
            server refuses updates by name, keeps serving reads, says not ready at /readyz, and takes writes \
            again once a probe succeeds; nothing it acknowledged is ever lost.
            """)

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(
        parsing: .unconditional, help: "The port to listen on (0 picks a free one).",
        transform: { try ArgumentParsing.port($0, allowingAny: true) })
    var port = 7070

    @OptionGroup var database: DatabaseOptions

    @Option(
        help: ArgumentHelp(
            "Keep the rooms in PostgreSQL instead of a SQLite file: the schema is created or migrated on start. Scripts/postgres.sh start runs one on this machine.",
            valueName: "postgres://user[:password]@host:port/database"))
    var store: String?

    @Option(
        parsing: .unconditional,
        help:
            "With --store: how long one read or commit may take before it fails (a database that stopped answering): 5s, 30s.",
        transform: ArgumentParsing.duration)
    var storeTimeout: Duration = .seconds(5)

    @Option(
        help: ArgumentHelp(
            "Run as a node of a cluster sharing --store: each room lives on one node at a time, under a lease; the others redirect clients to it.",
            valueName: "name"))
    var node: String?

    @Option(
        help: ArgumentHelp(
            "Where clients reach this node's protocol port (default: --host:--port); needed with --host 0.0.0.0.",
            valueName: "host:port"))
    var advertise: String?

    @Option(
        help: ArgumentHelp(
            "Where browsers reach this node's HTTP port (default: --host:--http-port).", valueName: "host:port"))
    var advertiseHttp: String?

    @Option(
        parsing: .unconditional,
        help: "How long a node's lease on a room lasts unless renewed (renewed every third of it): 3s, 1500ms.",
        transform: ArgumentParsing.duration)
    var lease: Duration = .seconds(3)

    @Option(help: "When an update counts as stored: full (fsync each commit), normal (survives kill -9), off.")
    var durability = Durability.normal

    @Option(
        parsing: .unconditional, help: "The largest frame accepted from a peer, in bytes (1 KiB to 64 MiB).",
        transform: { try ArgumentParsing.integer($0, in: 1_024...(64 << 20)) })
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

    @Option(
        parsing: .unconditional,
        help: "Connections served at once (capped, with a warning, to leave 64 of the file descriptor limit free).",
        transform: { try ArgumentParsing.integer($0, in: 1...1_000_000) })
    var maxConnections = 1_000

    @Option(
        parsing: .unconditional, help: "Rooms held at once.",
        transform: { try ArgumentParsing.integer($0, in: 1...1_000_000) })
    var maxRooms = 1_000

    @Option(
        parsing: .unconditional,
        help:
            "Updates one connection may send per second (bursts up to twice that); messages of any kind, four times that (at least 10000).",
        transform: { try ArgumentParsing.integer($0, in: 1...100_000_000) })
    var rateLimit = 2_000

    @Option(
        parsing: .unconditional,
        help: "How long a room stays in memory after its last session ends: 300 (seconds), 30s, 5m, 1h.",
        transform: ArgumentParsing.duration)
    var idleRoomTimeout: Duration = .seconds(300)

    @Option(
        parsing: .unconditional,
        help: "Write a room's state to the database after this many updates fold (bounds restart time).",
        transform: { try ArgumentParsing.integer($0, in: 1...100_000_000) })
    var checkpointInterval = 10_000

    @Option(
        name: .customLong("commit-interval"), parsing: .unconditional,
        help: ArgumentHelp(
            "Least time between two group commits, in ms (0: back to back): under load, updates arriving within it share one SQLite transaction; an idle server commits at once.",
            valueName: "ms"),
        transform: { try ArgumentParsing.integer($0, in: 0...1_000) })
    var commitInterval = 2

    @Option(
        name: [.customLong("http-port"), .customLong("metrics-port")], parsing: .unconditional,
        help: ArgumentHelp(
            "Serve HTTP on this port (0: any free port): /rooms, /rooms/ROOM/board.svg, .png and .json, /ws (the protocol over WebSocket), and /metrics, /healthz and /readyz for operators. --metrics-port is its older name.",
            valueName: "port"),
        transform: { try ArgumentParsing.port($0, allowingAny: true) })
    var httpPort: Int?

    @Option(
        help: ArgumentHelp(
            "Serve TLS on every port (the protocol, and HTTPS/WSS) with this PEM certificate chain; needs --tls-key. Plaintext connections are then refused.",
            valueName: "file"),
        transform: ArgumentParsing.readableFile)
    var tlsCert: String?

    @Option(
        help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "file"),
        transform: ArgumentParsing.readableFile)
    var tlsKey: String?

    @Option(
        parsing: .unconditional,
        help: "How long a stop may take before the server exits without the remaining checkpoints: 10s, 1m.",
        transform: ArgumentParsing.duration)
    var shutdownTimeout: Duration = .seconds(10)

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard !host.isEmpty else { throw ValidationError("--host needs an address, such as 127.0.0.1 or 0.0.0.0") }
        if let httpPort, httpPort != 0, httpPort == port {
            throw ValidationError("--http-port must differ from --port")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let store {
            if database.db != nil || database.memory {
                throw ValidationError("--store keeps the rooms in PostgreSQL: leave out --db and --memory")
            }
            do {
                _ = try PostgresLocation(url: store)
            } catch {
                throw ValidationError("--store: \(error)")
            }
        }
        if let node {
            guard store != nil else { throw ValidationError("--node needs --store: the nodes of a cluster share it") }
            guard (1...64).contains(node.count), node.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
            else {
                throw ValidationError("--node takes a name of up to 64 letters, digits, -, _ and ., not \"\(node)\"")
            }
            guard advertise != nil || !["0.0.0.0", "::"].contains(host) else {
                throw ValidationError("--advertise HOST:PORT: clients cannot reach \(host)")
            }
            guard port != 0 || advertise != nil else {
                throw ValidationError("--port 0 needs --advertise: other nodes send clients to this node's port")
            }
            for address in [advertise, advertiseHttp].compactMap({ $0 }) where ServerAddress(parsing: address) == nil {
                throw ValidationError("--advertise takes HOST:PORT, not \"\(address)\"")
            }
            guard lease >= .milliseconds(300) else { throw ValidationError("--lease must be at least 300ms") }
        } else if advertise != nil || advertiseHttp != nil {
            throw ValidationError("--advertise goes with --node")
        }
        _ = try roomAccess()
    }

    /// This node's settings in a cluster, if it is one's.
    var cluster: ClusterSettings? {
        guard let node else { return nil }
        var settings = ClusterSettings(
            node: node, address: advertise ?? ServerAddress(host: host, port: port).description,
            webAddress: advertiseHttp ?? httpPort.map { ServerAddress(host: host, port: $0).description })
        settings.leaseDuration = lease
        settings.renewInterval = lease / 3
        return settings
    }

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
            do {
                _ = try ArgumentParsing.room(String(parts[0]))
                for secret in secrets { _ = try ArgumentParsing.token(secret) }
            } catch {
                throw ValidationError("--token \"\(token)\": \(error)")
            }
            access[String(parts[0])] = RoomAccess(editor: secrets[0], viewer: secrets.count > 1 ? secrets[1] : nil)
        }
        return access
    }

    func run() async throws {
        let eventLoops = ScuttleboardServer.fitEventLoopsToAllowedCPUs()
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
        configuration.httpPort = httpPort
        if let tlsCert, let tlsKey { configuration.tls = ServerTLS(certificateFile: tlsCert, keyFile: tlsKey) }
        configuration.idleRoomTimeout =
            UInt64(idleRoomTimeout.components.seconds) * 1_000
            + UInt64(idleRoomTimeout.components.attoseconds / 1_000_000_000_000_000)
        configuration.checkpointInterval = checkpointInterval
        configuration.commitInterval = .milliseconds(commitInterval)
        configuration.shutdownTimeout = shutdownTimeout
        configuration.cluster = cluster
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        configuration.logger = Logger(label: "scuttleboard")
        let server: ScuttleboardServer
        var postgres: PostgresLog?
        do {
            if let store {
                let log = try await PostgresLog.open(
                    try PostgresLocation(url: store), durability: durability, operationTimeout: storeTimeout)
                postgres = log
                server = try ScuttleboardServer(configuration: configuration, log: log)
            } else {
                server = try ScuttleboardServer(configuration: configuration)
            }
        } catch {
            throw CommandFailure(error)
        }
        let store = server.log.location == ":memory:" ? "memory" : server.log.location
        // A file size limit (`ulimit -f`) must fail a write, which the
        // server reports and survives, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        // SIGINT and SIGTERM stop the server gracefully: the server is the
        // service of a ServiceGroup listening for them.
        let service = ServerService(
            server,
            onListening: { port in
                let loops = eventLoops.map { ", \($0) event loop\($0 == 1 ? "" : "s") (the CPUs it may use)" } ?? ""
                let secured = tlsCert == nil ? "" : " with TLS only"
                let member =
                    cluster.map { " as node \($0.node) of a cluster (clients reach it at \($0.address))" } ?? ""
                say("scuttleboard serving on \(host):\(port)\(secured), rooms stored in \(store)\(member)\(loops)")
            },
            onHTTPListening: { port in
                say("HTTP on http\(tlsCert == nil ? "" : "s")://\(host):\(port)/rooms (and /metrics)")
            },
            onStopping: { say("scuttleboard stopping: closing sessions and checkpointing \(store)") })
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: configuration.logger))
        do {
            try await group.run()
        } catch let error as ServerError {
            await postgres?.close()
            throw CommandFailure(error)
        }
        await postgres?.close()
        say("scuttleboard stopped")
    }
}

struct Rooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the rooms stored in a database (read-only).")

    @OptionGroup var database: StoredDatabaseOptions

    func run() async throws {
        let rooms = try await database.read { try await $0.rooms() }
        if rooms.isEmpty { say("no rooms in \(database.location)") }
        for room in rooms {
            let last = room.lastTimestamp.map { " · last update \(Self.time($0.milliseconds))" } ?? ""
            say("\(room.name)\t\(room.updateCount) updates\t\(room.originCount) origins\(last)")
        }
    }

    /// A log time as a UTC date and time.
    static func time(_ milliseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1_000))
    }
}

extension Durability: ExpressibleByArgument {}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stored room to standard output as SVG, PNG, ANSI, plain text or its JSON action log.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case svg, png, ansi, text, json
    }

    @Option(help: "The room to export.", transform: ArgumentParsing.room)
    var room: String

    @Option(help: "svg (vectors), png (an image), ansi (colour text for a terminal), text, or json (the action log).")
    var format = Format.svg

    @Option(
        help: ArgumentHelp(
            "For png: image pixels per canvas pixel (1-64; less if the image would pass 16384 pixels a side or 8 M in all).",
            valueName: "n"),
        transform: { try ArgumentParsing.integer($0, in: 1...64) })
    var scale = 8

    @Option(help: "For ansi and text: half-block (default) or braille.")
    var mode = RasterMode.halfBlock

    @OptionGroup var database: StoredDatabaseOptions

    func run() async throws {
        let history = try await database.read { log in
            let history = try await log.history(room: room)
            guard !history.isEmpty else {
                let names = (try? await log.rooms().map(\.name)) ?? []
                let others = names.isEmpty ? "it holds no rooms" : "rooms there: \(names.joined(separator: ", "))"
                throw CommandFailure(
                    message: "room \"\(room)\" has nothing stored in \(database.location); \(others)")
            }
            return history
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
        case .svg, .png, .ansi, .text:
            var board = Board()
            let reducer = BoardReducer()
            for update in updates { reducer.reduce(&board, update) }
            if format == .svg {
                try? FileHandle.standardOutput.write(contentsOf: Data(SVGExporter.export(board).utf8))
                return
            }
            if format == .png {
                if isatty(1) == 1 {
                    throw CommandFailure(message: "a PNG is binary: redirect it to a file (> board.png)")
                }
                try? FileHandle.standardOutput.write(contentsOf: Data(PNGExporter.export(board, scale: scale)))
                return
            }
            var rasterizer = Rasterizer(viewport: .fitting(board.visibleBounds ?? Rect(.zero), mode: mode))
            let grid = rasterizer.render(board)
            let text = format == .ansi ? ANSIExporter.export(grid) : PlainTextExporter.export(grid)
            try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
        }
    }
}

extension RasterMode: ExpressibleByArgument {}

/// Writes a line to standard output at once (unbuffered, even into a pipe).
func say(_ line: String) {
    try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
}
