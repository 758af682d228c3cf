import Bots
import Client
import Foundation
import NIOConcurrencyHelpers
import Scuttlebutt
import Server
import Testing
import Whiteboard

/// A small swarm against the real server on loopback: load flows, latency is
/// measured, and every room converges to the server's own board.
@Suite(.serialized) struct SwarmTests {
    @Test(arguments: [SwarmPattern.thunderingHerd, .bursty])
    func aSwarmDrawsAndEveryRoomConvergesWithTheServer(pattern: SwarmPattern) async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 1_000_000 }
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 6, rooms: 2, duration: 2, pattern: pattern, seed: 7)
        configuration.disconnectsPerMinute = 60
        if pattern == .bursty { configuration.addedLatency = AddedLatency(milliseconds: 20, jitter: 10) }
        let running = server.server
        let seconds = NIOLockedValueBox<[SwarmProgress]>([])
        let report = try await Swarm(configuration: configuration).run(
            authority: { name in
                guard let room = (try? await running.room(named: name)) ?? nil else { return nil }
                let digest = await room.digest
                let hash = await room.board.stateHash
                return (digest, hash)
            },
            serverMetrics: { await running.metricsText() },
            progress: { progress in seconds.withLockedValue { $0.append(progress) } })
        let progress = seconds.withLockedValue { $0 }.filter { $0.settlingBehind == nil }
        #expect(progress.map(\.second) == [1, 2], "one line a second while the bots draw")
        #expect(progress.allSatisfy { $0.serverRefusals != nil && $0.serverMemoryBytes != nil })
        #expect(progress.map(\.delivered).reduce(0, +) <= report.delivered)
        #expect(report.sent > 0)
        #expect(report.delivered > 0, "bots in a room see each other's updates")
        #expect(report.latency.p50 <= report.latency.p99 && report.latency.p99 <= report.latency.max)
        #expect(report.convergence.map(\.room) == ["swarm-0", "swarm-1"])
        #expect(report.converged, "\(report.convergence)")
        // A peer that saw seq N+1 before N would refuse it and hang up.
        #expect(server.server.counters.snapshot.refusals["update_rejected"] == nil)
        #expect(report.replayDepths.map(\.count).reduce(0, +) == report.rewinds)
        // A bot cut off by the chaos keeps what it recorded; back more than
        // the frontier's grace later (a slow machine), that is refused as
        // stale and re-stamped, as the protocol says. Nothing else may be,
        // but for a session timed out under a sanitizer (everything runs
        // many times slower there: a bot can fall silent for the liveness
        // timeout, as it would on a machine that slow).
        let slow = ProcessInfo.processInfo.environment["SCUTTLEBOARD_SANITIZER"] != nil
        #expect(
            report.serverRefusals.filter { $0.key != "update: stale" && !(slow && $0.key == "session: timeout") }
                .isEmpty, "\(report.serverRefusals)")
        #expect(report.serverMemorySamples.map(\.second) == [1, 2])
        #expect(report.serverMemorySamples.allSatisfy { $0.bytes > 1_000_000 })
        // Read from the server's /metrics: this process is the server here.
        let cpu = try #require(report.serverCPUSeconds)
        #expect(cpu > 0 && cpu < 60, "\(cpu) s of CPU for a 2 s swarm")
        #expect(report.serverCPUMicrosecondsPerDelivered == cpu * 1_000_000 / Double(report.delivered))
        if pattern == .bursty {
            #expect(report.latency.p50 >= 40, "20 ms added on the way out and again on the way in")
            #expect(report.chaos.latency == 20)
        }
        let stored =
            try await server.server.log.history(room: "swarm-0").count
            + server.server.log.history(room: "swarm-1").count
        #expect(stored == report.sent - report.refused.values.reduce(0, +), "everything sent is stored once")
        await server.stop()
    }
}

