import Client
import Foundation
import Histogram
import NIOConcurrencyHelpers
import Scuttlebutt
import Whiteboard
import Workloads

/// How a swarm's load arrives.
public enum SwarmPattern: String, Sendable, Hashable, CaseIterable, Codable {
    /// Bots join over a second and draw at a person's pace.
    case steady
    /// Bots join over a second and draw flat out for half a second, then rest 1.5 s.
    case bursty
    /// Every bot joins at the same instant and draws flat out.
    case thunderingHerd = "thundering-herd"
}

/// Who receives a swarm's updates.
public enum SwarmReceivers: String, Sendable, Hashable, CaseIterable, Codable {
    /// Every bot is a full replica: it applies every update to its board,
    /// as a person's client does.
    case full
    /// A few full-replica bots per room (the sample convergence is checked
    /// on, with the server's board); every other bot is a light peer that
    /// draws strokes and decodes, counts, stamps and acknowledges what it
    /// receives, with no replica, so the swarm measures the server rather
    /// than its own bots. Needs a stated rate.
    case light
}

/// What a swarm run is told.
public struct SwarmConfiguration: Sendable {
    /// The server's host.
    public var host: String
    /// The server's port.
    public var port: Int
    /// How many bots.
    public var bots: Int
    /// How many rooms the bots spread over (bot i joins room i mod rooms).
    public var rooms: Int
    /// Seconds of drawing.
    public var duration: Int
    /// How the load arrives.
    public var pattern: SwarmPattern
    /// The seed of every bot's drawing.
    public var seed: UInt64
    /// Random disconnects per minute across the swarm (chaos).
    public var disconnectsPerMinute: Double = 0
    /// Latency every bot adds to its own link, each way (chaos).
    public var addedLatency: AddedLatency?
    /// Actions per second each drawing bot records on a fixed schedule,
    /// instead of the pattern's pacing: a stated offered load. The pattern
    /// still decides how bots join.
    public var rate: Double?
    /// When set, each full-replica drawing bot deletes its oldest drawing
    /// once more than this many of its own are on the board (a soak whose
    /// content stays bounded).
    public var keepsAtMost: Int?
    /// Full replicas everywhere, or light peers around a sample of them.
    public var receivers: SwarmReceivers = .full
    /// TLS to the server, for every bot; nil for plain TCP.
    public var tls: ClientTLS?
    /// The other nodes of a cluster: full-replica bots spread over all of
    /// them (bot i starts at node i mod count), fall back to the next when
    /// one cannot be reached, and follow redirects to a room's node.
    public var otherServers: [ServerAddress] = []
    /// With light receivers: the server's HTTP port, where light peers speak
    /// the protocol over a WebSocket (`GET /ws`) instead of TCP; the
    /// full-replica bots stay on TCP, so each room mixes the two.
    public var webSocketPort: Int?
    /// With light receivers: the full-replica bots each room keeps (its
    /// first ones), on which, with the server's board, convergence is checked.
    public var fullBotsPerRoom = 1
    /// How long, after the bots stop drawing, every room gets to settle
    /// (every bot holding every update) before the verdict is given.
    public var settleTimeout: Duration = .seconds(30)
    /// The behaviours bots take in turn (bot i gets entry i mod count):
    /// scribblers mostly, a few of everything else by default.
    public var behaviors: [BotBehavior] = [
        .scribbler, .scribbler, .shapes, .text, .scribbler, .eraser, .scribbler, .lurker,
    ]

    /// A configuration with no chaos.
    public init(host: String, port: Int, bots: Int, rooms: Int, duration: Int, pattern: SwarmPattern, seed: UInt64) {
        self.host = host
        self.port = port
        self.bots = bots
        self.rooms = rooms
        self.duration = duration
        self.pattern = pattern
        self.seed = seed
    }

    /// The room bot `index` joins.
    public func room(of index: Int) -> String { "swarm-\(index % rooms)" }

    /// What bot `index` does.
    public func behavior(of index: Int) -> BotBehavior { behaviors[index % behaviors.count] }

    /// Whether bot `index` is a light peer (no replica) rather than a full one.
    public func isLight(_ index: Int) -> Bool { receivers == .light && index / rooms >= fullBotsPerRoom }
}

