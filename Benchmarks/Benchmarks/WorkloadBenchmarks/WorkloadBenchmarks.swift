import Benchmark
import BoardWorkloads
import CHeapStatistics
import Scuttlebutt
import Server
import Whiteboard
import Wire
import Workloads

// The shared whiteboard workloads W1–W4 (../shared/workloads/WHITEBOARD-SPEC.md)
// on Scuttleboard's board replica, through its public API as an app uses it:
// `ReplicatedStore.record` for local actions, the wire's self-contained
// update bytes and `receive` for remote ones. Every run checks the board it
// built against the spec's digest (or the reference reducer's) and stops
// the benchmark if they differ. Each rep is one whole workload on a fresh
// replica; the spec's three reps, medians quoted.

/// Actions (or updates) applied per second, over the timed loop.
let ratePerSecond = BenchmarkMetric.custom("per second", polarity: .prefersLarger, useScalingFactor: false)
/// Mean bytes of one shipped update.
let bytesPerUpdate = BenchmarkMetric.custom("bytes per update", useScalingFactor: false)
/// Heap bytes the replica holds per action (glibc's in-use count).
let heapBytesPerAction = BenchmarkMetric.custom("heap bytes per action", useScalingFactor: false)
/// Resident-set growth per action.
let rssBytesPerAction = BenchmarkMetric.custom("RSS bytes per action", useScalingFactor: false)
/// Rewinds in one run.
let workloadRewinds = BenchmarkMetric.custom("rewinds", useScalingFactor: false)
/// Applies replayed by rewinds in one run.
let workloadReplayed = BenchmarkMetric.custom("replayed applies", useScalingFactor: false)
/// Size of an encoded state.
let stateBytes = BenchmarkMetric.custom("state bytes", useScalingFactor: false)

/// The spec's digests (section 10).
enum SpecDigest {
    static let w1 = "bd435fcc33391cc22cc3a6ee0b9f8fff946e90d827760e54bfe015dc3126f18c"
    static let w2 = "6adfd8f2e88e762d1f35a162c623635097227f6925db674cc46f6a2caecfe1d8"
    static let w3 = "f1a310b1a03254baeed698332d7bef8ef843545e4f01df18d8331e2cf2e23001"
}

/// W1's stream (seed 1, origin o0, 200,000 actions) as peer 100 records it.
let w1 = WorkloadReplay(WorkloadStream(seed: 1, origin: "o0", count: 200_000), peer: PeerID(100))

/// The pen-like W1 (`WorkloadStream.penLike`): extends walk from the
/// stroke's previous point, as a hand draws.
let w1Pen = WorkloadReplay(w1.stream.penLike(seed: 11), peer: PeerID(100))

/// A receiving clock past every stamp of a million-action stream.
func receiverClock() -> ManualClock {
    ManualClock(milliseconds: WorkloadReplay.milliseconds(atAction: 1_000_000))
}

/// A fresh board replica of `peer`, as a client keeps one, with `limit`.
func boardReplica(
    _ peer: PeerID, limit: HistoryLimit = .unbounded, clock: ManualClock, indexed: Bool = false
) -> ReplicatedStore<BoardReducer> {
    var configuration = ReplicaConfiguration.board(isAuthority: false)
    configuration.historyLimit = limit
    return ReplicatedStore(
        peer: peer, reducer: BoardReducer(), initialState: Board(spatiallyIndexed: indexed),
        configuration: configuration, wallClock: clock)
}

/// Stops the run when a board is not the workload's.
func check(_ board: Board, _ replays: [WorkloadReplay], equals expected: String, _ what: String) {
    let digest = WorkloadReplay.digest(of: board, replays: replays)
    guard digest == expected else { fatalError("\(what): board digest \(digest ?? "nil"), expected \(expected)") }
}

/// The reference reducer's digest of `replays`' streams.
func referenceDigest(_ replays: [WorkloadReplay]) -> String {
    var board = WorkloadBoard()
    for replay in replays { board.apply(replay.stream) }
    return board.digest
}

/// W1's updates as shipped: one self-contained update each.
let w1Shipped: [[UInt8]] = {
    let clock = ManualClock(milliseconds: 0)
    return try! w1.record(on: boardReplica(w1.peer, clock: clock), clock: clock).map(
        WireEncoder<BoardActionCodec>.encode(update:))
}()

/// W2: four origins, 50,000 actions each, interleaved round robin, shipped.
let w2Replays = WorkloadReplay.w2Origins(count: 50_000)
let w2InOrder: [[UInt8]] = {
    let recorded = w2Replays.map { replay in
        let clock = ManualClock(milliseconds: 0)
        return try! replay.record(on: boardReplica(replay.peer, clock: clock), clock: clock)
    }
    return (0..<50_000).flatMap { round in recorded.map { WireEncoder<BoardActionCodec>.encode(update: $0[round]) } }
}()
let w2Shuffled: [[UInt8]] = workloadDeliveryOrder(count: w2InOrder.count, window: 64, seed: 1_001).map { w2InOrder[$0] }

/// W3: a million actions of o0 (W1's stream is its prefix).
let w3 = WorkloadReplay(WorkloadStream(seed: 1, origin: "o0", count: 1_000_000), peer: PeerID(100))

/// Bytes the heap holds now (glibc), after returning what it can.
func heapInUse() -> Int {
    Int(heap_bytes_in_use())
}

/// Reports `count` per second over the measured time.
func reportRate(_ benchmark: Benchmark, _ count: Int, _ start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(ratePerSecond, Int(Double(count) / seconds))
}

