import ArgumentParser
import Bots
import Client
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
            Chaos: --latency/--jitter hold back every bot's messages each way; --disconnects-per-minute drops \
            random bots' connections. With --metrics (or --in-process) the server's memory is sampled through \
            the run and its refusals are reported by reason. Exits 2 if a room did not converge.
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

    @Option(help: "Actions per second each drawing bot records, on a fixed schedule (a stated offered load).")
    var rate: Double?

    @Option(help: "Seed of the bots' drawing.")
    var seed: UInt64 = 1

    @Option(help: "Behaviours bots take in turn, comma-separated: scribbler, shapes, text, eraser, lurker.")
    var behaviors = "scribbler,scribbler,shapes,text,scribbler,eraser,scribbler,lurker"

    @Option(help: "Random disconnects per minute across the swarm.")
    var disconnectsPerMinute: Double = 0

    @Option(help: "Milliseconds every bot holds back each message, each way (chaos).")
    var latency: UInt64 = 0

    @Option(help: "Up to this many more milliseconds, at random per message (order is kept, as over TCP).")
    var jitter: UInt64 = 0

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
        if let rate, !(rate > 0 && rate <= 100_000) {
            throw ValidationError("--rate must be between 0 and 100000 actions per second")
        }
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
        configuration.rate = rate
        if latency > 0 || jitter > 0 {
            configuration.addedLatency = AddedLatency(milliseconds: latency, jitter: jitter)
        }
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
        var serverMetrics: (@Sendable () async -> String?)?
        if let server = inProcessServer {
            serverMetrics = { await server.metricsText() }
        } else if let metrics {
            guard let url = URL(string: metrics) else { throw ValidationError("--metrics is not a URL: \(metrics)") }
            serverMetrics = { await Self.fetch(url) }
            guard await Self.fetch(url) != nil else { throw ValidationError("cannot read \(metrics)") }
        }
        warn(
            "swarm: \(bots) bots in \(rooms) room(s) on \(host):\(port), \(pattern.rawValue), \(configuration.duration) s"
        )
        let report = try await Swarm(configuration: configuration).run(
            authority: authority, serverMetrics: serverMetrics
        ) { progress in
            let refusals = progress.serverRefusals.map { "  server refusals \($0)" } ?? ""
            let memory =
                progress.serverMemoryBytes.map { "  \(inProcess ? "process" : "server") RSS \($0 / 1_048_576) MB" }
                ?? ""
            warn(
                "t=\(progress.second)s  delivered \(progress.delivered)/s  p99 \(progress.p99) ms  "
                    + "live \(progress.live)/\(bots)  reconnects \(progress.reconnects)\(refusals)\(memory)")
        }
        if let server = inProcessServer {
            await server.shutdown()
            _ = try? await serving?.value
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(Self.describe(report, inProcess: inProcess))
        }
        if !report.converged { throw ExitCode(2) }
    }

    /// The report for people. With the server `inProcess`, its memory is
    /// the whole process's, bots included.
    static func describe(_ report: SwarmReport, inProcess: Bool = false) -> String {
        let latency = report.latency
        let offered = report.offeredRatePerBot.map { " (offered: \(Int($0)) per second per drawing bot)" } ?? ""
        var lines = [
            "swarm report: \(report.bots) bots, \(report.rooms) room(s), \(report.pattern.rawValue), \(report.duration) s",
            "  sent        \(report.sent) actions\(offered)",
            "  delivered   \(report.delivered) updates (\(Int(report.throughput)) per second)",
            "  latency     p50 \(latency.p50) ms · p90 \(latency.p90) ms · p99 \(latency.p99) ms · "
                + "p99.9 \(latency.p999) ms · max \(latency.max) ms",
            "  rewinds     \(report.rewinds) (mean depth \(report.replayDepthMean), deepest \(report.replayDepthMax))",
            "  replays     "
                + (report.replayDepths.isEmpty
                    ? "none"
                    : report.replayDepths.map { "≤\($0.atMost): \($0.count)" }.joined(separator: " · ")
                        + " (applies each)"),
            "  refused     \(Self.describe(report.refused)) by bots · \(Self.describe(report.serverRefusals)) by the server",
            "  reconnects  \(report.reconnects)",
        ]
        if let memory = report.serverMemoryBytes {
            let samples = report.serverMemorySamples.map(\.bytes)
            let range = samples.min().map { "; \($0 / 1_048_576)–\(samples.max()! / 1_048_576) MB over the run" } ?? ""
            lines.append(
                "  \(inProcess ? "process RSS (server and bots)" : "server RSS") \(memory / 1_048_576) MB at the end\(range)"
            )
        }
        let samples = report.serverMemorySamples
        if samples.count > 1 {
            let picks = Set((0..<6).map { $0 * (samples.count - 1) / 5 })
            lines.append("  over the run (RSS · updates held above the horizon · board elements):")
            for sample in picks.sorted().map({ samples[$0] }) {
                let history = sample.retainedUpdates.map(String.init) ?? "?"
                let elements = sample.boardElements.map(String.init) ?? "?"
                lines.append("    t=\(sample.second)s  \(sample.bytes / 1_048_576) MB · \(history) · \(elements)")
            }
        }
        let chaos = report.chaos
        if chaos.latency > 0 || chaos.jitter > 0 || chaos.disconnectsPerMinute > 0 {
            lines.append(
                "  chaos       +\(chaos.latency) ms (jitter \(chaos.jitter) ms) each way, "
                    + "\(chaos.disconnectsPerMinute) disconnects/min")
        }
        for verdict in report.convergence {
            lines.append(
                "  \(verdict.room): \(verdict.bots) bots, \(verdict.converged ? "converged" : "DID NOT CONVERGE") "
                    + "(board \(verdict.stateHash))")
        }
        return lines.joined(separator: "\n")
    }

    /// Counts by reason, as words.
    static func describe(_ counts: [String: Int]) -> String {
        counts.isEmpty
            ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// A /metrics page's text, or nil if it cannot be read.
    static func fetch(_ url: URL) async -> String? {
        guard let (data, response) = try? await URLSession.shared.data(from: url),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Writes a line to standard error at once.
func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