/// One second of a running swarm.
public struct SwarmProgress: Sendable {
    /// Seconds since the start.
    public var second: Int
    /// Updates delivered to bots in that second.
    public var delivered: Int
    /// The 99th-percentile end-to-end latency so far, in milliseconds.
    public var p99: UInt64
    /// Bots live now.
    public var live: Int
    /// Reconnects so far.
    public var reconnects: Int
    /// Sessions the server ended and updates it rejected so far, when its
    /// metrics can be read.
    public var serverRefusals: Int?
    /// The server's resident memory at the latest sample, when known.
    public var serverMemoryBytes: Int?
    /// After the bots stopped drawing: updates some bot still lacks (nil
    /// while they draw).
    public var settlingBehind: Int?
}

/// What a swarm run measured.
public struct SwarmReport: Sendable, Codable {
    /// End-to-end latency percentiles, in milliseconds.
    public struct Latency: Sendable, Codable {
        /// Median.
        public var p50: UInt64
        /// 90th percentile.
        public var p90: UInt64
        /// 99th percentile.
        public var p99: UInt64
        /// 99.9th percentile.
        public var p999: UInt64
        /// The largest.
        public var max: UInt64
    }

    /// How a room ended up.
    public enum Outcome: String, Sendable, Codable {
        /// Every bot (and the server, when it could be asked) holds the same
        /// updates and the same board.
        case converged
        /// Some bot still lacked updates when the settle time ran out: the
        /// room was still catching up (a load the machine could not keep
        /// up with), which is not a disagreement.
        case behind
        /// Every bot holds the same updates but not the same board: a bug.
        case diverged
    }

    /// One room's verdict.
    public struct RoomVerdict: Sendable, Codable {
        /// The room.
        public var room: String
        /// Bots in it.
        public var bots: Int
        /// Converged, still behind, or diverged.
        public var outcome: Outcome
        /// Updates the bots (and the server) still lacked, summed, when behind.
        public var missing: Int
        /// The board hash most bots hold.
        public var stateHash: String

        /// Whether every bot holds the same updates and the same board.
        public var converged: Bool { outcome == .converged }
    }

    /// What the load generator did against what it was asked to do.
    public struct Generator: Sendable, Codable {
        /// Actions per second all drawing bots together were scheduled to
        /// record (`rate` × drawing bots).
        public var offeredPerSecond: Double
        /// Actions per second they recorded.
        public var achievedPerSecond: Double
        /// Whether they recorded less than 90% of the schedule: the figures
        /// then describe a lighter load than the one asked for.
        public var fellBehind: Bool

        /// Judges `sent` actions in `seconds` against `drawingBots` bots
        /// each scheduled at `rate` actions a second; each bot's schedule
        /// may lose one action at the end of the run.
        public init(rate: Double, drawingBots: Int, sent: Int, seconds: Double) {
            let seconds = max(0.001, seconds)
            offeredPerSecond = rate * Double(drawingBots)
            achievedPerSecond = Double(sent) / seconds
            fellBehind = Double(sent) < 0.9 * (offeredPerSecond * seconds - Double(drawingBots))
        }
    }

