import Benchmark
import NIOCore
import Scuttlebutt
import Whiteboard
import Wire
import Workloads

/// A deterministic board of `count` elements spread over `area`: strokes of
/// 20 points, rectangles, ellipses and short texts, from 8 origins.
func makeBoardUpdates(count: Int, area: Rect) -> [Update<BoardAction>] {
    var generator = SplitMix64(seed: 7)
    var seqs = [UInt64](repeating: 0, count: 8)
    var updates: [Update<BoardAction>] = []
    var stamp: UInt64 = 1_000
    func next(_ origin: Int, _ action: BoardAction) -> Update<BoardAction> {
        seqs[origin] += 1
        stamp += 1
        return Update(
            origin: PeerID(UInt64(origin + 1)), seq: seqs[origin], timestamp: Timestamp(stamp), action: action)
    }
    func point() -> Point {
        Point(
            Int32(Int64(area.minX) + Int64(generator.next() % UInt64(area.width))),
            Int32(Int64(area.minY) + Int64(generator.next() % UInt64(area.height))))
    }
    for index in 0..<count {
        let origin = index % 8
        let style = Style(color: UInt8(truncatingIfNeeded: generator.next()))
        let start = point()
        switch index % 4 {
        case 0:
            let begin = next(origin, .beginStroke(at: start, style: style))
            updates.append(begin)
            var last = start
            for _ in 0..<6 {
                let points = (0..<3).map { _ in
                    last = Point(last.x + Int32(generator.next() % 5) - 2, last.y + Int32(generator.next() % 5) - 2)
                    return last
                }
                updates.append(next(origin, .extendStroke(begin.id, points: points)))
            }
            updates.append(next(origin, .endStroke(begin.id)))
        case 1:
            updates.append(
                next(origin, .addShape(.rectangle, from: start, to: start.offset(by: Point(12, 8)), style: style)))
        case 2:
            updates.append(
                next(origin, .addShape(.ellipse, from: start, to: start.offset(by: Point(10, 10)), style: style)))
        default:
            updates.append(next(origin, .addText(at: start, text: "note \(index)", style: style)))
        }
    }
    return updates
}

/// A timeline holding a 10 000-element board (spatially indexed, as a
/// client's is, when `indexed`), and a stream of fresh updates.
final class BoardBox: @unchecked Sendable {
    var timeline: Timeline<BoardReducer>
    var seq: UInt64 = 0
    var stamp: UInt64 = 10_000_000
    let target: ElementID
    let stroke: ElementID

    init(policy: SnapshotPolicy = BoardReducer.recommendedSnapshotPolicy, indexed: Bool = false) {
        timeline = Timeline(reducer: BoardReducer(), base: Board(spatiallyIndexed: indexed), snapshotPolicy: policy)
        let updates = makeBoardUpdates(count: 10_000, area: Rect(minX: 0, minY: 0, maxX: 1_999, maxY: 1_199))
        for update in updates { timeline.insert(update) }
        // The first element: a stroke (updates[1] is its first extend).
        target = updates[0].id
        let begin = Update<BoardAction>(
            origin: PeerID(999), seq: 1, timestamp: Timestamp(stamp),
            action: .beginStroke(at: Point(5, 5), style: Style(color: 9)))
        timeline.insert(begin)
        stroke = begin.id
        seq = 1
    }

    func apply(_ action: BoardAction) {
        seq += 1
        stamp += 1
        timeline.insert(Update(origin: PeerID(999), seq: seq, timestamp: Timestamp(stamp), action: action))
    }
}

