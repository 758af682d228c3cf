import ArgumentParser
import Bots
import Foundation
import FoundationNetworking
import Scuttlebutt
import Server
import Whiteboard

extension SwarmPattern: ExpressibleByArgument {}

struct SwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Load-test a server with a swarm of bots, and report what it measured.",
        discussion: """
            Bots (scribblers mostly, plus shape drawers, text writers, eraser/undoers and lurkers) spread over \
            the rooms and draw for the duration, showing their cursors as they go. Every second a progress line \
            goes to stderr; the report goes to stdout (--json for machines): sent, delivered, throughput, \
            end-to-end latency percentiles, rewinds, refusals, reconnects, and a convergence verdict per room.
            """)

    @Option(help: "The server, as HOST:PORT (ignored with --in-process).")
    var server = "127.0.0.1:7070"

    @Option(help: "How many bots.")
    var bots = 16

    @Option(help: "How many rooms they spread over.")
    var rooms = 2

    @Option(help: "How long they draw: 30, 30s, 2m.")
    var duration = "30s"

    @Option(help: "steady, bursty or thundering-herd.")
    var pattern = SwarmPattern.steady

    @Option(help: "Seed of the bots' drawing.")
    var seed: UInt64 = 1

    @Option(help: "Behaviours bots take in turn, comma-separated: scribbler, shapes, text, eraser, lurker.")
    var behaviors = "scribbler,scribbler,shapes,text,scribbler,eraser,scribbler,lurker"

    @Option(help: "Random disconnects per minute across the swarm.")
    var disconnectsPerMinute: Double = 0

    @Flag(help: "Run the server in this process too (loopback, a temporary SQLite file).")
    var inProcess = false

    @Option(help: "The server's /metrics URL, to report its memory (e.g. http://127.0.0.1:9100/metrics).")
    var metrics: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard bots >= 1, bots <= 10_000 else { throw ValidationError("--bots must be between 1 and 10000") }
        guard rooms >= 1, rooms <= bots else { throw ValidationError("--rooms must be between 1 and --bots") }
        guard try seconds() >= 1 else { throw ValidationError("--duration must be at least 1s") }
        _ = try behaviorList()
        guard disconnectsPerMinute >= 0 else { throw ValidationError("--disconnects-per-minute must be ≥ 0") }
    }

    /// `--duration` in seconds.
    func seconds() throws -> Int {
        let text = duration.lowercased()
        let (number, unit) =
            text.hasSuffix("m") ? (text.dropLast(), 60) : text.hasSuffix("s") ? (text.dropLast(), 1) : (text[...], 1)
        guard let value = Int(number) else {
            throw ValidationError("--duration takes 30, 30s or 2m, not \"\(duration)\"")
        }
        return value * unit
    }

    /// `--behaviors` as behaviours.
    func behaviorList() throws -> [BotBehavior] {
        let names = behaviors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let list = names.compactMap(BotBehavior.init(rawValue:))
        guard !list.isEmpty, list.count == names.count else {
            throw ValidationError("--behaviors takes a comma-separated list of scribbler, shapes, text, eraser, lurker")
        }
        return list
    }

    func run() async throws {
        var host = "127.0.0.1"
        var port = 0
        var inProcessServer: ScuttleboardServer?
        var serving: Task<Void, any Error>?
        if inProcess {
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.databasePath =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("scuttleboard-swarm-\(UUID().uuidString.prefix(8)).sqlite").path
            configuration.maxUpdatesPerSecond = 1_000_000
            configuration.maxConnections = max(1_000, bots + 10)
            let server = try ScuttleboardServer(configuration: configuration)
            (port, serving) = try await server.startInBackground()
            inProcessServer = server
        } else {
            let endpoint = try ConnectionOptions.parse(["--room", "unused", "--server", server]).endpoint()
            (host, port) = endpoint
        }
        var configuration = SwarmConfiguration(
            host: host, port: port, bots: bots, rooms: rooms, duration: try seconds(), pattern: pattern, seed: seed)
        configuration.disconnectsPerMinute = disconnectsPerMinute
        configuration.behaviors = try behaviorList()
        var authority: (@Sendable (String) async -> (Digest, UInt64)?)?
        if let server = inProcessServer {
            authority = { @Sendable name in
                guard let room = (try? await server.room(named: name)) ?? nil else { return nil }
                let digest = await room.digest
                let hash = await room.board.stateHash
                return (digest, hash)
            }
        }
        warn(
            "swarm: \(bots) bots in \(rooms) room(s) on \(host):\(port), \(pattern.rawValue), \(configuration.duration) s"
        )
        var report = try await Swarm(configuration: configuration).run(authority: authority) { progress in
            warn(
                "t=\(progress.second)s  delivered \(progress.delivered)/s  p99 \(progress.p99) ms  "
                    + "live \(progress.live)/\(bots)")
        }
        if let server = inProcessServer {
            report.serverMemoryBytes = residentMemory()
            await server.shutdown()
            _ = try? await serving?.value
        } else if let metrics {
            report.serverMemoryBytes = await Self.memory(from: metrics)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(Self.describe(report))
        }
        if !report.converged { throw ExitCode(2) }
    }

    /// The report for people.
    static func describe(_ report: SwarmReport) -> String {
        let latency = report.latency
        var lines = [
            "swarm report: \(report.bots) bots, \(report.rooms) room(s), \(report.pattern.rawValue), \(report.duration) s",
            "  sent        \(report.sent) actions",
            "  delivered   \(report.delivered) updates (\(Int(report.throughput)) per second)",
            "  latency     p50 \(latency.p50) ms · p90 \(latency.p90) ms · p99 \(latency.p99) ms · "
                + "p99.9 \(latency.p999) ms · max \(latency.max) ms",
            "  rewinds     \(report.rewinds) (mean depth \(report.replayDepthMean), deepest \(report.replayDepthMax))",
            "  refused     \(report.refused.isEmpty ? "none" : report.refused.map { "\($0.key) \($0.value)" }.joined(separator: ", "))",
            "  reconnects  \(report.reconnects)",
        ]
        if let memory = report.serverMemoryBytes { lines.append("  server RSS  \(memory / 1_048_576) MB") }
        for verdict in report.convergence {
            lines.append(
                "  \(verdict.room): \(verdict.bots) bots, \(verdict.converged ? "converged" : "DID NOT CONVERGE") "
                    + "(board \(verdict.stateHash))")
        }
        return lines.joined(separator: "\n")
    }

    /// `scuttleboard_resident_memory_bytes` from a /metrics page.
    static func memory(from url: String) async -> Int? {
        guard let url = URL(string: url), let (data, _) = try? await URLSession.shared.data(from: url) else {
            return nil
        }
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("scuttleboard_resident_memory_bytes ") {
            return Int(line.split(separator: " ").last ?? "")
        }
        return nil
    }
}

/// Writes a line to standard error at once.
func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// This process's resident memory, from /proc.
func residentMemory() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = Int(status.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