/// Light peers draw and receive with no replica; the full-replica sample
/// and the server must still agree, and every light peer must have been
/// sent every update of its room once, in order. Over TCP, and with the
/// light peers over WebSocket beside full replicas on TCP.
@Suite(.serialized) struct LightReceiverTests {
    @Test(arguments: [false, true])
    func lightPeersGetEveryUpdateOnceAndTheSampleConvergesWithTheServer(overWebSocket: Bool) async throws {
        let server = try await RunningServer { configuration in
            configuration.maxUpdatesPerSecond = 1_000_000
            if overWebSocket { configuration.httpPort = 0 }
        }
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 6, rooms: 2, duration: 2, pattern: .thunderingHerd, seed: 3)
        configuration.behaviors = [.scribbler]
        configuration.rate = 50
        configuration.receivers = .light
        if overWebSocket {
            let httpPort = try #require(server.httpPort)
            configuration.webSocketPort = httpPort
        }
        #expect((0..<6).filter(configuration.isLight) == [2, 3, 4, 5], "the first bot of each room is full")
        let running = server.server
        let report = try await Swarm(configuration: configuration).run(
            authority: { name in
                guard let room = (try? await running.room(named: name)) ?? nil else { return nil }
                return (await room.digest, await room.board.stateHash)
            },
            serverMetrics: { await running.metricsText() })
        #expect(report.converged, "\(report.convergence)")
        #expect(report.lightPeers == 4 && report.receivers == .light)
        #expect(report.lightOverWebSocket == overWebSocket)
        #expect(report.lightGaps == 0)
        #expect(report.lightSessionsEnded.isEmpty, "\(report.lightSessionsEnded)")
        #expect(report.serverRefusals.isEmpty, "\(report.serverRefusals)")
        let generator = try #require(report.generator)
        #expect(generator.offeredPerSecond == 300, "6 bots at 50 actions/s each")
        var stored = 0
        for room in ["swarm-0", "swarm-1"] {
            let history = try await server.server.log.history(room: room)
            #expect(Set(history.map(\.origin)).count == 3, "every bot of \(room) drew, light ones too")
            stored += history.count
        }
        #expect(stored == report.sent, "everything sent is stored once")
        // Three bots a room: each update reaches the other two. Each light
        // peer gets every update of its room but its own, once: one by one,
        // or inside a snapshot if its link fell behind the room's horizon
        // (seen on a very busy machine).
        #expect(report.lightReceived + report.lightReceivedInSnapshots == 2 * stored - report.lightRecorded)
        // The full bots count what they apply live: never more than reached
        // them (the rest reached them in snapshots on a very busy machine).
        let fullExpected = stored - (report.sent - report.lightRecorded)
        let fullCounted = report.delivered - report.lightReceived
        #expect(fullCounted > 0 && fullCounted <= fullExpected, "\(fullCounted) of \(fullExpected)")
        await server.stop()
    }
}

@Suite(.serialized) struct SwarmMeasurementTests {
    @Test func aRoomsEarlierHistoryIsNotCountedAsDelivered() async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 1_000_000 }
        // 300 updates of history in the swarm's room, from an earlier visitor.
        let earlier = try BoardClient(
            configuration: ClientConfiguration(host: "127.0.0.1", port: server.port, room: "swarm-0", name: "earlier"))
        let visiting = Task { await earlier.run() }
        for index in 0..<300 {
            try await earlier.record(
                .addText(at: Point(0, Int32(index)), text: "line \(index)", style: Style(color: 2)))
        }
        try await eventually(20, "the history stored") { await earlier.pendingCount == 0 }
        visiting.cancel()
        await visiting.value
        // Newcomers catch up on that history when they join; it is not theirs.
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 2, rooms: 1, duration: 1, pattern: .thunderingHerd, seed: 1)
        configuration.behaviors = [.scribbler]
        configuration.rate = 20
        let report = try await Swarm(configuration: configuration).run()
        #expect(report.delivered <= report.sent, "each update reaches at most the one other bot")
        #expect(report.converged)
        await server.stop()
    }
}

@Suite struct ServerMetricsTests {
    @Test func readsMemoryAndRefusalsFromPrometheusText() async throws {
        let text = """
            # HELP scuttleboard_refusals_total Sessions the server ended, by reason.
            scuttleboard_refusals_total{reason="flood"} 3
            scuttleboard_rejects_total{reason="far_future"} 2
            scuttleboard_resident_memory_bytes 52428800
            scuttleboard_cpu_seconds_total 12.5
            scuttleboard_rooms 4
            garbage line
            """
        let metrics = ServerMetrics(prometheusText: text)
        #expect(metrics.residentMemoryBytes == 52_428_800)
        #expect(metrics.cpuSeconds == 12.5)
        #expect(metrics.sessionsEnded == ["flood": 3])
        #expect(metrics.updatesRejected == ["far_future": 2])
        let server = try await RunningServer()
        let live = ServerMetrics(prometheusText: await server.server.metricsText())
        #expect(live.residentMemoryBytes ?? 0 > 1_000_000)
        #expect(live.cpuSeconds ?? 0 > 0, "this test process has used CPU")
        await server.stop()
    }
}

