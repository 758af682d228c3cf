import Benchmark
import Client
import Foundation
import Rooms
import Scuttlebutt
import Server
import Storage
import Whiteboard

func temporaryDatabase() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "scuttleboard-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent("rooms.sqlite").path
}

/// A database holding one room of `count` actions: strokes of 100 extends
/// from 16 origins, as a busy board accumulates them.
func databaseWithRoom(of count: Int) async throws -> String {
    let path = try temporaryDatabase()
    let log = try DurableLog(path: path, durability: .off)
    var seqs = [UInt64](repeating: 0, count: 16)
    var strokes = [UpdateID?](repeating: nil, count: 16)
    var batch: [StoredUpdate] = []
    let start: UInt64 = 1_764_316_800_000
    for index in 0..<count {
        let origin = index % 16
        seqs[origin] += 1
        let id = UpdateID(origin: PeerID(UInt64(origin + 1)), seq: seqs[origin])
        let action: BoardAction
        if let stroke = strokes[origin], seqs[origin] % 100 != 0 {
            action = .extendStroke(stroke, points: [Point(Int32(index % 2_000), Int32(index % 1_200))])
        } else {
            action = .beginStroke(at: Point(Int32(index % 2_000), 0), style: Style(color: UInt8(origin)))
            strokes[origin] = id
        }
        batch.append(
            StoredUpdate(
                origin: id.origin, seq: id.seq, timestamp: Timestamp(milliseconds: start + UInt64(index), counter: 0),
                action: BoardActionCodec.encode(action, context: id)))
        if batch.count == 10_000 {
            try await log.append(room: "big", batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    if !batch.isEmpty { try await log.append(room: "big", batch) }
    // A running server persists the frontier as it advances, a little
    // behind the newest updates.
    try await log.setFrontier(Timestamp(milliseconds: start + UInt64(count) - 1_000, counter: 0), room: "big")
    try log.checkpoint()
    return path
}

/// A database from ``databaseWithRoom(of:)`` whose room has a checkpoint at
/// the persisted frontier, as a running server leaves it.
func checkpointedDatabaseWithRoom(of count: Int) async throws -> String {
    let path = try await databaseWithRoom(of: count)
    var configuration = ServerConfiguration()
    configuration.databasePath = path
    let server = try ScuttleboardServer(configuration: configuration)
    guard let room = try await server.room(named: "big") else { throw SetupFailure("room \"big\" did not load") }
    await room.checkpoint()
    guard try server.log.load(room: "big").checkpoint != nil else { throw SetupFailure("no checkpoint was written") }
    return path
}

/// Runs a server in the background until `body` returns.
func withServer<T>(
    _ configure: (inout ServerConfiguration) -> Void, _ body: (ScuttleboardServer, Int) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.databasePath = nil
    configure(&configuration)
    let server = try ScuttleboardServer(configuration: configuration)
    let (port, serving) = try await server.startInBackground()
    let result = try await body(server, port)
    await server.shutdown()
    serving.cancel()
    return result
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident], warmupIterations: 0, maxDuration: .seconds(30), maxIterations: 3)

    for count in [100_000, 1_000_000] {
        recoveryBenchmark("Recover a room of \(count) actions from SQLite (open, read, replay)") {
            try await databaseWithRoom(of: count)
        }
    }
    recoveryBenchmark(
        "Recover a room of 1000000 actions from its checkpoint (open, read checkpoint + suffix, replay)"
    ) {
        try await checkpointedDatabaseWithRoom(of: 1_000_000)
    }

    Benchmark("Late joiner reaches live in a room of 1000000 actions (loopback: snapshot + suffix)") {
        (benchmark: Benchmark, path: String) in
        try await withServer({ $0.databasePath = path }) { server, port in
            // The room is loaded before the clock starts: this measures the
            // joiner, not the server's restart.
            blackHole(try await server.room(named: "big"))
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                let client = try BoardClient(
                    configuration: ClientConfiguration(host: "127.0.0.1", port: port, room: "big", name: "late"))
                let running = Task { await client.run() }
                while await client.state != .live { try await Task.sleep(for: .milliseconds(1)) }
                benchmark.stopMeasurement()
                blackHole(await client.board.elements.count)
                running.cancel()
            }
        }
    } setup: {
        try await checkpointedDatabaseWithRoom(of: 1_000_000)
    }

    for writers in [1, 4] {
        Benchmark(
            "In-process room fan-out: \(writers) writer(s) send batches of 64, 8 watchers ack (delivered to watchers)",
            configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .mega, maxIterations: 5)
        ) { benchmark in
            try await inProcessFanOut(benchmark, writers: writers, watchers: 8)
        }
    }

    Benchmark(
        "Fan-out over loopback: 1 client draws 2 000 updates, 8 watch (delivered updates)",
        configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .kilo, maxIterations: 5)
    ) { benchmark in
        try await withServer({ $0.maxUpdatesPerSecond = 1_000_000 }) { _, port in
            try await loopbackFanOut(benchmark, port: port)
        }
    }
}

