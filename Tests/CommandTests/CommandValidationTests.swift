import ArgumentParser
import Foundation
import GRDB
import Storage
import TestHarness
import Testing

@testable import scuttleboard

/// Every command checks its input before doing anything: one clear line and
/// exit status 64 (EX_USAGE), never a trap, whatever the value.
@Suite struct CommandValidationTests {
    /// A command line that must be refused, and words the refusal must say.
    struct Refusal: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let says: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let tooLongRoom = String(repeating: "r", count: 129)

    static let refusals: [Refusal] = [
        Refusal(arguments: ["serve", "--port", "99999"], says: "a port is 1 to 65535, or 0"),
        Refusal(arguments: ["serve", "--port", "-1"], says: "a port is 1 to 65535, or 0"),
        Refusal(arguments: ["serve", "--port", "http"], says: "a port is 1 to 65535, or 0"),
        Refusal(arguments: ["serve", "--metrics-port", "70000"], says: "a port is"),
        Refusal(arguments: ["serve", "--port", "9000", "--http-port", "9000"], says: "must differ"),
        Refusal(arguments: ["serve", "--max-frame", "10"], says: "must be from 1024"),
        Refusal(arguments: ["serve", "--tls-cert", "/no/such/cert.pem"], says: "there is no file /no/such/cert.pem"),
        Refusal(arguments: ["serve", "--tls-cert", "/tmp"], says: "/tmp is a folder, not a file"),
        Refusal(arguments: ["serve", "--tls-cert", "/etc/passwd"], says: "--tls-cert and --tls-key go together"),
        Refusal(
            arguments: ["serve", "--store", "mysql://u@h/d"], says: "--store: not a PostgreSQL URL: mysql://u@h/d"),
        Refusal(arguments: ["serve", "--store", "postgres://u@h"], says: "names no database"),
        Refusal(
            arguments: ["serve", "--store", "postgres://u@127.0.0.1:1/d", "--db", "x.sqlite"],
            says: "leave out --db and --memory"),
        Refusal(arguments: ["serve", "--node", "a"], says: "--node needs --store"),
        Refusal(
            arguments: ["serve", "--node", "a b", "--store", "postgres://u@127.0.0.1:1/d"], says: "--node takes a name"),
        Refusal(
            arguments: ["serve", "--node", "a", "--store", "postgres://u@127.0.0.1:1/d", "--host", "0.0.0.0"],
            says: "--advertise HOST:PORT"),
        Refusal(
            arguments: ["serve", "--node", "a", "--store", "postgres://u@127.0.0.1:1/d", "--port", "0"],
            says: "--port 0 needs --advertise"),
        Refusal(
            arguments: ["serve", "--node", "a", "--store", "postgres://u@127.0.0.1:1/d", "--advertise", "nowhere"],
            says: "--advertise takes HOST:PORT"),
        Refusal(
            arguments: ["serve", "--node", "a", "--store", "postgres://u@127.0.0.1:1/d", "--lease", "100ms"],
            says: "--lease must be at least 300ms"),
        Refusal(arguments: ["serve", "--advertise", "h:1"], says: "--advertise goes with --node"),
        Refusal(arguments: ["nodes", "--store", "x.sqlite"], says: "--store: not a PostgreSQL URL"),
        Refusal(arguments: ["rooms", "--store", "mysql://u@h/d"], says: "--store: not a PostgreSQL URL"),
        Refusal(arguments: ["draw", "--room", "r", "--server", "h:1,nowhere"], says: "HOST:PORT is needed"),
        Refusal(
            arguments: ["swarm", "--receivers", "light", "--rate", "10", "--server", "h:1,h:2"],
            says: "light peers do not reconnect"),
        Refusal(arguments: ["draw", "--room", "r", "--name", "n", "--ca", "/etc/passwd"], says: "--ca needs --tls"),
        Refusal(arguments: ["swarm", "--in-process", "--tls"], says: "drop --in-process"),
        Refusal(arguments: ["serve", "--max-connections", "0"], says: "must be from 1"),
        Refusal(arguments: ["serve", "--rate-limit", "-5"], says: "must be from 1"),
        Refusal(arguments: ["serve", "--idle-room-timeout", "-5s"], says: "a positive duration"),
        Refusal(arguments: ["serve", "--idle-room-timeout", "999999999999999999m"], says: "at most a week"),
        Refusal(arguments: ["serve", "--checkpoint-interval", "0"], says: "must be from 1"),
        Refusal(arguments: ["serve", "--commit-interval", "1001"], says: "must be from 0 to 1000"),
        Refusal(arguments: ["serve", "--commit-interval", "soon"], says: "a whole number from 0 to 1000"),
        Refusal(arguments: ["serve", "--log-level", "loud"], says: "--log-level must be one of"),
        Refusal(arguments: ["serve", "--token", "design"], says: "--token takes ROOM=EDITOR-TOKEN"),
        Refusal(arguments: ["serve", "--token", "\(tooLongRoom)=x"], says: "1 to 128 bytes"),
        Refusal(
            arguments: ["serve", "--db", "/no/such/folder/rooms.sqlite"], says: "there is no folder /no/such/folder"),
        Refusal(arguments: ["serve", "--db", "/tmp"], says: "/tmp is a folder"),
        Refusal(arguments: ["draw", "--room", "", "--name", "ada"], says: "a room's name is 1 to 128 bytes"),
        Refusal(arguments: ["draw", "--room", tooLongRoom, "--name", "ada"], says: "a room's name is 1 to 128 bytes"),
        Refusal(arguments: ["draw", "--room", "a\u{7}b", "--name", "ada"], says: "no control characters"),
        Refusal(arguments: ["draw", "--room", "design", "--name", ""], says: "a name is 1 to 32 characters"),
        Refusal(
            arguments: ["draw", "--room", "design", "--name", String(repeating: "n", count: 33)],
            says: "a name is 1 to 32 characters"),
        Refusal(arguments: ["draw", "--room", "design", "--name", "ada", "--server", "host"], says: "HOST:PORT"),
        Refusal(arguments: ["draw", "--room", "design", "--name", "ada", "--server", "host:0"], says: "1 to 65535"),
        Refusal(
            arguments: ["draw", "--room", "design", "--name", "ada", "--server", "host:99999"], says: "1 to 65535"),
        Refusal(
            arguments: ["draw", "--room", "design", "--name", "ada", "--color", "256"], says: "must be from 0 to 255"),
        Refusal(arguments: ["draw", "--room", "design", "--name", "ada", "--token", ""], says: "a token is 1 to 256"),
        Refusal(arguments: ["view", "--room", "design", "--fit", "--follow", "ada"], says: "exclude each other"),
        Refusal(arguments: ["demo", "--bots", "9"], says: "must be from 0 to 8"),
        Refusal(arguments: ["demo", "--duration", "0"], says: "a positive duration"),
        Refusal(arguments: ["demo", "--duration", "-5s"], says: "a positive duration"),
        Refusal(arguments: ["demo", "--name", ""], says: "a name is 1 to 32 characters"),
        Refusal(arguments: ["replay", "--room", "design", "--speed", "inf"], says: "a number from 0.125 to 1024"),
        Refusal(arguments: ["replay", "--room", "design", "--speed", "1e300"], says: "must be from 0.125 to 1024"),
        Refusal(arguments: ["replay", "--room", "design", "--speed", "nan"], says: "a number from"),
        Refusal(arguments: ["replay", "--room", "design", "--speed", "-1"], says: "must be from 0.125"),
        Refusal(arguments: ["replay", "--room", "design", "--speed", "0"], says: "must be from 0.125"),
        Refusal(arguments: ["swarm", "--duration", "999999999999999999m"], says: "at most a week"),
        Refusal(arguments: ["swarm", "--duration", "1500ms"], says: "whole seconds"),
        Refusal(arguments: ["swarm", "--duration", "-5s"], says: "a positive duration"),
        Refusal(arguments: ["swarm", "--bots", "0"], says: "must be from 1 to 10000"),
        Refusal(arguments: ["swarm", "--bots", "2", "--rooms", "5"], says: "--rooms must be at most --bots"),
        Refusal(arguments: ["swarm", "--rate", "0"], says: "must be from 0.01"),
        Refusal(arguments: ["swarm", "--keep", "0"], says: "must be from 1 to 100000"),
        Refusal(arguments: ["swarm", "--behaviors", "painter"], says: "--behaviors takes"),
        Refusal(arguments: ["swarm", "--metrics", "nonsense"], says: "--metrics takes an http URL"),
        Refusal(arguments: ["swarm", "--server-pid", "2147483646"], says: "no process 2147483646"),
        Refusal(arguments: ["swarm", "--server-pid", "1", "--in-process"], says: "drop --in-process"),
        Refusal(arguments: ["swarm", "--receivers", "light"], says: "--receivers light needs --rate"),
        Refusal(
            arguments: ["swarm", "--receivers", "light", "--rate", "10", "--latency", "20"],
            says: "takes no chaos options"),
        Refusal(arguments: ["swarm", "--receivers", "some"], says: "--receivers"),
        Refusal(arguments: ["swarm", "--full-per-room", "0"], says: "--full-per-room"),
        Refusal(arguments: ["redis-baseline", "--redis-pid", "2147483646"], says: "no process 2147483646"),
        Refusal(arguments: ["redis-baseline", "--publishers", "0"], says: "--publishers"),
        Refusal(arguments: ["redis-baseline", "--duration", "1500ms"], says: "whole seconds"),
        Refusal(arguments: ["swarm", "--server", "127.0.0.1:70000"], says: "1 to 65535"),
        Refusal(arguments: ["swarm", "--latency", "-3"], says: "must be from 0 to 60000"),
        Refusal(arguments: ["export", "--room", ""], says: "a room's name is 1 to 128 bytes"),
    ]