let benchmarks: @Sendable () -> Void = {
    historyLimitMatrix()
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 3, maxDuration: .seconds(3),
        maxIterations: 1_000)

    // MARK: Apply per action kind, into a timeline over a 10 000-element board

    let kinds: [(String, (BoardBox) -> BoardAction)] = [
        ("extendStroke (2 points)", { box in .extendStroke(box.stroke, points: [Point(6, 6), Point(7, 6)]) }),
        ("beginStroke", { _ in .beginStroke(at: Point(3, 3), style: Style(color: 2)) }),
        ("addShape", { _ in .addShape(.rectangle, from: Point(3, 3), to: Point(9, 9), style: Style(color: 2)) }),
        ("addText", { _ in .addText(at: Point(3, 3), text: "hello", style: Style(color: 2)) }),
        ("move", { box in .move(box.target, by: Point(1, 0)) }),
        ("restyle", { box in .restyle(box.target, Style(color: 3)) }),
        ("delete + undo", { box in .delete(box.target) }),
        ("erase (by id) + undo", { box in .erase([box.target]) }),
        (
            "eraseArea of older peers (scans every element)",
            { _ in .eraseArea(Rect(minX: 0, minY: 0, maxX: 3, maxY: 3)) }
        ),
    ]
    for (name, make) in kinds {
        Benchmark("Apply \(name), board of 10k elements", configuration: .init(scalingFactor: .kilo, maxIterations: 20))
        {
            (benchmark: Benchmark, box: BoardBox) in
            for _ in benchmark.scaledIterations {
                box.apply(make(box))
                if name.hasPrefix("delete") || name.hasPrefix("erase (") { box.apply(.undo) }
            }
        } setup: {
            BoardBox()
        }
    }
    // What keeping the spatial index costs a client's replica.
    for (name, make) in kinds.prefix(5) {
        Benchmark(
            "Apply \(name), spatially indexed board of 10k elements",
            configuration: .init(scalingFactor: .kilo, maxIterations: 20)
        ) { (benchmark: Benchmark, box: BoardBox) in
            for _ in benchmark.scaledIterations { box.apply(make(box)) }
        } setup: {
            BoardBox(indexed: true)
        }
    }

    Benchmark(
        "Apply extendStroke (2 points), board of 10k elements, dense snapshot tail (64/64)",
        configuration: .init(scalingFactor: .kilo, maxIterations: 20)
    ) { (benchmark: Benchmark, box: BoardBox) in
        for _ in benchmark.scaledIterations {
            box.apply(.extendStroke(box.stroke, points: [Point(6, 6), Point(7, 6)]))
        }
    } setup: {
        BoardBox(policy: .standard)
    }

    // MARK: PNG

    Benchmark(
        "PNG of a board of 10k elements, whole board fitted to 1920x1080 (render + deflate)",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 20)
    ) { (benchmark: Benchmark, board: Board) in
        for _ in benchmark.scaledIterations {
            let image = PNGExporter.render(board, fitting: board.visibleBounds!, width: 1_920, height: 1_080)
            blackHole(PNGExporter.encode(image))
        }
    } setup: {
        spreadBoard(indexed: true)
    }

    for indexed in [false, true] {
        Benchmark(
            "Erase hit-test (what an eraser cell touches), \(indexed ? "spatially indexed " : "")board of 10k elements"
        ) { (benchmark: Benchmark, board: Board) in
            for index in benchmark.scaledIterations {
                let x = Int32(index % 1_990)
                blackHole(board.erasable(in: Rect(minX: x, minY: 600, maxX: x + 1, maxY: 601)))
            }
        } setup: {
            spreadBoard(indexed: indexed)
        }
    }

    // MARK: Rendering

    for indexed in [false, true] {
        Benchmark(
            "Render 200x60 half-block viewport, \(indexed ? "spatially indexed " : "")board of 10k elements "
                + "spread over 10x10 screens"
        ) { (benchmark: Benchmark, board: Board) in
            for _ in benchmark.scaledIterations {
                var rasterizer = Rasterizer(viewport: Viewport(origin: Point(800, 480), columns: 200, rows: 60))
                blackHole(rasterizer.render(board))
            }
        } setup: {
            spreadBoard(indexed: indexed)
        }
    }

    for indexed in [false, true] {
        Benchmark(
            "Render 200x60 half-block viewport, \(indexed ? "spatially indexed " : "")board of 10k elements all on screen"
        ) { (benchmark: Benchmark, board: Board) in
            for _ in benchmark.scaledIterations {
                var rasterizer = Rasterizer(viewport: Viewport(origin: .zero, columns: 200, rows: 60))
                blackHole(rasterizer.render(board))
            }
        } setup: {
            var timeline = Timeline(reducer: BoardReducer(), base: Board(spatiallyIndexed: indexed))
            for update in makeBoardUpdates(count: 10_000, area: Rect(minX: 0, minY: 0, maxX: 199, maxY: 119)) {
                timeline.insert(update)
            }
            return timeline.state
        }
    }

    Benchmark(
        "Incremental re-render after one stroke extend (apply, damage, repaint), 200x60, indexed board of 10k elements"
    ) { (benchmark: Benchmark, box: RenderBox) in
        for _ in benchmark.scaledIterations { box.extendAndRender() }
    } setup: {
        RenderBox()
    }

    // MARK: Snapshots (for checkpoints)

    Benchmark(
        "Snapshot: encode + decode a board of 10k elements",
        configuration: .init(
            metrics: [.wallClock, .custom("snapshot bytes", useScalingFactor: false)], maxIterations: 50)
    ) { (benchmark: Benchmark, board: Board) in
        var size = 0
        for _ in benchmark.scaledIterations {
            let bytes = BoardSnapshotCodec.encode(board)
            size = bytes.count
            blackHole(try BoardSnapshotCodec.decode(bytes))
        }
        benchmark.measurement(.custom("snapshot bytes", useScalingFactor: false), size)
    } setup: {
        BoardBox().timeline.state
    }

    // MARK: Wire

    Benchmark(
        "Wire: encode 1 000 live stroke-extend frames (one update each)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo)
    ) { (benchmark: Benchmark, frames: [Update<BoardAction>]) in
        var encoder = WireEncoder<BoardActionCodec>()
        var buffer = ByteBufferAllocator().buffer(capacity: 64 * 1_024)
        for index in benchmark.scaledIterations { encoder.encode(.updates([frames[index]]), into: &buffer) }
        blackHole(buffer)
    } setup: {
        strokeExtends(count: 1_000)
    }

    Benchmark(
        "Wire: decode 1 000 live stroke-extend frames (one update each)",
        configuration: .init(
            metrics: [
                .wallClock, .throughput, .mallocCountTotal, .custom("bytes per frame ×100", useScalingFactor: false),
            ],
            scalingFactor: .kilo)
    ) { (benchmark: Benchmark, bytes: [UInt8]) in
        var decoder = WireDecoder<BoardActionCodec>()
        var buffer = ByteBuffer(bytes: bytes)
        for _ in benchmark.scaledIterations {
            blackHole(try? decoder.nextFrame(from: &buffer).map { try decoder.decode(payload: $0) })
        }
        benchmark.measurement(.custom("bytes per frame ×100", useScalingFactor: false), bytes.count * 100 / 1_000)
    } setup: {
        var encoder = WireEncoder<BoardActionCodec>()
        return strokeExtends(count: 1_000).flatMap { encoder.encode(.updates([$0])) }
    }

    // MARK: Codec

    Benchmark(
        "Codec: encode + decode a 2-point stroke extend",
        configuration: .init(
            metrics: [
                .wallClock, .throughput, .mallocCountTotal, .custom("bytes per extend", useScalingFactor: false),
            ],
            scalingFactor: .kilo)
    ) {
        benchmark in
        let context = UpdateID(origin: PeerID(1), seq: 120)
        let action = BoardAction.extendStroke(
            UpdateID(origin: PeerID(1), seq: 100), points: [Point(1_502, 803), Point(1_504, 802)])
        var bytes = 0
        for _ in benchmark.scaledIterations {
            let encoded = BoardActionCodec.encode(action, context: context)
            bytes = encoded.count
            blackHole(try? BoardActionCodec.decode(encoded, context: context))
        }
        benchmark.measurement(.custom("bytes per extend", useScalingFactor: false), bytes)
    }
}