    /// The configuration, as words.
    public var pattern: SwarmPattern
    /// Bots.
    public var bots: Int
    /// Rooms.
    public var rooms: Int
    /// Seconds of drawing asked for.
    public var duration: Int
    /// Seconds the bots actually drew (the clock, not the count of ticks).
    public var drawingSeconds: Double
    /// Seconds from the start to the last delivery (catching up included):
    /// what ``throughput`` divides by.
    public var deliverySeconds: Double
    /// The offered load, when stated (`rate`): actions per second each
    /// drawing bot was scheduled to record.
    public var offeredRatePerBot: Double?
    /// The load generator against its schedule, when a rate was stated.
    public var generator: Generator?
    /// Actions the bots recorded.
    public var sent: Int
    /// Updates delivered to bots (each update counts once per receiving bot);
    /// only updates stamped since the run began, not a room's earlier history.
    public var delivered: Int
    /// Delivered updates per second, over ``deliverySeconds``.
    public var throughput: Double
    /// End-to-end latency: recorded by one bot until applied by another.
    public var latency: Latency
    /// Rewinds across all bot replicas.
    public var rewinds: Int
    /// Applies replayed per rewind, on average.
    public var replayDepthMean: Int
    /// The deepest replay.
    public var replayDepthMax: Int
    /// The distribution of replay depths: replays of at most `atMost`
    /// applies (and more than the bucket before).
    public var replayDepths: [ReplayDepthBucket]
    /// Actions the board refused before they were sent, by reason.
    public var refused: [String: Int]
    /// Sessions the server ended (`session: reason`) and updates it
    /// rejected (`update: reason`), from its metrics, when it could be asked.
    public var serverRefusals: [String: Int] = [:]
    /// Reconnects (connections that reached live after the first).
    public var reconnects: Int
    /// Per room: did everyone end up with the same board?
    public var convergence: [RoomVerdict]
    /// Full replicas everywhere, or light peers around a sample of them.
    public var receivers: SwarmReceivers = .full
    /// TLS to the server, for every bot; nil for plain TCP.
    public var tls: ClientTLS?
    /// Light peers (no replica) among the bots.
    public var lightPeers = 0
    /// Whether the light peers spoke the protocol over WebSocket.
    public var lightOverWebSocket = false
    /// Light peers' sessions that ended before the run did, by reason (they
    /// do not reconnect).
    public var lightSessionsEnded: [String: Int] = [:]
    /// Updates light peers received out of their origin's order: none from
    /// an honest server.
    public var lightGaps = 0
    /// Actions light peers recorded (part of ``sent``).
    public var lightRecorded = 0
    /// Updates light peers received, each once (part of ``delivered``):
    /// counted as they arrive, so exact however busy the machine.
    public var lightReceived = 0
    /// Updates light peers got inside a snapshot instead, their link having
    /// fallen behind the room's horizon (not part of ``delivered``).
    public var lightReceivedInSnapshots = 0
    /// The server's resident memory at the end, in bytes, when known.
    public var serverMemoryBytes: Int?
    /// The server's resident memory as the run went on, when known.
    public var serverMemorySamples: [MemorySample] = []
    /// CPU seconds the server used over the run (from before the first bot
    /// connected until every room settled), when known.
    public var serverCPUSeconds: Double?
    /// Server CPU per delivered update, in microseconds: the server's cost
    /// of fan-out, all in (its sockets, its rooms, its disk).
    public var serverCPUMicrosecondsPerDelivered: Double? {
        serverCPUSeconds.map { delivered > 0 ? $0 * 1_000_000 / Double(delivered) : 0 }
    }
    /// The chaos the run had: added latency and jitter per message each way
    /// (milliseconds), and random disconnects per minute.
    public var chaos: Chaos

    /// The run's chaos settings.
    public struct Chaos: Sendable, Codable {
        /// Milliseconds each message was held back, each way.
        public var latency: UInt64
        /// Up to this many milliseconds more, at random.
        public var jitter: UInt64
        /// Random disconnects per minute across the swarm.
        public var disconnectsPerMinute: Double
    }

    /// Replays of at most `atMost` applies, and more than the bucket before.
    public struct ReplayDepthBucket: Sendable, Codable, Hashable {
        /// The bucket's upper bound, in applies: a power of two.
        public var atMost: Int
        /// Replays in it.
        public var count: Int
    }

    /// The server's resident memory at one moment of the run.
    public struct MemorySample: Sendable, Codable, Hashable {
        /// Seconds since the bots started.
        public var second: Int
        /// Resident memory, in bytes.
        public var bytes: Int
        /// Updates the server held above its rooms' horizons (history).
        public var retainedUpdates: Int?
        /// Elements on the server's boards (content).
        public var boardElements: Int?

        /// A sample.
        public init(second: Int, bytes: Int, retainedUpdates: Int? = nil, boardElements: Int? = nil) {
            self.second = second
            self.bytes = bytes
            self.retainedUpdates = retainedUpdates
            self.boardElements = boardElements
        }
    }

    /// Whether every room converged.
    public var converged: Bool { convergence.allSatisfy(\.converged) }
    /// Whether some room diverged: its bots hold the same updates but not
    /// the same board (a bug, never a matter of load).
    public var diverged: Bool { convergence.contains { $0.outcome == .diverged } }
}

/// A swarm of bot peers against one server: load, measurement and a
/// convergence verdict.
public struct Swarm: Sendable {
    /// What it runs.
    public let configuration: SwarmConfiguration

    /// A swarm.
    public init(configuration: SwarmConfiguration) {
        self.configuration = configuration
    }