    @Test(arguments: refusals)
    func aBadValueIsRefusedWithOneClearLineAndStatus64(_ refusal: Refusal) {
        do {
            _ = try Scuttleboard.parseAsRoot(refusal.arguments)
            Issue.record("accepted")
        } catch {
            let message = Scuttleboard.message(for: error)
            #expect(message.contains(refusal.says), "\(message)")
            #expect(!message.contains("\n"), "one line: \(message)")
            #expect(Scuttleboard.exitCode(for: error).rawValue == 64)
        }
    }

    @Test(arguments: [
        ["serve", "--port", "0", "--memory"], ["serve", "--idle-room-timeout", "5m"], ["demo", "--duration", "5s"],
        ["demo", "--duration", "30"], ["swarm", "--duration", "2m"], ["swarm", "--server", "[::1]:7070"],
        ["replay", "--room", "design", "--speed", "0.125"], ["draw", "--room", "design", "--name", "ada"],
    ])
    func goodValuesAreTaken(_ arguments: [String]) throws {
        _ = try Scuttleboard.parseAsRoot(arguments)
    }

    @Test func durationsReadTheWayPeopleWriteThem() throws {
        #expect(try ArgumentParsing.duration("500ms") == .milliseconds(500))
        #expect(try ArgumentParsing.duration("30") == .seconds(30))
        #expect(try ArgumentParsing.duration("2m") == .seconds(120))
        #expect(try ArgumentParsing.duration("1h") == .seconds(3_600))
        #expect(try ArgumentParsing.endpoint("[::1]:7070") == Endpoint(host: "::1", port: 7070))
    }
}

