import Benchmark
import NetworkSimulator
import Scuttlebutt

typealias Action = RegisterReducer.Action

/// History stamps are spaced widely so that late updates can always be
/// placed strictly between two neighbours.
let spacing: UInt64 = 1 << 24
let historyOrigins = 16

func historyUpdate(_ index: Int, register: UInt8) -> Update<Action> {
    Update(
        origin: PeerID(UInt64(index % historyOrigins + 1)), seq: UInt64(index / historyOrigins + 1),
        timestamp: Timestamp(UInt64(index + 1) * spacing), action: .mix(register: register, value: UInt64(index)))
}

func makeTimeline(
    count: Int, policy: SnapshotPolicy = .standard, register: (Int) -> UInt8
) -> Timeline<RegisterReducer> {
    var timeline = Timeline(reducer: RegisterReducer(), base: RegisterReducer.State(), snapshotPolicy: policy)
    for index in 0..<count { timeline.insert(historyUpdate(index, register: register(index))) }
    return timeline
}

/// Late updates that all land at the same depth: each is stamped just below
/// an anchor entry `depth` places from the end, with a rising origin, so it
/// sorts after the previous late one and right before the anchor.
struct LateUpdates {
    let anchorStamp: UInt64
    let register: UInt8
    var next: UInt64 = 1

    init(before timeline: Timeline<RegisterReducer>, depth: Int, register: UInt8) {
        let updates = timeline.updates
        self.anchorStamp = updates[updates.index(updates.endIndex, offsetBy: -depth)].timestamp.rawValue
        self.register = register
    }

    mutating func make() -> Update<Action> {
        defer { next += 1 }
        return Update(
            origin: PeerID(next), seq: 1, timestamp: Timestamp(anchorStamp - 1),
            action: .mix(register: register, value: next))
    }
}

/// Mutable benchmark state built once in `setup`.
final class TimelineBox: @unchecked Sendable {
    var timeline: Timeline<RegisterReducer>
    var late: LateUpdates

    init(timeline: Timeline<RegisterReducer>, late: LateUpdates) {
        self.timeline = timeline
        self.late = late
    }
}