/// One `BoardClient` draws, one update at a time; eight watch until they hold it all.
func loopbackFanOut(_ benchmark: Benchmark, port: Int) async throws {
    func client(_ name: String) throws -> BoardClient {
        var settings = ClientConfiguration(host: "127.0.0.1", port: port, room: "fanout", name: name)
        settings.minReconnectDelay = 10
        return try BoardClient(configuration: settings)
    }
    let drawer = try client("drawer")
    let watchers = try (0..<8).map { try client("watcher\($0)") }
    let tasks = ([drawer] + watchers).map { peer in Task { await peer.run() } }
    for watcher in watchers { while await watcher.state != .live { try await Task.sleep(for: .milliseconds(5)) } }
    let total = benchmark.scaledIterations.count * 2
    benchmark.startMeasurement()
    let stroke = try await drawer.record(.beginStroke(at: .zero, style: Style(color: 1)))
    for index in 1..<total {
        try await drawer.record(.extendStroke(stroke.id, points: [Point(Int32(index % 500), Int32(index % 300))]))
    }
    for watcher in watchers {
        while await watcher.digest[drawer.peer] < UInt64(total) { try await Task.sleep(for: .milliseconds(1)) }
    }
    benchmark.stopMeasurement()
    tasks.forEach { $0.cancel() }
}

/// Opens a server on the database `setup` makes and loads room "big".
func recoveryBenchmark(_ name: String, setup: @escaping @Sendable () async throws -> String) {
    Benchmark(name) { (benchmark: Benchmark, path: String) in
        for _ in benchmark.scaledIterations {
            var configuration = ServerConfiguration()
            configuration.databasePath = path
            let server = try ScuttleboardServer(configuration: configuration)
            blackHole(try await server.room(named: "big"))
        }
    } setup: {
        try await setup()
    }
}

/// A benchmark's setup did not produce what the measurement needs.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writers send batches of 64 updates to one room concurrently, with no
/// sockets; watchers acknowledge every batch. One scaled iteration is one
/// update delivered to one watcher.
func inProcessFanOut(_ benchmark: Benchmark, writers writerCount: Int, watchers watcherCount: Int) async throws {
    var configuration = ServerConfiguration()
    configuration.databasePath = nil
    configuration.maxUpdatesPerSecond = 100_000_000
    configuration.commitInterval = .zero
    let server = try ScuttleboardServer(configuration: configuration)
    guard let room = try await server.room(named: "fanout") else { throw SetupFailure("room \"fanout\" did not load") }
    func hello(_ peer: PeerID) -> Hello {
        Hello(
            protocolVersion: 1, peer: peer, name: "bench", room: "fanout", role: .editor, credentials: nil,
            digest: Digest(), clock: .zero)
    }
    let written = benchmark.scaledIterations.count / watcherCount / writerCount * writerCount
    var watchers: [Task<Int, Never>] = []
    for index in 0..<watcherCount {
        let (stream, continuation) = AsyncStream.makeStream(of: [GossipMessage<BoardAction>].self)
        let id = await room.join(hello: hello(PeerID(UInt64(1_000 + index))), output: continuation)
        watchers.append(
            Task {
                var received = 0
                for await messages in stream {
                    var batches: UInt32 = 0
                    for case .updates(let batch) in messages {
                        received += batch.count
                        batches += 1
                    }
                    if batches > 0 { await room.handle([.ack(batches: batches, clock: .zero)], from: id) }
                    if received >= written { break }
                }
                return received
            })
    }
    var sends: [(SessionID, AsyncStream<[GossipMessage<BoardAction>]>, [[Update<BoardAction>]])] = []
    for index in 0..<writerCount {
        let writer = ReplicatedStore(
            peer: PeerID(UInt64(index + 1)), reducer: BoardReducer(), initialState: Board(),
            configuration: .board(isAuthority: false), wallClock: SystemWallClock())
        let (stream, continuation) = AsyncStream.makeStream(of: [GossipMessage<BoardAction>].self)
        let id = await room.join(hello: hello(writer.peer), output: continuation)
        let stroke = try writer.record(.beginStroke(at: .zero, style: Style(color: 1)))
        var batches = [[stroke]]
        for step in 1..<(written / writerCount) {
            let update = try writer.record(
                .extendStroke(stroke.id, points: [Point(Int32(step % 500), Int32(step % 300))]))
            if batches[batches.count - 1].count == 64 { batches.append([]) }
            batches[batches.count - 1].append(update)
        }
        sends.append((id, stream, batches))
    }
    benchmark.startMeasurement()
    await withTaskGroup(of: Void.self) { group in
        for (id, stream, batches) in sends {
            group.addTask {
                // As a peer does: at most a window (4) of batches unacknowledged.
                var replies = stream.makeAsyncIterator()
                var unacknowledged = 0
                for batch in batches {
                    while unacknowledged >= 4, let messages = await replies.next() {
                        for case .ack(let count, _) in messages { unacknowledged -= Int(count) }
                    }
                    await room.handle([.updates(batch)], from: id)
                    unacknowledged += 1
                }
            }
        }
    }
    var delivered = 0
    for watcher in watchers { delivered += await watcher.value }
    benchmark.stopMeasurement()
    precondition(delivered == written * watcherCount, "delivered \(delivered) of \(written * watcherCount)")
    for (id, _, _) in sends { await room.leave(id) }
}
