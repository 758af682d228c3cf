import ArgumentParser
import Client
import Foundation
import Scuttlebutt
import Terminal
import Whiteboard

/// The server a client connects to, or a cluster's nodes: shared by
/// `draw`, `view` and `swarm`.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "The server, as HOST:PORT; for a cluster, its nodes separated by commas (clients start at one, try the next when one cannot be reached, and follow a node's redirect to the room's node).",
            valueName: "host:port[,host:port…]"),
        transform: ArgumentParsing.endpoints)
    var servers = [Endpoint(host: "127.0.0.1", port: 7070)]

    /// The server tried first.
    var server: Endpoint { servers[0] }

    /// The nodes after the first, as the client library takes them.
    var otherServers: [ServerAddress] { servers.dropFirst().map { ServerAddress(host: $0.host, port: $0.port) } }
}

/// Where a client connects and who it is: shared by `draw` and `view`.
struct ConnectionOptions: ParsableArguments {
    @OptionGroup var cluster: ServerOptions

    /// The server tried first.
    var server: Endpoint { cluster.server }

    @Option(help: "The room to join.", transform: ArgumentParsing.room)
    var room: String

    @Option(help: "The room's token, if it has one.", transform: ArgumentParsing.token)
    var token: String?

    @OptionGroup var tls: TLSClientOptions

    /// A client configuration for this server and room.
    func configuration(name: String, role: PeerRole, localDatabase: String?) -> ClientConfiguration {
        var configuration = ClientConfiguration(host: server.host, port: server.port, room: room, name: name)
        configuration.role = role
        configuration.token = token
        configuration.localDatabase = localDatabase
        configuration.tls = tls.clientTLS
        configuration.otherServers = cluster.otherServers
        return configuration
    }
}

/// TLS to the server: shared by `draw`, `view` and `swarm`.
struct TLSClientOptions: ParsableArguments {
    @Flag(help: "Connect with TLS (the server runs with --tls-cert and --tls-key).")
    var tls = false

    @Option(
        help: ArgumentHelp(
            "With --tls: trust the certificates in this PEM file (a private CA) instead of the system's.",
            valueName: "file"),
        transform: ArgumentParsing.readableFile)
    var ca: String?

    func validate() throws {
        if ca != nil && !tls { throw ValidationError("--ca needs --tls") }
    }

    /// The client's TLS, if asked for.
    var clientTLS: ClientTLS? { tls ? ClientTLS(caFile: ca) : nil }
}

/// Runs a board screen to its end: a refusal by the server (a wrong
/// token, say) ends the command with the server's reason.
func runScreen(_ screen: BoardScreen) async throws {
    let ending: BoardScreen.Ending
    do {
        ending = try await screen.run()
    } catch {
        throw CommandFailure(error)
    }
    if case .refused(let reason) = ending {
        throw CommandFailure(message: "the server refused to let us in: \(reason)")
    }
}

/// Runs an interactive command in a supervised child, which gives the
/// terminal back however the child ends; returns in the child (or when
/// there is no terminal to guard), throws the child's exit status in the
/// parent.
func superviseTerminal(environment: [String: String] = [:]) throws {
    if let status = TerminalSupervisor.superviseIfNeeded(environment: environment) { throw ExitCode(status) }
}

/// A colour for a name, stable across runs: one of the 15 bright-enough
/// palette entries.
func defaultColor(for name: String) -> UInt8 {
    var hash: UInt32 = 2_166_136_261
    for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    return UInt8(9 + hash % 6)
}

struct Draw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw on a board, with everyone else in the room.",
        discussion: """
            Mouse: the left button draws with the current tool; the middle or right button, or Ctrl/Alt with \
            the left, drags the board; the wheel pans. Keys: 1-7 pick a tool, c picks a colour, u and r undo \
            and redo, arrows pan, h/j/k/l and Space draw without a mouse, ? shows every key, q quits. \
            Drawing goes on while the server is away and syncs when it is back.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The name others see beside your cursor (1 to 32 characters).", transform: ArgumentParsing.personName)
    var name: String

    @Option(
        help: "Your colour, a palette index 0-255 (default: one derived from your name).",
        transform: { UInt8(try ArgumentParsing.integer($0, in: 0...255)) })
    var color: UInt8?

    @Option(
        help: "The SQLite file keeping what you draw until the server has it (default: under ~/.scuttleboard).",
        transform: ArgumentParsing.writableFile)
    var localDb: String?

    @Flag(help: "Keep the offline queue in memory only (lost if the client quits while offline).")
    var noLocalDb = false

    func validate() throws {
        if noLocalDb, localDb != nil { throw ValidationError("--local-db and --no-local-db exclude each other") }
    }

    func run() async throws {
        try superviseTerminal()
        let path = try noLocalDb ? nil : (localDb ?? defaultLocalDatabase())
        let client: BoardClient
        do {
            client = try BoardClient(
                configuration: connection.configuration(name: name, role: .editor, localDatabase: path))
        } catch {
            throw CommandFailure(error)
        }
        try await runScreen(
            BoardScreen(client: client, name: name, color: color ?? defaultColor(for: name), isReadOnly: false))
    }

    /// `~/.scuttleboard/NAME@ROOM@SERVER.sqlite`, created as needed.
    private func defaultLocalDatabase() throws -> String {
        let folder = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".scuttleboard")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(message: "cannot create \(folder.path): \(error.localizedDescription)")
        }
        let safe = "\(name)@\(connection.room)@\(connection.server)".map {
            $0.isLetter || $0.isNumber || $0 == "@" || $0 == "." ? $0 : "_"
        }
        return folder.appendingPathComponent(String(safe) + ".sqlite").path
    }
}

struct View: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch a board without drawing (for a wall display).",
        discussion: """
            Keys: f fits the whole board to the screen, n follows the next person (their cursor stays in \
            the middle), Esc stops following, arrows and the mouse pan, m switches to braille (denser) \
            pixels, q quits.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(
        help: "The name the room's presence list shows for this viewer.", transform: ArgumentParsing.personName)
    var name = "viewer"

    @Flag(help: "Start with the whole board fitted to the screen.")
    var fit = false

    @Option(help: "Start following this person's cursor.", transform: ArgumentParsing.personName)
    var follow: String?

    func validate() throws {
        if fit, follow != nil { throw ValidationError("--fit and --follow exclude each other") }
    }

    func run() async throws {
        try superviseTerminal()
        let client: BoardClient
        do {
            client = try BoardClient(
                configuration: connection.configuration(name: name, role: .viewer, localDatabase: nil))
        } catch {
            throw CommandFailure(error)
        }
        var screen = BoardScreen(client: client, name: name, color: 7, isReadOnly: true)
        screen.framing = follow.map { .follow($0) } ?? (fit ? .fit : .free)
        screen.modeHelp = BoardScreen.viewerHelp
        try await runScreen(screen)
    }
}
