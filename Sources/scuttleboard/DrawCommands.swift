import ArgumentParser
import Client
import Foundation
import Scuttlebutt
import Terminal
import Whiteboard

/// Where a client connects and who it is: shared by `draw` and `view`.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The server, as HOST:PORT.")
    var server = "127.0.0.1:7070"

    @Option(help: "The room to join.")
    var room: String

    @Option(help: "The room's token, if it has one.")
    var token: String?

    /// The host and port of `--server`.
    func endpoint() throws -> (host: String, port: Int) {
        guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]),
            (1...65_535).contains(port), colon != server.startIndex
        else {
            throw ValidationError("--server takes HOST:PORT, not \"\(server)\"")
        }
        return (String(server[..<colon]), port)
    }

    /// A client configuration for this server and room.
    func configuration(name: String, role: PeerRole, localDatabase: String?) throws -> ClientConfiguration {
        let (host, port) = try endpoint()
        var configuration = ClientConfiguration(host: host, port: port, room: room, name: name)
        configuration.role = role
        configuration.token = token
        configuration.localDatabase = localDatabase
        return configuration
    }
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

    @Option(help: "The name others see beside your cursor.")
    var name: String

    @Option(help: "Your colour, a palette index 0-255 (default: one derived from your name).")
    var color: UInt8?

    @Option(help: "The SQLite file keeping what you draw until the server has it (default: under ~/.scuttleboard).")
    var localDb: String?

    @Flag(help: "Keep the offline queue in memory only (lost if the client quits while offline).")
    var noLocalDb = false

    func validate() throws {
        guard !name.isEmpty, name.count <= BoardPresence.maxNameLength else {
            throw ValidationError("--name must be 1 to \(BoardPresence.maxNameLength) characters")
        }
    }

    func run() async throws {
        let path = try noLocalDb ? nil : (localDb ?? defaultLocalDatabase())
        let client: BoardClient
        do {
            client = try BoardClient(
                configuration: connection.configuration(name: name, role: .editor, localDatabase: path))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandFailure(error)
        }
        do {
            try await BoardScreen(
                client: client, name: name, color: color ?? defaultColor(for: name), isReadOnly: false
            ).run()
        } catch {
            throw CommandFailure(error)
        }
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

    @Option(help: "The name the room's presence list shows for this viewer.")
    var name = "viewer"

    @Flag(help: "Start with the whole board fitted to the screen.")
    var fit = false

    @Option(help: "Start following this person's cursor.")
    var follow: String?

    func run() async throws {
        let client: BoardClient
        do {
            client = try BoardClient(
                configuration: connection.configuration(name: name, role: .viewer, localDatabase: nil))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandFailure(error)
        }
        var screen = BoardScreen(client: client, name: name, color: 7, isReadOnly: true)
        screen.framing = follow.map { .follow($0) } ?? (fit ? .fit : .free)
        do {
            try await screen.run()
        } catch {
            throw CommandFailure(error)
        }
    }
}
