import Benchmark
import Foundation
import PostgresStorage
import Scuttlebutt
import Storage

/// A scratch PostgreSQL database for one benchmark, made and dropped with
/// `psql` on the server `SCUTTLEBOARD_POSTGRES_URL` names (by default the
/// cluster `Scripts/postgres.sh start` runs); nil when none answers.
struct ScratchPostgres {
    let server: String
    let name: String

    /// The server to make scratch databases on, if one answers.
    static var server: String? {
        let url =
            ProcessInfo.processInfo.environment["SCUTTLEBOARD_POSTGRES_URL"]
            ?? "postgres://scuttleboard@127.0.0.1:55432/scuttleboard"
        return (try? psql(url, "SELECT 1")) == "1" ? url : nil
    }

    /// Runs `statement` with `psql` on `url`; its output, trimmed.
    static func psql(_ url: String, _ statement: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", statement]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new empty database on `server`.
    init(on server: String) throws {
        self.server = server
        name = "scuttleboard_bench_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try Self.psql(server, "CREATE DATABASE \(name)")
    }

    /// Its URL.
    var url: String {
        var components = URLComponents(string: server)!
        components.path = "/\(name)"
        return components.string!
    }

    /// Drops it.
    func drop() { _ = try? Self.psql(server, "DROP DATABASE \(name) WITH (FORCE)") }
}

/// Appends from `writers` concurrent writers, each `batch` updates at a
/// time and waiting for each to be durable, `total` updates in all.
/// - Returns: Each append's time to its durable acknowledgement, in µs.
func appendConcurrently(to log: PostgresLog, writers: Int, batch: Int, total: Int) async throws -> [UInt64] {
    let perWriter = max(1, total / writers / batch)
    return try await withThrowingTaskGroup(of: [UInt64].self) { group in
        for writer in 1...writers {
            group.addTask {
                var latencies: [UInt64] = []
                latencies.reserveCapacity(perWriter)
                for round in 0..<perWriter {
                    let first = UInt64(round * batch + 1)
                    let updates = (first..<first + UInt64(batch)).map { seq in
                        StoredUpdate(
                            origin: PeerID(UInt64(writer)), seq: seq, timestamp: Timestamp(seq << 16 | UInt64(writer)),
                            action: Array(repeating: 7, count: 12))
                    }
                    let started = ContinuousClock.now
                    try await log.append(room: "bench-\(writer % 8)", updates)
                    let elapsed = (ContinuousClock.now - started).components
                    latencies.append(
                        UInt64(elapsed.seconds) * 1_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000_000))
                }
                return latencies
            }
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
}

/// PostgreSQL group commit, when a server answers: the ≥ 50,000 updates/s
/// and < 20 ms durable-ack p99 budgets of a cluster's shared log.
let postgresBenchmarks: @Sendable () -> Void = {
    guard let server = ScratchPostgres.server else {
        print("PostgreSQL benchmarks left out: no server answers (run Scripts/postgres.sh start)")
        return
    }
    // (writers, updates per append): the worst case (one live stroke
    // point per append) and a loaded server's rooms (each room turn's batch).
    for (writers, batch) in [(16, 1), (64, 16)] {
        for durability in [Durability.normal, .full] {
            Benchmark(
                "PostgreSQL group commit: \(writers) writers × \(batch)-update appends, durability \(durability.rawValue)",
                configuration: .init(
                    metrics: [
                        .wallClock, .throughput, .custom("updates per transaction", useScalingFactor: false),
                        .custom("ack p99 (µs)", useScalingFactor: false),
                        .custom("updates per second", useScalingFactor: false),
                    ],
                    scalingFactor: .kilo, maxDuration: .seconds(10), maxIterations: 5)
            ) { benchmark in
                let scratch = try ScratchPostgres(on: server)
                defer { scratch.drop() }
                let log = try await PostgresLog.open(
                    try PostgresLocation(url: scratch.url), durability: durability, maximumConnections: 4)
                let total = benchmark.scaledIterations.count * 20
                benchmark.startMeasurement()
                let started = ContinuousClock.now
                var latencies = try await appendConcurrently(to: log, writers: writers, batch: batch, total: total)
                let elapsed = ContinuousClock.now - started
                benchmark.stopMeasurement()
                let statistics = await log.statistics
                await log.close()
                latencies.sort()
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                benchmark.measurement(
                    .custom("updates per transaction", useScalingFactor: false),
                    statistics.updates / max(statistics.transactions, 1))
                benchmark.measurement(
                    .custom("ack p99 (µs)", useScalingFactor: false),
                    Int(latencies[min(latencies.count - 1, latencies.count * 99 / 100)]))
                benchmark.measurement(
                    .custom("updates per second", useScalingFactor: false), Int(Double(statistics.updates) / seconds))
            }
        }
    }
}
