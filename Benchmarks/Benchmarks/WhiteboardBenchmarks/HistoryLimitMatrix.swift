import Benchmark
import Scuttlebutt
import Whiteboard

/// Bursty, action-heavy board traffic as an authority-less replica receives
/// it: 16 origins drawing strokes of 50 extends at 10 updates per
/// millisecond in all, one update in 400 an erase of the origin's previous
/// stroke (late points of that stroke rewind), delivered in bursts of
/// 32 updates per origin, with every 8th burst arriving 512 updates late.
let burstyBoardTraffic: [Update<BoardAction>] = {
    let origins = 16
    let total = 100_000
    let start: UInt64 = 1_764_316_800_000
    var seqs = [UInt64](repeating: 0, count: origins)
    var strokes = [ElementID?](repeating: nil, count: origins)
    var previousStrokes = [ElementID?](repeating: nil, count: origins)
    var generated: [[Update<BoardAction>]] = Array(repeating: [], count: origins)
    for index in 0..<total {
        let origin = index % origins
        seqs[origin] += 1
        let id = ElementID(origin: PeerID(UInt64(origin + 1)), seq: seqs[origin])
        let action: BoardAction
        if index % 400 == 399, let previous = previousStrokes[origin] ?? strokes[origin] {
            action = .erase([previous])
        } else if let stroke = strokes[origin], seqs[origin] % 51 != 0 {
            action = .extendStroke(stroke, points: [Point(Int32(index % 400), Int32(index % 240))])
        } else {
            action = .beginStroke(at: Point(Int32(origin * 20), 0), style: Style(color: UInt8(origin)))
            previousStrokes[origin] = strokes[origin]
            strokes[origin] = id
        }
        let stamp = Timestamp(milliseconds: start + UInt64(index / 10), counter: UInt16(index % 10))
        generated[origin].append(Update(origin: id.origin, seq: id.seq, timestamp: stamp, action: action))
    }
    // Bursts of 32 per origin, round robin; every 8th burst is held back.
    var bursts: [[Update<BoardAction>]] = []
    var cursor = [Int](repeating: 0, count: origins)
    while cursor.enumerated().contains(where: { $0.element < generated[$0.offset].count }) {
        for origin in 0..<origins where cursor[origin] < generated[origin].count {
            let end = min(cursor[origin] + 32, generated[origin].count)
            bursts.append(Array(generated[origin][cursor[origin]..<end]))
            cursor[origin] = end
        }
    }
    var delivered: [Update<BoardAction>] = []
    var held: [(due: Int, burst: [Update<BoardAction>])] = []
    for (index, burst) in bursts.enumerated() {
        if index % 8 == 7 {
            held.append((delivered.count + 512, burst))
        } else {
            delivered += burst
        }
        while let first = held.first, first.due <= delivered.count {
            delivered += first.burst
            held.removeFirst()
        }
    }
    for (_, burst) in held { delivered += burst }
    return delivered
}()

/// Rewinds in one run (not per update).
let rewindsMetric = BenchmarkMetric.custom("rewinds", useScalingFactor: false)
/// Applies replayed by rewinds in one run.
let replayedMetric = BenchmarkMetric.custom("replayed applies", useScalingFactor: false)

/// Updates the replica could not apply: below its horizon, or after one that was.
let notAppliedMetric = BenchmarkMetric.custom("not applied", useScalingFactor: false)

/// The history limits the mission asks to compare.
let historyLimits: [(String, HistoryLimit)] = [
    ("n=1k", .count(1_000)), ("n=10k", .count(10_000)), ("n=100k", .count(100_000)),
    ("t=1s", .age(milliseconds: 1_000)), ("t=10s", .age(milliseconds: 10_000)), ("t=60s", .age(milliseconds: 60_000)),
    ("consensus", .frontier),
]

/// One benchmark per history limit and snapshot interval: receive the whole
/// bursty stream; the wall clock follows the stamps; under consensus the
/// frontier trails the newest stamp by 200 ms, as a server would announce it.
func historyLimitMatrix() {
    for (name, limit) in historyLimits {
        for interval in [1, 16, 64] {
            Benchmark(
                "Bursty board traffic, 100k updates, history \(name), snapshot every \(interval)",
                configuration: .init(
                    metrics: [.wallClock, .peakMemoryResident, rewindsMetric, replayedMetric, notAppliedMetric],
                    maxIterations: 5)
            ) { benchmark in
                let traffic = burstyBoardTraffic
                let clock = ManualClock(milliseconds: traffic[0].timestamp.milliseconds)
                var configuration = ReplicaConfiguration()
                configuration.historyLimit = limit
                configuration.snapshotPolicy = .every(interval)
                configuration.maxClockSkew = 600_000
                let store = ReplicatedStore(
                    peer: PeerID(0), reducer: BoardReducer(), initialState: Board(), configuration: configuration,
                    wallClock: clock)
                var newest = Timestamp.zero
                benchmark.startMeasurement()
                for (index, update) in traffic.enumerated() {
                    newest = max(newest, update.timestamp)
                    clock.set(milliseconds: newest.milliseconds)
                    blackHole(store.receive(update))
                    if case .frontier = limit, index % 256 == 255 {
                        store.advanceFrontier(to: Timestamp(milliseconds: newest.milliseconds - 200, counter: 0))
                    }
                }
                benchmark.stopMeasurement()
                benchmark.measurement(rewindsMetric, store.timeline.statistics.rewinds)
                benchmark.measurement(replayedMetric, store.timeline.statistics.replayedApplies)
                // Below the horizon, then refused for the seq gap it leaves:
                // this replica would need a snapshot.
                benchmark.measurement(notAppliedMetric, traffic.count - Int(store.digest.totalCount))
            }
        }
    }
}
