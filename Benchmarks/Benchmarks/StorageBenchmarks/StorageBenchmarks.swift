import Benchmark
import Foundation
import Scuttlebutt
import Storage

/// A fresh database file in a temporary folder.
func freshLog(_ durability: Durability) throws -> DurableLog {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "scuttleboard-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return try DurableLog(path: folder.appendingPathComponent("bench.sqlite").path, durability: durability)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .custom("updates per transaction", useScalingFactor: false)],
        warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 10)

    // 16 writers, each appending one 12-byte update at a time and waiting
    // for it to be durable: the server's worst case (live strokes, no batching).
    for durability in Durability.allCases {
        Benchmark(
            "Group commit: 16 writers × 1-update appends, durability \(durability.rawValue)",
            configuration: .init(scalingFactor: .kilo)
        ) { benchmark in
            let log = try freshLog(durability)
            let perWriter = benchmark.scaledIterations.count / 16
            benchmark.startMeasurement()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in UInt64(1)...16 {
                    group.addTask {
                        for seq in UInt64(1)...UInt64(perWriter) {
                            try await log.append(
                                room: "bench",
                                [
                                    StoredUpdate(
                                        origin: PeerID(writer), seq: seq, timestamp: Timestamp(seq << 16 | writer),
                                        action: Array(repeating: 7, count: 12))
                                ])
                        }
                    }
                }
                try await group.waitForAll()
            }
            benchmark.stopMeasurement()
            let statistics = await log.statistics
            benchmark.measurement(
                .custom("updates per transaction", useScalingFactor: false),
                statistics.updates / max(statistics.transactions, 1))
        }
    }

    Benchmark("Load a room of 100 000 updates", configuration: .init(maxIterations: 10)) {
        (benchmark: Benchmark, log: DurableLog) in
        for _ in benchmark.scaledIterations { blackHole(try log.load(room: "big").updates.count) }
    } setup: {
        let log = try freshLog(.off)
        for chunk in 0..<100 {
            try await log.append(
                room: "big",
                (0..<1_000).map { index in
                    let seq = UInt64(chunk * 1_000 + index + 1)
                    return StoredUpdate(
                        origin: PeerID(seq % 8 + 1), seq: seq / 8 + 1, timestamp: Timestamp(seq << 16),
                        action: Array(repeating: 7, count: 12))
                })
        }
        return log
    }

    postgresBenchmarks()
}
