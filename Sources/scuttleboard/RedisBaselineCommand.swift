import ArgumentParser
import Bots
import Foundation
import Server

/// `scuttleboard redis-baseline`: the light swarm's load against Redis
/// pub/sub, the yardstick `Scripts/bench-fanout.sh` sets beside a swarm.
struct RedisBaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-baseline",
        abstract: "Measure Redis pub/sub under the light swarm's load: a baseline for the server's fan-out.",
        discussion: """
            Publishers send stroke extends encoded as protocol v1 frames, at --rate each on a fixed schedule, \
            one channel per room (swarm-0, swarm-1, …); subscribers decode every frame, count it and stamp its \
            latency, as the swarm's light peers do (Redis has no acknowledgements, so they send none). With \
            --redis-pid the report adds Redis's CPU per delivered message, read from /proc. Redis persists and \
            orders nothing here; Scuttleboard does both. Scripts/bench-fanout.sh runs this and a light swarm \
            side by side. Exits 1 if Redis cannot be reached, 3 if some message was not delivered.
            """)

    @Option(help: "The Redis server, as HOST:PORT.", transform: ArgumentParsing.endpoint)
    var redis = Endpoint(host: "127.0.0.1", port: 6379)

    @Option(help: "The Redis server's process id, to report its CPU per delivered message (read from /proc).")
    var redisPID: Int32?

    @Option(
        parsing: .unconditional, help: "Channels, one per room (1 to 1000).",
        transform: { try ArgumentParsing.integer($0, in: 1...1_000) })
    var channels = 4

    @Option(
        parsing: .unconditional, help: "Publishers per channel (1 to 1000).",
        transform: { try ArgumentParsing.integer($0, in: 1...1_000) })
    var publishers = 7

    @Option(
        parsing: .unconditional, help: "Subscribers per channel (1 to 1000).",
        transform: { try ArgumentParsing.integer($0, in: 1...1_000) })
    var subscribers = 7

    @Option(
        parsing: .unconditional, help: "Messages per second each publisher sends, on a fixed schedule.",
        transform: { try ArgumentParsing.number($0, in: 0.01...100_000) })
    var rate: Double = 100

    @Option(
        parsing: .unconditional, help: "How long they publish, in whole seconds: 30, 30s, 2m.",
        transform: ArgumentParsing.duration)
    var duration: Duration = .seconds(20)

    @Option(help: "Seed of the publishers' strokes.")
    var seed: UInt64 = 1

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard duration.components.attoseconds == 0, duration > .zero else {
            throw ValidationError("--duration is whole seconds (30, 30s, 2m)")
        }
        if let redisPID, ProcessStatistics.cpuSeconds(of: redisPID) == nil {
            throw ValidationError("--redis-pid: no process \(redisPID) to read /proc/\(redisPID)/stat of")
        }
    }

    func run() async throws {
        var configuration = RedisFanoutConfiguration(
            host: redis.host, port: redis.port, channels: channels, publishersPerChannel: publishers,
            subscribersPerChannel: subscribers, rate: rate, duration: Int(duration.components.seconds), seed: seed)
        configuration.settleTimeout = .seconds(10)
        warn(
            "redis-baseline: \(channels) channel(s) × \(publishers) publishers and \(subscribers) subscribers "
                + "on \(redis.host):\(redis.port), \(SwarmCommand.number(rate)) messages/s each, "
                + "\(configuration.duration) s")
        var serverCPU: (@Sendable () -> Double?)?
        if let pid = redisPID { serverCPU = { ProcessStatistics.cpuSeconds(of: pid) } }
        let report: RedisFanoutReport
        do {
            report = try await RedisFanout(configuration: configuration).run(serverCPU: serverCPU)
        } catch let failure as RedisFanoutError {
            throw CommandFailure(message: "redis-baseline: \(failure)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(Self.describe(report))
        }
        if report.delivered < report.expected { throw ExitCode(3) }
    }

    /// The report for people.
    static func describe(_ report: RedisFanoutReport) -> String {
        let latency = report.latency
        var lines = [
            "redis-baseline report:",
            "  sent        \(report.sent) messages of \(SwarmCommand.number(report.payloadBytes)) bytes on average",
            "  delivered   \(report.delivered) of \(report.expected) in \(SwarmCommand.number(report.deliverySeconds)) s "
                + "(\(Int(report.throughput)) per second)",
            "  latency     p50 \(latency.p50) ms · p90 \(latency.p90) ms · p99 \(latency.p99) ms · "
                + "p99.9 \(latency.p999) ms · max \(latency.max) ms",
        ]
        if let cpu = report.serverCPUSeconds, let perMessage = report.serverCPUMicrosecondsPerDelivered {
            lines.append(
                "  Redis CPU   \(SwarmCommand.number(cpu)) s: \(SwarmCommand.number(perMessage)) µs per delivered message"
            )
        }
        if report.delivered < report.expected {
            lines.append("  NOT EVERYTHING ARRIVED: \(report.expected - report.delivered) messages missing")
        }
        return lines.joined(separator: "\n")
    }
}