/// Reading commands (`rooms`, `export`, `replay`) never create, migrate or
/// write a database, and say plainly when a file is not theirs.
@Suite struct ReadingCommandTests {
    static func scratch() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test(arguments: [["rooms"], ["export", "--room", "design"], ["replay", "--room", "design"]])
    func aMistypedPathIsRefusedAndNotCreated(_ command: [String]) async throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let typo = folder.appendingPathComponent("typo.sqlite").path
        var parsed = try Scuttleboard.parseAsRoot(command + ["--db", typo])
        do {
            if var asynchronous = parsed as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try parsed.run()
            }
            Issue.record("it ran")
        } catch {
            #expect(Scuttleboard.message(for: error) == "no database at \(typo)")
            #expect(Scuttleboard.exitCode(for: error).rawValue == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: typo), "nothing was created")
    }

    @Test func anotherApplicationsDatabaseIsLeftUntouched() async throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("other.sqlite").path
        let other = try DatabaseQueue(path: path)
        try await other.write { try $0.execute(sql: "CREATE TABLE recipes (name TEXT)") }
        for open in [{ _ = try DurableLog(readingAt: path) }, { _ = try DurableLog(path: path) }] {
            #expect(throws: StorageError.self) { try open() }
        }
        do {
            var rooms = try #require(Scuttleboard.parseAsRoot(["rooms", "--db", path]) as? any AsyncParsableCommand)
            try await rooms.run()
            Issue.record("it listed rooms")
        } catch {
            #expect(
                Scuttleboard.message(for: error) == "\(path) is not a Scuttleboard database (it was left untouched)")
        }
        let tables = try await other.read {
            try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(tables == ["recipes"], "no table was added")
    }

    @Test func aScuttleboardDatabaseIsReadWithoutBeingChanged() async throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("rooms.sqlite").path
        do {
            let log = try DurableLog(path: path)
            try await log.append(
                room: "design",
                [StoredUpdate(origin: .init(7), seq: 1, timestamp: .init(1 << 16), action: [0, 0, 0, 1, 0])])
            try log.checkpoint()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try DurableLog(readingAt: path)
        #expect(try reader.rooms().map(\.name) == ["design"])
        #expect(try reader.history(room: "design").count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "not a byte changed")
    }
}