/// A fresh receiving replica decodes and receives every shipped update,
/// timed. - Returns: The receiver, for its checks.
func receiveTimed(_ shipped: [[UInt8]], _ benchmark: Benchmark) -> WorkloadReceiver {
    var receiver = WorkloadReceiver(store: boardReplica(PeerID(999), clock: receiverClock()))
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    for bytes in shipped { receiver.receive(try! WireDecoder<BoardActionCodec>.decodeUpdate(bytes)) }
    reportRate(benchmark, shipped.count, start)
    benchmark.stopMeasurement()
    return receiver
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, ratePerSecond], warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(60),
        maxIterations: 3)

    // MARK: W1

    // The spatially indexed runs show what a client's replica (which keeps
    // the index for hit-tests and repaint) pays on top.
    for (name, replay, digest, indexed) in [
        ("W1", w1, SpecDigest.w1, false), ("W1 pen-like", w1Pen, referenceDigest([w1Pen]), false),
        ("W1 pen-like, spatially indexed board,", w1Pen, referenceDigest([w1Pen]), true),
    ] {
        Benchmark("\(name) local apply, 200k actions") { benchmark in
            let clock = ManualClock(milliseconds: 0)
            let store = boardReplica(replay.peer, clock: clock, indexed: indexed)
            benchmark.startMeasurement()
            let start = ContinuousClock.now
            try! replay.record(on: store, clock: clock)
            reportRate(benchmark, replay.actions.count, start)
            benchmark.stopMeasurement()
            check(store.state, [replay], equals: digest, "\(name) local")
        }
    }

    Benchmark(
        "W1 local apply + observe (encode each update), 200k actions",
        configuration: .init(metrics: [.wallClock, ratePerSecond, bytesPerUpdate])
    ) { benchmark in
        let clock = ManualClock(milliseconds: 0)
        let store = boardReplica(w1.peer, clock: clock)
        var bytes = 0
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        for (index, action) in w1.actions.enumerated() {
            clock.set(milliseconds: WorkloadReplay.milliseconds(atAction: index))
            bytes += WireEncoder<BoardActionCodec>.encode(update: try! store.record(action)).count
        }
        reportRate(benchmark, w1.actions.count, start)
        benchmark.stopMeasurement()
        benchmark.measurement(bytesPerUpdate, bytes / w1.actions.count)
        check(store.state, [w1], equals: SpecDigest.w1, "W1 observe")
    }

    Benchmark("W1 remote apply in order, from bytes, 200k updates") { benchmark in
        let receiver = receiveTimed(w1Shipped, benchmark)
        check(receiver.store.state, [w1], equals: SpecDigest.w1, "W1 remote")
    }

    // MARK: W2

    for (name, shuffled) in [("in order", false), ("shuffled in a window of 64", true)] {
        Benchmark(
            "W2 4 origins, \(name), from bytes, 200k updates",
            configuration: .init(metrics: [.wallClock, ratePerSecond, workloadRewinds, workloadReplayed])
        ) { benchmark in
            let receiver = receiveTimed(shuffled ? w2Shuffled : w2InOrder, benchmark)
            precondition(receiver.refused == 0 && receiver.pending == 0)
            benchmark.measurement(workloadRewinds, receiver.store.timeline.statistics.rewinds)
            benchmark.measurement(workloadReplayed, receiver.store.timeline.statistics.replayedApplies)
            check(receiver.store.state, w2Replays, equals: SpecDigest.w2, "W2 \(name)")
        }
    }

    // MARK: W3

    let w3Limits: [(String, HistoryLimit)] = [
        ("full history", .unbounded), ("count limit 10k", .count(10_000)),
        ("age limit 10 s (80k actions)", .age(milliseconds: 10_000)),
    ]
    for (name, limit) in w3Limits {
        Benchmark("W3 build, 1M actions, \(name)", configuration: .init(maxIterations: 1)) { benchmark in
            let clock = ManualClock(milliseconds: 0)
            let store = boardReplica(w3.peer, limit: limit, clock: clock)
            benchmark.startMeasurement()
            let start = ContinuousClock.now
            try! w3.record(on: store, clock: clock)
            reportRate(benchmark, w3.actions.count, start)
            benchmark.stopMeasurement()
            check(store.state, [w3], equals: SpecDigest.w3, "W3 \(name)")
        }
    }

    Benchmark(
        "W3 late joiner: load the encoded state of 1M actions",
        configuration: .init(metrics: [.wallClock, stateBytes], maxIterations: 5)
    ) { (benchmark: Benchmark, encoded: [UInt8]) in
        benchmark.startMeasurement()
        let board = try! BoardSnapshotCodec.decode(encoded)
        benchmark.stopMeasurement()
        benchmark.measurement(stateBytes, encoded.count)
        check(board, [w3], equals: SpecDigest.w3, "W3 join")
    } setup: {
        let clock = ManualClock(milliseconds: 0)
        let store = boardReplica(w3.peer, clock: clock)
        try! w3.record(on: store, clock: clock)
        return BoardSnapshotCodec.encode(store.state)
    }

    // MARK: W4

    for (name, limit) in [("full history", HistoryLimit.unbounded), ("count limit 10k", .count(10_000))] {
        Benchmark(
            "W4 memory per action, 200k actions, \(name)",
            configuration: .init(metrics: [heapBytesPerAction, rssBytesPerAction])
        ) { benchmark in
            let clock = ManualClock(milliseconds: 0)
            let (heap, rss) = (heapInUse(), ProcessStatistics.residentMemoryBytes())
            let store = boardReplica(w1.peer, limit: limit, clock: clock)
            try! w1.record(on: store, clock: clock)
            benchmark.measurement(heapBytesPerAction, (heapInUse() - heap) / w1.actions.count)
            benchmark.measurement(rssBytesPerAction, (ProcessStatistics.residentMemoryBytes() - rss) / w1.actions.count)
            check(store.state, [w1], equals: SpecDigest.w1, "W4 \(name)")
        }
    }
}