    /// Shared measurements, updated by every bot's event task.
    private final class Measurements: Sendable {
        struct State {
            var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)
            var delivered = 0
            /// When the latest counted update arrived.
            var lastDelivery: ContinuousClock.Instant?
        }

        let state = NIOLockedValueBox(State())
        /// Updates stamped before this (wall-clock milliseconds) are history
        /// a joining bot catches up on, not live traffic: not counted.
        let start: UInt64

        init(start: UInt64) {
            self.start = start
        }

        func record(_ stamps: [Timestamp], now: UInt64) {
            state.withLockedValue { state in
                for stamp in stamps where stamp.milliseconds >= start {
                    state.delivered += 1
                    state.lastDelivery = .now
                    let latency = now >= stamp.milliseconds ? now - stamp.milliseconds : 0
                    _ = state.histogram.record(min(latency, 3_600_000))
                }
            }
        }
    }

    /// Runs the swarm: checks that the server is there, lets the bots join
    /// and draw for the duration (by the clock), stops them, and waits (at
    /// most ``SwarmConfiguration/settleTimeout``) until every room has
    /// settled.
    /// - Parameters:
    ///   - authority: The server's view of a room (its digest and board
    ///     hash), when the server runs in this process.
    ///   - serverMetrics: The server's Prometheus metrics text, when it can
    ///     be read: its memory is sampled as the run goes (every second, or
    ///     sixty times over longer runs), its refusals read at the end.
    ///   - serverCPU: CPU seconds the server process has used so far, read
    ///     at the start and the end; without it, read from `serverMetrics`.
    ///   - shouldStop: Asked once a second; true ends the drawing early
    ///     (the report then covers the time actually drawn).
    ///   - progress: Called once a second while bots draw and settle.
    /// - Throws: ``ConnectionFailure`` when the server cannot be reached.
    public func run(
        authority: (@Sendable (String) async -> (Digest, UInt64)?)? = nil,
        serverMetrics: (@Sendable () async -> String?)? = nil,
        serverCPU: (@Sendable () async -> Double?)? = nil,
        shouldStop: () -> Bool = { false },
        progress: @Sendable (SwarmProgress) -> Void = { _ in }
    ) async throws -> SwarmReport {
        try await BoardClient.checkReachable(host: configuration.host, port: configuration.port)
        func readMetrics() async -> ServerMetrics? {
            await serverMetrics?().map(ServerMetrics.init(prometheusText:))
        }
        func readCPU() async -> Double? {
            if let serverCPU { return await serverCPU() }
            return await readMetrics()?.cpuSeconds
        }
        let cpuAtStart = await readCPU()
        var memorySamples: [SwarmReport.MemorySample] = []
        let sampleEvery = max(1, configuration.duration / 60)
        let measurements = Measurements(start: SystemWallClock().milliseconds())
        // Full-replica bots, by index; light peers join below.
        let fullBots = (0..<configuration.bots).filter { !configuration.isLight($0) }
        let clients: [BoardClient] = try fullBots.map { index in
            let behavior = configuration.behavior(of: index)
            let nodes = [ServerAddress(host: configuration.host, port: configuration.port)] + configuration.otherServers
            let first = nodes[index % nodes.count]
            var settings = ClientConfiguration(
                host: first.host, port: first.port, room: configuration.room(of: index), name: "bot\(index)")
            settings.otherServers = Array(nodes[(index % nodes.count + 1)...] + nodes[..<(index % nodes.count)])
            settings.role = behavior == .lurker ? .viewer : .bot
            settings.minReconnectDelay = 50
            settings.maxReconnectDelay = 2_000
            settings.addedLatency = configuration.addedLatency
            settings.tls = configuration.tls
            return try BoardClient(configuration: settings)
        }
        var watchers: [Task<Void, Never>] = []
        for client in clients {
            let events = await client.events()
            watchers.append(
                Task {
                    for await event in events {
                        guard case .received(let stamps) = event else { continue }
                        measurements.record(stamps, now: SystemWallClock().milliseconds())
                    }
                })
        }
        let start = ContinuousClock.now
        let connections = NIOLockedValueBox<[Int: Task<Void, Never>]>([:])
        var lightPeers: [(index: Int, peer: LightPeer)] = []
        let lightTLS = try configuration.receivers == .full ? nil : configuration.tls?.makeContext()
        for index in 0..<configuration.bots {
            if configuration.pattern != .thunderingHerd {
                try await Task.sleep(for: .milliseconds(1_000 / max(1, configuration.bots)))
            }
            if configuration.isLight(index) {
                let settings = LightPeer.Settings(
                    host: configuration.host, port: configuration.webSocketPort ?? configuration.port,
                    room: configuration.room(of: index), name: "bot\(index)", seed: configuration.seed &+ UInt64(index),
                    rate: configuration.rate ?? 0, area: Self.area, tls: lightTLS,
                    webSocketPath: configuration.webSocketPort == nil ? nil : "/ws")
                do {
                    let peer = try await LightPeer.connect(settings) { stamps in
                        measurements.record(stamps, now: SystemWallClock().milliseconds())
                    }
                    lightPeers.append((index, peer))
                } catch {
                    throw ConnectionFailure(error, host: configuration.host, port: settings.port)
                }
            } else if let position = fullBots.firstIndex(of: index) {
                let client = clients[position]
                connections.withLockedValue { $0[position] = Task { await client.run() } }
            }
        }
        // Drawing starts once every bot is in its room (at most 10 s): a
        // bot that joined after the room folded what it missed would get it
        // as a snapshot, which no delivery count can see.
        let joinDeadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < joinDeadline {
            var joined = lightPeers.allSatisfy { $0.peer.current.open }
            for client in clients {
                let state = await client.state
                // A refusal retrying cannot change (plaintext to a TLS-only
                // server, a room with tokens): there is no swarm to run.
                if case .refused(let reason) = state {
                    for task in connections.withLockedValue({ $0.values }) { task.cancel() }
                    throw ConnectionFailure.other(
                        host: configuration.host, port: configuration.port, "the server refused the bots: \(reason)")
                }
                joined = joined && state == .live
            }
            if joined { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let pacing: BotPacing =
            switch (configuration.pattern, configuration.rate) {
            case (_, let rate?): .rate(actionsPerSecond: rate)
            case (.steady, nil): .asDrawn
            case (.bursty, nil): .bursty(burst: 500, rest: 1_500)
            case (.thunderingHerd, nil): .flatOut
            }
        let drawingStart = ContinuousClock.now
        var drawers: [Task<Bot.Statistics, Never>] = []
        for (position, client) in clients.enumerated() {
            let index = fullBots[position]
            let behavior = configuration.behavior(of: index)
            let bot = Bot(
                client: client,
                brain: BotBrain(
                    behavior: behavior, seed: configuration.seed &+ UInt64(index), area: Self.area, stepDelay: 20),
                name: "bot\(index)", color: UInt8(1 + index % 15), keepsAtMost: configuration.keepsAtMost)
            drawers.append(Task { await bot.run(pacing: pacing) })
        }
        for (_, peer) in lightPeers { peer.startDrawing() }
        let chaos = Task {
            guard configuration.disconnectsPerMinute > 0 else { return }
            var random = SplitMix64(seed: configuration.seed ^ 0xC4A05)
            let interval = 60_000 / configuration.disconnectsPerMinute
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(UInt64(interval)))
                guard !Task.isCancelled else { return }
                let index = Int.random(in: 0..<clients.count, using: &random)
                let client = clients[index]
                connections.withLockedValue { tasks in
                    tasks[index]?.cancel()
                    tasks[index] = Task {
                        // Give the old connection a moment to close first.
                        try? await Task.sleep(for: .milliseconds(10))
                        await client.run()
                    }
                }
            }
        }
        var lastDelivered = 0
        var refusedSoFar: Int?
        func status(second: Int, behind: Int?) async -> SwarmProgress {
            let (delivered, p99) = measurements.state.withLockedValue {
                ($0.delivered, $0.histogram.totalCount > 0 ? $0.histogram.valueAtPercentile(99) : 0)
            }
            var live = lightPeers.count { $0.peer.current.open }
            var reconnects = 0
            for client in clients {
                if await client.state == .live { live += 1 }
                reconnects += max(0, await client.liveConnections - 1)
            }
            defer { lastDelivered = delivered }
            return SwarmProgress(
                second: second, delivered: delivered - lastDelivered, p99: p99, live: live, reconnects: reconnects,
                serverRefusals: refusedSoFar, serverMemoryBytes: memorySamples.last?.bytes, settlingBehind: behind)
        }
        // The bots stop by the clock, however late the progress ticks run on
        // a loaded machine: a run never draws longer than asked.
        let drawingEnd = drawingStart + .seconds(configuration.duration)
        let stoppedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
        let drawing = drawers
        let stopDrawing = { @Sendable in
            stoppedAt.withLockedValue { stopped in
                guard stopped == nil else { return }
                stopped = .now
                for drawer in drawing { drawer.cancel() }
            }
        }
        let stopper = Task {
            try? await Task.sleep(until: drawingEnd, clock: .continuous)
            stopDrawing()
        }
        var second = 0
        while second < configuration.duration && !shouldStop() {
            second += 1
            try await Task.sleep(until: drawingStart + .seconds(second), clock: .continuous)
            if second % sampleEvery == 0, let metrics = await readMetrics(), let memory = metrics.residentMemoryBytes {
                memorySamples.append(
                    .init(
                        second: second, bytes: memory, retainedUpdates: metrics.retainedUpdates,
                        boardElements: metrics.boardElements))
                refusedSoFar = metrics.sessionsEnded.values.reduce(0, +) + metrics.updatesRejected.values.reduce(0, +)
            }
            progress(await status(second: second, behind: nil))
        }
        stopDrawing()
        for (_, peer) in lightPeers { await peer.stopDrawing() }
        stopper.cancel()
        chaos.cancel()
        var sent = lightPeers.reduce(0) { $0 + $1.peer.current.recorded }
        var refusedCount = 0
        var scheduledBots = lightPeers.count
        for (position, drawer) in drawers.enumerated() {
            let statistics = await drawer.value
            sent += statistics.recorded
            refusedCount += statistics.refused
            if configuration.behavior(of: fullBots[position]) != .lurker { scheduledBots += 1 }
        }
        let drawingSeconds = ((stoppedAt.withLockedValue { $0 } ?? .now) - drawingStart) / .seconds(1)
        let convergence = try await settle(
            clients, fullBots: fullBots, lightPeers: lightPeers, authority: authority
        ) { behind in
            second += 1
            progress(await status(second: second, behind: behind))
        }
        // Every delivery so far counts: the watchers may still be behind on
        // their clients' events (a busy machine), so let them drain first.
        for client in clients { await client.finishEvents() }
        for watcher in watchers { await watcher.value }
        let snapshot = measurements.state.withLockedValue { $0 }
        var rewinds = 0
        var deepest = 0
        var depths = ReplayDepthHistogram()
        var replayed = 0
        var reconnects = 0
        for client in clients {
            let statistics = await client.timelineStatistics
            rewinds += statistics.rewinds
            replayed += statistics.replayedApplies
            deepest = max(deepest, statistics.deepestReplay)
            depths.merge(statistics.replayDepths)
            reconnects += max(0, await client.liveConnections - 1)
        }
        // Read before the bots leave: their goodbyes are not the server's doing.
        let finalMetrics = await readMetrics()
        let cpuAtEnd = await readCPU()
        connections.withLockedValue { tasks in tasks.values.forEach { $0.cancel() } }
        var lightSessionsEnded: [String: Int] = [:]
        var lightGaps = 0
        var lightRecorded = 0
        var lightReceived = 0
        var lightReceivedInSnapshots = 0
        for (_, peer) in lightPeers {
            let status = peer.current
            if let ended = status.ended { lightSessionsEnded[ended, default: 0] += 1 }
            lightGaps += status.gaps
            lightRecorded += status.recorded
            lightReceived += status.received
            lightReceivedInSnapshots += status.receivedInSnapshots
            await peer.close()
        }
        let histogram = snapshot.histogram
        let deliverySeconds = max(0.001, ((snapshot.lastDelivery ?? .now) - start) / .seconds(1))
        var serverRefusals: [String: Int] = [:]
        for (reason, count) in finalMetrics?.sessionsEnded ?? [:] { serverRefusals["session: \(reason)"] = count }
        for (reason, count) in finalMetrics?.updatesRejected ?? [:] { serverRefusals["update: \(reason)"] = count }
        let generator = configuration.rate.map {
            SwarmReport.Generator(rate: $0, drawingBots: scheduledBots, sent: sent, seconds: drawingSeconds)
        }
        return SwarmReport(
            pattern: configuration.pattern, bots: configuration.bots, rooms: configuration.rooms,
            duration: configuration.duration, drawingSeconds: drawingSeconds, deliverySeconds: deliverySeconds,
            offeredRatePerBot: configuration.rate, generator: generator, sent: sent,
            delivered: snapshot.delivered,
            throughput: Double(snapshot.delivered) / deliverySeconds,
            latency: .init(
                p50: histogram.valueAtPercentile(50), p90: histogram.valueAtPercentile(90),
                p99: histogram.valueAtPercentile(99), p999: histogram.valueAtPercentile(99.9),
                max: histogram.totalCount > 0 ? histogram.max : 0),
            rewinds: rewinds, replayDepthMean: rewinds > 0 ? replayed / rewinds : 0, replayDepthMax: deepest,
            replayDepths: depths.buckets.map { .init(atMost: $0.atMost, count: $0.count) },
            refused: refusedCount > 0 ? ["board validation": refusedCount] : [:], serverRefusals: serverRefusals,
            reconnects: reconnects, convergence: convergence, receivers: configuration.receivers,
            lightPeers: lightPeers.count, lightOverWebSocket: configuration.webSocketPort != nil,
            lightSessionsEnded: lightSessionsEnded, lightGaps: lightGaps,
            lightRecorded: lightRecorded, lightReceived: lightReceived,
            lightReceivedInSnapshots: lightReceivedInSnapshots,
            serverMemoryBytes: finalMetrics?.residentMemoryBytes,
            serverMemorySamples: memorySamples,
            serverCPUSeconds: cpuAtStart.flatMap { start in cpuAtEnd.map { $0 - start } },
            chaos: .init(
                latency: configuration.addedLatency?.milliseconds ?? 0, jitter: configuration.addedLatency?.jitter ?? 0,
                disconnectsPerMinute: configuration.disconnectsPerMinute))
    }

    /// Waits until, room by room, every bot (and the server, if known)
    /// holds the same updates, at most ``SwarmConfiguration/settleTimeout``
    /// in all, reporting how far behind they are once a second; then
    /// compares the boards of the full replicas and the server (light
    /// peers hold no board, so they count only towards what is missing).
    private func settle(
        _ clients: [BoardClient], fullBots: [Int], lightPeers: [(index: Int, peer: LightPeer)],
        authority: (@Sendable (String) async -> (Digest, UInt64)?)?,
        progress: (Int) async -> Void
    ) async throws -> [SwarmReport.RoomVerdict] {
        let rooms = Dictionary(grouping: clients.indices, by: { configuration.room(of: fullBots[$0]) })
            .sorted { $0.key < $1.key }
        let light = Dictionary(grouping: lightPeers, by: { configuration.room(of: $0.index) })
        let deadline = ContinuousClock.now + configuration.settleTimeout
        var nextReport = ContinuousClock.now + .seconds(1)
        while true {
            var verdicts: [SwarmReport.RoomVerdict] = []
            for (room, members) in rooms {
                var digests: [Digest] = []
                var hashes: [UInt64] = []
                for index in members {
                    digests.append(await clients[index].digest)
                    hashes.append(await clients[index].board.stateHash)
                }
                let server = await authority?(room)
                if let server {
                    digests.append(server.0)
                    hashes.append(server.1)
                }
                digests += (light[room] ?? []).map(\.peer.current.digest)
                let everything = digests.reduce(Digest()) { $0.union($1) }
                let missing = digests.reduce(0) { $0 + Int(clamping: everything.totalCount - $1.totalCount) }
                let outcome: SwarmReport.Outcome =
                    missing > 0 ? .behind : (Set(hashes).count == 1 ? .converged : .diverged)
                let common = Dictionary(grouping: hashes, by: { $0 }).max { $0.value.count < $1.value.count }?.key ?? 0
                verdicts.append(
                    SwarmReport.RoomVerdict(
                        room: room, bots: members.count + (light[room]?.count ?? 0), outcome: outcome, missing: missing,
                        stateHash: String(common, radix: 16)))
            }
            let behind = verdicts.reduce(0) { $0 + $1.missing }
            if behind == 0 || ContinuousClock.now >= deadline { return verdicts }
            if ContinuousClock.now >= nextReport {
                await progress(behind)
                nextReport = ContinuousClock.now + .seconds(1)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Where bots draw, in canvas pixels.
    private static let area = Rect(minX: 0, minY: 0, maxX: 199, maxY: 119)
}
