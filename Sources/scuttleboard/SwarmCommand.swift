import ArgumentParser
import Bots
import Client
import Foundation
import FoundationNetworking
import Scuttlebutt
import Server
import Whiteboard

extension SwarmPattern: ExpressibleByArgument {}
extension SwarmReceivers: ExpressibleByArgument {}

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
            the run and its refusals are reported by reason. Throughput is measured over the real time the \
            deliveries took; with --rate the report says whether the bots kept to their schedule. SIGINT stops \
            the bots early and still reports. Exits 2 if a room diverged (the same updates gave different \
            boards), 3 if a room had not finished catching up within --settle, 1 if the server cannot be reached.
            """)

    /// The server (ignored with --in-process), or a cluster's nodes: bots spread over them.
    @OptionGroup var cluster: ServerOptions

    /// The server tried first.
    var server: Endpoint { cluster.server }

    @Option(
        parsing: .unconditional, help: "How many bots (1 to 10000).",
        transform: { try ArgumentParsing.integer($0, in: 1...10_000) })
    var bots = 16

    @Option(
        parsing: .unconditional, help: "How many rooms they spread over (1 to --bots).",
        transform: { try ArgumentParsing.integer($0, in: 1...10_000) })
    var rooms = 2

    @Option(
        parsing: .unconditional, help: "How long they draw, in whole seconds: 30, 30s, 2m, 1h.",
        transform: ArgumentParsing.duration)
    var duration: Duration = .seconds(30)

    @Option(help: "steady, bursty or thundering-herd.")
    var pattern = SwarmPattern.steady

    @Option(
        parsing: .unconditional,
        help: "Actions per second each drawing bot records, on a fixed schedule (a stated offered load).",
        transform: { try ArgumentParsing.number($0, in: 0.01...100_000) })
    var rate: Double?

    @Option(help: "Seed of the bots' drawing.")
    var seed: UInt64 = 1

    @Option(
        name: .customLong("keep"),
        help: ArgumentHelp(
            "Each drawing bot deletes its oldest drawing once more than this many of its own are on the board.",
            discussion: "As the demo's bots do: the board's content stays bounded, for long soak runs."),
        transform: { try ArgumentParsing.integer($0, in: 1...100_000) })
    var keep: Int?

    @Option(help: "Behaviours bots take in turn, comma-separated: scribbler, shapes, text, eraser, lurker.")
    var behaviors = "scribbler,scribbler,shapes,text,scribbler,eraser,scribbler,lurker"

    @Option(
        parsing: .unconditional, help: "Random disconnects per minute across the swarm (0 to 6000).",
        transform: { try ArgumentParsing.number($0, in: 0...6_000) })
    var disconnectsPerMinute: Double = 0

    @Option(
        parsing: .unconditional, help: "Milliseconds every bot holds back each message, each way (chaos).",
        transform: { UInt64(try ArgumentParsing.integer($0, in: 0...60_000)) })
    var latency: UInt64 = 0

    @Option(
        parsing: .unconditional,
        help: "Up to this many more milliseconds, at random per message (order is kept, as over TCP).",
        transform: { UInt64(try ArgumentParsing.integer($0, in: 0...60_000)) })
    var jitter: UInt64 = 0

    @Option(
        parsing: .unconditional,
        help: "How long rooms get to settle after the bots stop, before the verdict: 30s, 2m.",
        transform: ArgumentParsing.duration)
    var settle: Duration = .seconds(30)

    @Option(
        help: ArgumentHelp(
            "full or light: who receives the updates.",
            discussion: """
                full: every bot keeps a replica and applies every update, as a person's client does. light: \
                --full-per-room bots per room do that (convergence is checked on them and the server's board); \
                every other bot draws strokes at --rate and decodes, counts, stamps and acknowledges what it \
                receives with no replica, so the swarm measures the server, not itself. Light peers do not \
                reconnect, so they take no chaos options.
                """))
    var receivers = SwarmReceivers.full

    @Option(
        parsing: .unconditional, help: "With --receivers light: full-replica bots per room (1 to --bots).",
        transform: { try ArgumentParsing.integer($0, in: 1...10_000) })
    var fullPerRoom = 1

    @Option(
        help: ArgumentHelp(
            "With --receivers light: the server's HTTP port, where light peers connect over a WebSocket (/ws).",
            discussion: "The full-replica bots stay on the protocol's TCP port, so every room mixes the two.",
            valueName: "port"),
        transform: { try ArgumentParsing.port($0, allowingAny: false) })
    var websocketPort: Int?

    @Flag(help: "Run the server in this process too (loopback, a temporary SQLite file).")
    var inProcess = false

    @Option(help: "The server's /metrics URL, to report its memory (e.g. http://127.0.0.1:9100/metrics).")
    var metrics: String?

    @Option(
        help: ArgumentHelp(
            "The server's process id, to report its CPU per delivered update (read from /proc).",
            discussion: "Without it, the CPU is read from --metrics. With --in-process it is the whole process's."))
    var serverPID: Int32?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @OptionGroup var tls: TLSClientOptions

    func validate() throws {
        guard rooms <= bots else { throw ValidationError("--rooms must be at most --bots (\(bots))") }
        guard duration.components.attoseconds == 0 else {
            throw ValidationError("--duration of a swarm is whole seconds (30, 30s, 2m)")
        }
        _ = try behaviorList()
        if receivers == .light {
            guard rate != nil else {
                throw ValidationError("--receivers light needs --rate (light peers draw on a schedule)")
            }
            guard latency == 0, jitter == 0, disconnectsPerMinute == 0 else {
                throw ValidationError("--receivers light takes no chaos options (light peers do not reconnect)")
            }
            guard cluster.servers.count == 1 else {
                throw ValidationError(
                    "--receivers light takes one --server: light peers do not reconnect, so they cannot follow a cluster's redirects"
                )
            }
        }
        if inProcess && tls.tls { throw ValidationError("--tls connects to another server; drop --in-process") }
        if websocketPort != nil {
            guard receivers == .light else { throw ValidationError("--websocket-port needs --receivers light") }
            guard !inProcess else {
                throw ValidationError("--websocket-port connects to another server; drop --in-process")
            }
        }
        if let serverPID {
            guard !inProcess else { throw ValidationError("--server-pid measures another process; drop --in-process") }
            guard ProcessStatistics.cpuSeconds(of: serverPID) != nil else {
                throw ValidationError("--server-pid: no process \(serverPID) to read /proc/\(serverPID)/stat of")
            }
        }
        if let metrics {
            guard let url = URL(string: metrics), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--metrics takes an http URL such as http://127.0.0.1:9100/metrics")
            }
        }
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
        var host = server.host
        var port = server.port
        var inProcessServer: ScuttleboardServer?
        var serving: Task<Void, any Error>?
        var scratch: URL?
        defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
        if inProcess {
            let database = FileManager.default.temporaryDirectory
                .appendingPathComponent("scuttleboard-swarm-\(UUID().uuidString.prefix(8)).sqlite")
            scratch = database
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.databasePath = database.path
            configuration.maxUpdatesPerSecond = 1_000_000
            configuration.maxConnections = max(1_000, bots + 10)
            let server = try ScuttleboardServer(configuration: configuration)
            (port, serving) = try await server.startInBackground()
            host = "127.0.0.1"
            inProcessServer = server
        }
        var configuration = SwarmConfiguration(
            host: host, port: port, bots: bots, rooms: rooms, duration: Int(duration.components.seconds),
            pattern: pattern, seed: seed)
        configuration.disconnectsPerMinute = disconnectsPerMinute
        configuration.rate = rate
        configuration.keepsAtMost = keep
        configuration.settleTimeout = settle
        if latency > 0 || jitter > 0 {
            configuration.addedLatency = AddedLatency(milliseconds: latency, jitter: jitter)
        }
        configuration.behaviors = try behaviorList()
        configuration.receivers = receivers
        configuration.fullBotsPerRoom = fullPerRoom
        configuration.webSocketPort = websocketPort
        configuration.tls = inProcess ? nil : tls.clientTLS
        if !inProcess {
            configuration.otherServers = cluster.otherServers
        }
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
        } else if let metrics, let url = URL(string: metrics) {
            serverMetrics = { await Self.fetch(url) }
            guard await Self.fetch(url) != nil else { throw CommandFailure(message: "cannot read \(metrics)") }
        }
        var serverCPU: (@Sendable () async -> Double?)?
        if inProcess {
            serverCPU = { ProcessStatistics.cpuSeconds() }
        } else if let serverPID {
            serverCPU = { ProcessStatistics.cpuSeconds(of: serverPID) }
        }
        warn(
            "swarm: \(bots) bots in \(rooms) room(s) on \(host):\(port), \(pattern.rawValue), \(configuration.duration) s"
        )
        let stopRequest = StopRequest()
        defer { stopRequest.cancel() }
        let report: SwarmReport
        do {
            report = try await Swarm(configuration: configuration).run(
                authority: authority, serverMetrics: serverMetrics, serverCPU: serverCPU,
                shouldStop: { stopRequest.isRequested }
            ) { progress in
                warn(Self.describe(progress, bots: bots, inProcess: inProcess))
            }
        } catch let failure as ConnectionFailure {
            throw CommandFailure(message: "cannot start the swarm: \(failure)")
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
        if report.diverged { throw ExitCode(2) }
        if !report.converged { throw ExitCode(3) }
    }

    /// One progress line.
    static func describe(_ progress: SwarmProgress, bots: Int, inProcess: Bool) -> String {
        let refusals = progress.serverRefusals.map { "  server refusals \($0)" } ?? ""
        let memory =
            progress.serverMemoryBytes.map { "  \(inProcess ? "process" : "server") RSS \($0 / 1_048_576) MB" } ?? ""
        let phase = progress.settlingBehind.map { "  settling: \($0) updates still to deliver" } ?? ""
        return "t=\(progress.second)s  delivered \(progress.delivered)/s  p99 \(progress.p99) ms  "
            + "live \(progress.live)/\(bots)  reconnects \(progress.reconnects)\(refusals)\(memory)\(phase)"
    }

    /// The report for people. With the server `inProcess`, its memory is
    /// the whole process's, bots included.
    static func describe(_ report: SwarmReport, inProcess: Bool = false) -> String {
        let latency = report.latency
        let offered = report.offeredRatePerBot.map { " (offered: \(Self.number($0)) per second per drawing bot)" } ?? ""
        let drawn = Self.number(report.drawingSeconds)
        var lines = [
            "swarm report: \(report.bots) bots, \(report.rooms) room(s), \(report.pattern.rawValue), "
                + "\(report.duration) s asked, \(drawn) s drawn",
            "  sent        \(report.sent) actions\(offered)",
        ]
        if let generator = report.generator {
            let verdict =
                generator.fellBehind
                ? "FELL BEHIND its schedule: the figures below are for a lighter load than asked"
                : "kept to its schedule"
            lines.append(
                "  generator   \(Self.number(generator.achievedPerSecond)) actions/s of "
                    + "\(Self.number(generator.offeredPerSecond)) offered: \(verdict)")
        }
        lines += [
            "  delivered   \(report.delivered) updates in \(Self.number(report.deliverySeconds)) s "
                + "(\(Int(report.throughput)) per second)",
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
        if report.receivers == .light {
            let ended =
                report.lightSessionsEnded.isEmpty
                ? "none ended early" : "ended early: \(Self.describe(report.lightSessionsEnded))"
            lines.append(
                "  receivers   \(report.lightPeers) light peers\(report.lightOverWebSocket ? " over WebSocket" : "") "
                    + "(no replica; \(ended); \(report.lightGaps) out of order), "
                    + "\(report.bots - report.lightPeers) full replicas")
            if report.lightReceivedInSnapshots > 0 {
                lines.append(
                    "  snapshots   \(report.lightReceivedInSnapshots) updates reached light peers inside a snapshot "
                        + "(their links fell behind the room's horizon), not counted as delivered")
            }
        }
        if report.drawingSeconds > Double(report.duration) * 1.1 {
            lines.append(
                "  note        the bots drew \(drawn) s instead of \(report.duration) s: the machine was too busy to stop them on time"
            )
        }
        if let memory = report.serverMemoryBytes {
            let samples = report.serverMemorySamples.map(\.bytes)
            let range = samples.min().map { "; \($0 / 1_048_576)–\(samples.max()! / 1_048_576) MB over the run" } ?? ""
            lines.append(
                "  \(inProcess ? "process RSS (server and bots)" : "server RSS") \(memory / 1_048_576) MB at the end\(range)"
            )
        }
        if let cpu = report.serverCPUSeconds, let perUpdate = report.serverCPUMicrosecondsPerDelivered {
            lines.append(
                "  \(inProcess ? "process CPU (server and bots)" : "server CPU") \(Self.number(cpu)) s: "
                    + "\(Self.number(perUpdate)) µs per delivered update")
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
                    + "\(Self.number(chaos.disconnectsPerMinute)) disconnects/min")
        }
        for verdict in report.convergence {
            let outcome =
                switch verdict.outcome {
                case .converged: "converged"
                case .behind:
                    "DID NOT FINISH CATCHING UP: \(verdict.missing) updates still on their way when the settle time ran out"
                case .diverged: "DID NOT CONVERGE: the same updates gave different boards"
                }
            lines.append("  \(verdict.room): \(verdict.bots) bots, \(outcome) (board \(verdict.stateHash))")
        }
        return lines.joined(separator: "\n")
    }

    /// A number as people read it: whole when it is, else one decimal.
    static func number(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 || value >= 100
            ? String(Int(value.rounded())) : String(format: "%.1f", tenths / 10)
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
    try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
}