@Suite struct BotPacingTests {
    @Test func aRatedBotNeverRunsAheadOfItsSchedule() async throws {
        // Offline: records apply locally and queue, so only pacing limits them.
        let client = try BoardClient(
            configuration: ClientConfiguration(host: "127.0.0.1", port: 9, room: "paced", name: "bot"))
        let bot = Bot(
            client: client,
            brain: BotBrain(behavior: .scribbler, seed: 3, area: Rect(minX: 0, minY: 0, maxX: 99, maxY: 49)),
            name: "bot", color: 2)
        let start = ContinuousClock.now
        let drawing = Task { await bot.run(pacing: .rate(actionsPerSecond: 40)) }
        try await eventually(30, "ten actions") { await client.pendingCount >= 10 }
        drawing.cancel()
        let recorded = await drawing.value.recorded
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        #expect(recorded >= 10)
        // However slowly the machine runs the bot, it can only fall behind.
        #expect(Double(recorded) <= 40 * elapsed + 1, "\(recorded) actions in \(elapsed) s")
        #expect(await client.pendingCount == recorded)
    }
}

/// The report says what really happened: throughput over the real time,
/// whether the generator kept its schedule, and "still catching up" apart
/// from "diverged".
@Suite(.serialized) struct SwarmHonestyTests {
    @Test func aGeneratorThatCannotKeepItsScheduleIsReportedAsBehind() async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 100_000_000 }
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 2, rooms: 1, duration: 2, pattern: .thunderingHerd, seed: 5)
        configuration.behaviors = [.scribbler]
        // A million actions a second per bot: no machine keeps that schedule.
        configuration.rate = 1_000_000
        let report = try await Swarm(configuration: configuration).run()
        let generator = try #require(report.generator)
        #expect(generator.offeredPerSecond == 2_000_000)
        #expect(generator.fellBehind)
        #expect(generator.achievedPerSecond < 1_000_000)
        #expect(abs(generator.achievedPerSecond - Double(report.sent) / report.drawingSeconds) < 1)
        #expect(report.drawingSeconds >= 1.9 && report.drawingSeconds < 4, "\(report.drawingSeconds) s drawn")
        #expect(abs(report.throughput - Double(report.delivered) / report.deliverySeconds) < 1)
        await server.stop()
    }

    @Test func theScheduleIsJudgedWithOneActionOfSlackPerBot() {
        typealias Generator = SwarmReport.Generator
        // 2 bots at 10/s for 2 s: 40 scheduled, less one each at the end: 38;
        // 90% of that is 34.2.
        #expect(!Generator(rate: 10, drawingBots: 2, sent: 38, seconds: 2).fellBehind)
        #expect(!Generator(rate: 10, drawingBots: 2, sent: 35, seconds: 2).fellBehind)
        #expect(Generator(rate: 10, drawingBots: 2, sent: 34, seconds: 2).fellBehind)
        #expect(Generator(rate: 10, drawingBots: 2, sent: 34, seconds: 2).achievedPerSecond == 17)
    }

    @Test func roomsStillCatchingUpAreNotCalledDiverged() async throws {
        let server = try await RunningServer { $0.maxUpdatesPerSecond = 100_000_000 }
        var configuration = SwarmConfiguration(
            host: "127.0.0.1", port: server.port, bots: 4, rooms: 1, duration: 1, pattern: .thunderingHerd, seed: 9)
        configuration.behaviors = [.scribbler]
        // Every message waits 300 ms each way, and the verdict comes at once.
        configuration.addedLatency = AddedLatency(milliseconds: 300)
        configuration.settleTimeout = .zero
        let report = try await Swarm(configuration: configuration).run()
        let room = try #require(report.convergence.first)
        #expect(room.outcome == .behind, "\(room)")
        #expect(room.missing > 0)
        #expect(!report.converged && !report.diverged)
        await server.stop()
    }

    @Test func anUnreachableServerIsSaidPlainlyAndAtOnce() async throws {
        let configuration = SwarmConfiguration(
            host: "127.0.0.1", port: 1, bots: 2, rooms: 1, duration: 30, pattern: .steady, seed: 1)
        let start = ContinuousClock.now
        await #expect(throws: ConnectionFailure.refused(host: "127.0.0.1", port: 1)) {
            _ = try await Swarm(configuration: configuration).run()
        }
        #expect(ContinuousClock.now - start < .seconds(10), "not the whole duration")
    }
}