/// Late inserts at `depth` into a log made by `makeLog` over a 10 000-entry,
/// 1 000-key history.
func referenceBenchmark<Log: NaiveLog>(
    _ strategy: String, depth: Int, maxIterations: Int, makeLog: @escaping @Sendable () -> Log
) {
    Benchmark(
        "Reference, late insert depth \(depth): \(strategy), 1k-key state, history 10k",
        configuration: .init(maxIterations: maxIterations)
    ) { (benchmark: Benchmark, box: ReferenceBox<Log>) in
        for _ in benchmark.scaledIterations { box.insertLate() }
    } setup: {
        ReferenceBox(log: makeLog(), history: 10_000, keyCount: 1_000, depth: depth)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .instructions, .mallocCountTotal],
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 200
    )

    // MARK: In-order apply

    // One action per scaled iteration: throughput reads in M actions/s.
    for (name, policy) in [("64 dense + every 64", SnapshotPolicy.standard), ("every 16", .every(16))] {
        Benchmark(
            "In-order apply (timeline, snapshots \(name))",
            configuration: .init(scalingFactor: .mega, maxIterations: 10)
        ) { benchmark in
            var timeline = Timeline(reducer: RegisterReducer(), base: RegisterReducer.State(), snapshotPolicy: policy)
            for index in benchmark.scaledIterations {
                timeline.insert(historyUpdate(index, register: UInt8(index % 8)))
            }
            blackHole(timeline.state)
        }
    }

    Benchmark(
        "In-order record (store: validate, clock, digest, log, count limit 10k)",
        configuration: .init(scalingFactor: .mega, maxIterations: 10)
    ) { benchmark in
        var configuration = ReplicaConfiguration()
        configuration.historyLimit = .count(10_000)
        let store = ReplicatedStore(
            peer: PeerID(1), reducer: RegisterReducer(), initialState: .init(), configuration: configuration,
            wallClock: ManualClock())
        for index in benchmark.scaledIterations {
            _ = try? store.record(.mix(register: UInt8(index % 8), value: UInt64(index)))
        }
        blackHole(store.state)
    }

    // MARK: Late inserts at depth d with 100 000 entries of history

    for depth in [1, 10, 100, 1_000, 10_000] {
        for (kind, historyRegister) in [
            ("conflicting", { (_: Int) -> UInt8 in 0 }),
            ("commuting", { (index: Int) -> UInt8 in UInt8(1 + index % 7) }),
        ] {
            Benchmark(
                "Late insert, \(kind), depth \(depth), history 100k",
                configuration: .init(
                    metrics: [.wallClock, .mallocCountTotal, .custom("applies per insert", useScalingFactor: false)],
                    scalingFactor: .kilo, maxIterations: 20)
            ) { (benchmark: Benchmark, box: TimelineBox) in
                let before = box.timeline.statistics
                for _ in benchmark.scaledIterations { box.timeline.insert(box.late.make()) }
                let after = box.timeline.statistics
                // Applies per late insert: replayed ones, plus one per commute.
                let applies =
                    (after.replayedApplies - before.replayedApplies) + (after.commutes - before.commutes)
                benchmark.measurement(
                    .custom("applies per insert", useScalingFactor: false), applies / benchmark.scaledIterations.count)
            } setup: {
                let timeline = makeTimeline(count: 100_000, register: historyRegister)
                return TimelineBox(
                    timeline: timeline, late: LateUpdates(before: timeline, depth: depth, register: 0))
            }
        }
    }

    // MARK: Reference points: the naive strategies, on a 1 000-key state

    // Same history (10 000 updates over 1 000 keys), same late updates, all
    // conflicting (each touches the key of the entry right after its place).
    for depth in [1, 100, 1_000] {
        referenceBenchmark("timeline", depth: depth, maxIterations: 200, makeLog: TimelineLog.init)
        referenceBenchmark("full state per entry", depth: depth, maxIterations: 50, makeLog: FullStatePerEntryLog.init)
        referenceBenchmark("replay from scratch", depth: depth, maxIterations: 50, makeLog: ReplayFromScratchLog.init)
    }

    // MARK: Memory per retained entry by snapshot interval

    for policy in [SnapshotPolicy.every(1), .every(16), .every(256), .standard] {
        Benchmark(
            "Memory per entry, snapshots \(policy.denseTail) dense + every \(policy.interval), 100k entries",
            configuration: .init(metrics: [.memoryLeakedBytes, .wallClock], maxIterations: 5)
        ) { benchmark in
            // Net bytes still allocated when measurement stops, with the
            // timeline alive: divide by 100 000 for bytes per entry.
            let timeline = makeTimeline(count: 100_000, policy: policy, register: { UInt8($0 % 64) })
            benchmark.stopMeasurement()
            blackHole(timeline)
        }
    }

    // MARK: Delta computation

    Benchmark(
        "Delta for a peer missing 1 000 of a 1 000 000-update log (100 origins)",
        configuration: .init(maxIterations: 100)
    ) { benchmark, store in
        for _ in benchmark.scaledIterations {
            var session = GossipSession<RegisterReducer>(
                configuration: {
                    var configuration = GossipSessionConfiguration(name: "bench", room: "bench", role: .server)
                    configuration.window = 1_000
                    configuration.maxBatchUpdates = 1_000
                    return configuration
                }())
            _ = session.start(store: store, now: 0)
            var lagging = store.digest
            for (origin, seq) in store.digest { lagging[origin] = seq - 10 }
            let hello = Hello(
                protocolVersion: 1, peer: PeerID(999_999), name: "peer", room: "bench", role: .editor,
                credentials: nil, digest: lagging, clock: .zero)
            blackHole(session.handle(.hello(hello), store: store, now: 0))
        }
    } setup: {
        let store = ReplicatedStore(
            peer: PeerID(1), reducer: RegisterReducer(), initialState: .init(),
            configuration: {
                var configuration = ReplicaConfiguration()
                configuration.historyLimit = .count(1_000)
                configuration.timestampStrategy = .lamport
                return configuration
            }(), wallClock: ManualClock())
        for index in 0..<1_000_000 {
            let origin = index % 100
            _ = store.receive(
                Update(
                    origin: PeerID(UInt64(origin + 10)), seq: UInt64(index / 100 + 1),
                    timestamp: Timestamp(UInt64(index + 1)), action: .set(register: UInt8(index % 8), value: 1)))
        }
        return store
    }
}