/// A stroke drawn at about 60 Hz: `count` extends of 1–3 points.
func strokeExtends(count: Int) -> [Update<BoardAction>] {
    var generator = SplitMix64(seed: 3)
    let stroke = UpdateID(origin: PeerID(0xA11CE), seq: 1)
    var point = Point(1_500, 800)
    var milliseconds: UInt64 = 1_764_316_800_000
    return (0..<count).map { index in
        milliseconds += 10 + generator.next() % 11
        let points = (0..<(1 + Int(generator.next() % 3))).map { _ in
            point = Point(point.x + Int32(generator.next() % 7) - 3, point.y + Int32(generator.next() % 5) - 2)
            return point
        }
        return Update(
            origin: stroke.origin, seq: UInt64(index + 2), timestamp: Timestamp(milliseconds: milliseconds, counter: 0),
            action: .extendStroke(stroke, points: points))
    }
}

/// 10 000 elements over 2,000 × 1,200 pixels (10 × 10 screens of 200 × 120).
func spreadBoard(indexed: Bool) -> Board {
    var timeline = Timeline(reducer: BoardReducer(), base: Board(spatiallyIndexed: indexed))
    for update in makeBoardUpdates(count: 10_000, area: Rect(minX: 0, minY: 0, maxX: 1_999, maxY: 1_199)) {
        timeline.insert(update)
    }
    return timeline.state
}

/// A rasterizer showing part of a 10 000-element board (spatially indexed,
/// as a client's is), and a stroke being drawn across that part, repainted
/// as the terminal's composer does: where the board's damage says.
final class RenderBox: @unchecked Sendable {
    let box = BoardBox(indexed: true)
    var rasterizer = Rasterizer(viewport: Viewport(origin: .zero, columns: 200, rows: 60))
    var x: Int32 = 6

    init() { rasterizer.render(box.timeline.state) }

    func extendAndRender() {
        let before = box.timeline.state
        x = x >= 190 ? 6 : x + 1
        box.apply(.extendStroke(box.stroke, points: [Point(x, 40)]))
        let after = box.timeline.state
        for region in after.damage(since: before, in: rasterizer.viewport.canvasRect) ?? [] {
            rasterizer.render(after, dirty: region)
        }
    }
}
