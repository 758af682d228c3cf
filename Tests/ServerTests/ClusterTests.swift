import Client
import Foundation
import PostgresStorage
import Scuttlebutt
import Storage
import TestHarness
import Testing
import Whiteboard

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Nodes of a cluster as real `scuttleboard serve --node` processes on one
/// PostgreSQL database: a node killed or paused while clients draw, and
/// what the shared log holds afterwards.
@Suite(.serialized, .stopsWhatItStarts, .enabled(if: TestPostgres.serverURL != nil, "\(TestPostgres.absence)"))
struct ClusterTests {
    /// A node running as a process.
    struct Node {
        let name: String
        let port: Int
        let httpPort: Int
        let process: ServerProcess

        var address: ServerAddress { ServerAddress(host: "127.0.0.1", port: port) }
    }

    /// Starts node `name` on a free port, sharing `store`.
    static func startNode(_ name: String, store: String, lease: String = "3s") async throws -> Node {
        let (port, httpPort) = (try await freePort(), try await freePort())
        let process = try ServerProcess(
            executable: ProcessTests.executable.path,
            arguments: [
                "--node", name, "--port", "\(port)", "--http-port", "\(httpPort)", "--store", store, "--lease", lease,
                "--log-level", "notice", "--store-timeout", "\(TestPostgres.operationTimeout.components.seconds)s",
            ])
        _ = try process.line(containing: "serving on ")
        return Node(name: name, port: port, httpPort: httpPort, process: process)
    }

    /// `path` on a node's HTTP port (redirects followed): status and body.
    static func fetch(_ node: Node, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(
            from: URL(string: "http://127.0.0.1:\(node.httpPort)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// A time budget of `seconds`: the issue's, or three times as long
    /// under a sanitizer (node processes ten times slower beside a dozen
    /// suites on two cores). The order of events it checks holds either way.
    static func budget(_ seconds: Int) -> Duration {
        ProcessInfo.processInfo.environment["SCUTTLEBOARD_SANITIZER"] == nil ? .seconds(seconds) : .seconds(3 * seconds)
    }

    /// A client of `room` that starts at `first` and knows the other nodes.
    static func client(_ room: String, _ name: String, first: Node, others: [Node]) throws -> BoardClient {
        var configuration = ClientConfiguration(host: "127.0.0.1", port: first.port, room: room, name: name)
        configuration.otherServers = others.map(\.address)
        configuration.minReconnectDelay = 50
        configuration.maxReconnectDelay = 1_000
        return try BoardClient(configuration: configuration)
    }

    /// A short text, at a place of its own for each `index`.
    static func text(_ index: Int) -> BoardAction {
        .addText(at: Point(Int32(index % 40), Int32(index / 40)), text: "t\(index)", style: Style(color: 3))
    }

    /// The board the shared log holds for `room`, folded from its history.
    static func storedBoard(_ room: String, in log: PostgresLog) async throws -> (Board, [StoredUpdate]) {
        let history = try await log.history(room: room)
        var board = Board()
        let reducer = BoardReducer()
        for stored in history {
            guard let update = stored.decoded(with: BoardActionCodec.decode) else {
                throw ScratchDatabaseError(message: "update \(stored.origin)#\(stored.seq) does not decode")
            }
            reducer.reduce(&board, update)
        }
        return (board, history)
    }

    @Test func killingTheNodeOfABusyRoomLosesNothingAndEveryRoomConverges() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let nodes = [
                try await Self.startNode("n1", store: url), try await Self.startNode("n2", store: url),
                try await Self.startNode("n3", store: url),
            ]
            defer { for node in nodes { _ = node.process.stop(SIGKILL) } }
            let log = try await PostgresLog.open(
                try PostgresLocation(url: url), reading: true, operationTimeout: TestPostgres.operationTimeout)
            // Two rooms, two clients each, each client starting at another node.
            let clients: [(room: String, client: BoardClient)] = try ["busy", "busy", "calm", "calm"].enumerated().map {
                index, room in
                let first = nodes[index % 3]
                return (
                    room,
                    try Self.client(room, "c\(index)", first: first, others: nodes.filter { $0.port != first.port })
                )
            }
            let runs = clients.map { entry in Task { await entry.client.run() } }
            for (_, client) in clients {
                try await withTimeout(20, "a client to go live") { try await client.waitUntilLive() }
            }
            // Everyone draws, one action every 20 ms, for 4 s; 1.5 s in,
            // the node holding "busy" is killed.
            let drawing = clients.enumerated().map { index, entry in
                Task {
                    for step in 0..<200 {
                        _ = try? await entry.client.record(Self.text(index * 1_000 + step))
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(1_500))
            let before = try #require(try await log.lease(of: "busy"))
            let victim = try #require(nodes.first { $0.name == before.node })
            // Any node serves the room's board over HTTP: the others redirect to its holder.
            for node in nodes {
                let (status, body) = try await Self.fetch(node, "/rooms/busy/board.json")
                #expect(status == 200 && body.contains("\"elements\""), "\(node.name): \(status) \(body.prefix(80))")
            }
            let metrics = try await Self.fetch(victim, "/metrics").1
            #expect(metrics.contains("scuttleboard_lease_renewals_total "), "\(metrics)")
            kill(victim.process.pid, SIGKILL)
            let killed = ContinuousClock.now
            // The room is live again on another node within the budget: 5 s
            // after the kill (the lease is 3 s).
            var movedAfter: Duration?
            while ContinuousClock.now - killed < Self.budget(10) {
                if let lease = try await log.lease(of: "busy"), lease.node != victim.name,
                    lease.remainingMilliseconds > 0
                {
                    movedAfter = ContinuousClock.now - killed
                    #expect(lease.epoch == before.epoch + 1)
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let moved = try #require(movedAfter, "the busy room never moved off the killed node")
            #expect(moved <= Self.budget(5), "busy was live again \(moved) after the kill")
            let after = try #require(try await log.lease(of: "busy"))
            let taker = try #require(nodes.first { $0.name == after.node })
            try await eventually(10, "the new holder to count its takeover") {
                ((try? await Self.fetch(taker, "/metrics").1) ?? "").contains("scuttleboard_failovers_total 1\n")
            }
            // Every client of the busy room is back within 10 s of the kill.
            try await eventually(30, "every client of the busy room to reconnect") {
                for (room, client) in clients where room == "busy" {
                    if await client.state != .live { return false }
                }
                return true
            }
            let reconnected = ContinuousClock.now - killed
            #expect(reconnected <= Self.budget(10), "clients were back \(reconnected) after the kill")
            for task in drawing { await task.value }
            // Everything sent is acknowledged, every room converges, and the
            // shared log holds exactly what was acknowledged.
            try await eventually(30, "every client to be confirmed and converged") {
                for (_, client) in clients where await client.pendingCount > 0 { return false }
                for room in ["busy", "calm"] {
                    let digests = await clients.filter { $0.room == room }.asyncMap { await $0.client.digest }
                    if Set(digests).count != 1 { return false }
                }
                return true
            }
            for room in ["busy", "calm"] {
                let members = clients.filter { $0.room == room }.map(\.client)
                let (stored, history) = try await Self.storedBoard(room, in: log)
                for client in members {
                    #expect(await client.board == stored, "\(room): the log's board is the client's")
                    let own = history.filter { $0.origin == client.peer }.map(\.seq)
                    #expect(
                        own == Array(1...(await client.digest[client.peer])), "\(room): every acknowledged update, once"
                    )
                }
                #expect(history.count == 400, "\(room): 200 updates from each of two clients")
            }
            for run in runs { run.cancel() }
            for run in runs { await run.value }
            await log.close()
            for node in nodes where node.port != victim.port { #expect(node.process.stop() == 0) }
        }
    }

    @Test func aStoppingNodeHandsItsRoomsOverWithoutWaitingForTheirLeases() async throws {
        try await TestPostgres.withScratchDatabase { url in
            // A long lease: a room that moves sooner was handed over, not left to lapse.
            let nodes = [
                try await Self.startNode("d1", store: url, lease: "\(Self.budget(10).components.seconds)s"),
                try await Self.startNode("d2", store: url, lease: "\(Self.budget(10).components.seconds)s"),
            ]
            defer { for node in nodes { _ = node.process.stop(SIGKILL) } }
            let log = try await PostgresLog.open(
                try PostgresLocation(url: url), reading: true, operationTimeout: TestPostgres.operationTimeout)
            let client = try Self.client("handover", "ada", first: nodes[0], others: [nodes[1]])
            let running = Task { await client.run() }
            try await withTimeout(20, "the client to go live") { try await client.waitUntilLive() }
            for step in 0..<5 { _ = try await client.record(Self.text(step)) }
            try await eventually(10, "the first five to be acknowledged") { await client.pendingCount == 0 }
            let first = try #require(try await log.lease(of: "handover"))
            let holder = try #require(nodes.first { $0.name == first.node })
            let other = try #require(nodes.first { $0.name != first.node })
            let stopped = ContinuousClock.now
            #expect(holder.process.stop(SIGTERM) == 0, "\(holder.process.text)")
            var handedOver: Duration?
            while ContinuousClock.now - stopped < Self.budget(8) {
                if let lease = try await log.lease(of: "handover"), lease.node == other.name {
                    #expect(lease.epoch == first.epoch + 1)
                    handedOver = ContinuousClock.now - stopped
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let moved = try #require(handedOver, "the room did not move to \(other.name)")
            #expect(moved < Self.budget(5), "handed over \(moved) after SIGTERM, well inside the lease")
            for step in 5..<10 { _ = try await client.record(Self.text(step)) }
            try await eventually(10, "the rest to be acknowledged by the other node") {
                let (pending, state) = (await client.pendingCount, await client.state)
                return pending == 0 && state == .live
            }
            #expect(try await log.history(room: "handover").map(\.seq) == Array(1...10))
            #expect(try await log.nodes().first { $0.name == holder.name }?.isDraining == true)
            running.cancel()
            await running.value
            await log.close()
            #expect(other.process.stop() == 0)
        }
    }

    @Test func aNodeThatLosesTheStoreSaysNotReadyAndServesAgainWhenItIsBack() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let node = try await Self.startNode("lonely", store: url, lease: "1500ms")
            defer { _ = node.process.stop(SIGKILL) }
            let client = try Self.client("solo", "ada", first: node, others: [])
            let running = Task { await client.run() }
            try await withTimeout(20, "the client to go live") { try await client.waitUntilLive() }
            #expect(try await Self.fetch(node, "/readyz") == (200, "ready\n"))
            // The store goes away for this node: its database takes no
            // connection, and the ones it had are cut.
            let database = try #require(URLComponents(string: url)?.path.dropFirst())
            let server = try #require(TestPostgres.serverURL)
            try await TestPostgres.psql(server, "ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
            try await TestPostgres.psql(
                server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
            try await eventually(15, "/readyz to say not ready") {
                let (status, body) = (try? await Self.fetch(node, "/readyz")) ?? (0, "")
                return status == 503 && body.hasPrefix("not ready: ")
            }
            // Back: the node takes writes and serves the room again.
            try await TestPostgres.psql(server, "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
            try await eventually(20, "/readyz to say ready again") {
                (try? await Self.fetch(node, "/readyz")) ?? (0, "") == (200, "ready\n")
            }
            _ = try await client.record(Self.text(1))
            try await eventually(20, "an update to be stored again") {
                let (pending, state) = (await client.pendingCount, await client.state)
                return pending == 0 && state == .live
            }
            running.cancel()
            await running.value
            #expect(node.process.stop() == 0, "\(node.process.text)")
        }
    }

    @Test func aNodePausedPastItsLeaseIsFencedAndDropsTheRoom() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let nodes = [
                try await Self.startNode("p1", store: url, lease: "1500ms"),
                try await Self.startNode("p2", store: url, lease: "1500ms"),
            ]
            defer {
                for node in nodes {
                    kill(node.process.pid, SIGCONT)
                    _ = node.process.stop(SIGKILL)
                }
            }
            let log = try await PostgresLog.open(
                try PostgresLocation(url: url), reading: true, operationTimeout: TestPostgres.operationTimeout)
            let writer = try Self.client("paused", "writer", first: nodes[0], others: [nodes[1]])
            let writing = Task { await writer.run() }
            try await withTimeout(20, "the writer to go live") { try await writer.waitUntilLive() }
            for step in 0..<5 { _ = try await writer.record(Self.text(step)) }
            try await eventually(10, "the first five to be acknowledged") { await writer.pendingCount == 0 }
            let first = try #require(try await log.lease(of: "paused"))
            let holder = try #require(nodes.first { $0.name == first.node })
            let other = try #require(nodes.first { $0.name != first.node })
            // The holder stops; the writer's next updates wait in its socket.
            kill(holder.process.pid, SIGSTOP)
            for step in 5..<10 { _ = try await writer.record(Self.text(step)) }
            try await Task.sleep(for: .milliseconds(2_500))
            // Past its lease: another client takes the room to the other node.
            let newcomer = try Self.client("paused", "newcomer", first: other, others: [])
            let joining = Task { await newcomer.run() }
            try await withTimeout(20, "the newcomer to go live") { try await newcomer.waitUntilLive() }
            let second = try #require(try await log.lease(of: "paused"))
            #expect(second.node == other.name && second.epoch == first.epoch + 1)
            for step in 100..<103 { _ = try await newcomer.record(Self.text(step)) }
            // The old holder resumes: whatever it tries to write is refused
            // by epoch, it drops the room, and the writer moves on.
            kill(holder.process.pid, SIGCONT)
            try await eventually(20, "both to be confirmed and to agree") {
                let (a, b) = (await writer.digest, await newcomer.digest)
                let pending = await writer.pendingCount + newcomer.pendingCount
                return pending == 0 && a == b && a[writer.peer] == 10 && a[newcomer.peer] == 3
            }
            let (stored, history) = try await Self.storedBoard("paused", in: log)
            #expect(history.filter { $0.origin == writer.peer }.map(\.seq) == Array(1...10), "nothing lost or doubled")
            #expect(history.filter { $0.origin == newcomer.peer }.map(\.seq) == [1, 2, 3])
            #expect(await writer.board == stored)
            try await eventually(10, "the old holder to say it lost the room") {
                holder.process.text.contains("lost the lease of a room")
                    || holder.process.text.contains("a write was refused by its lease epoch")
            }
            #expect(try await log.lease(of: "paused")?.node == other.name, "the room stayed where it moved")
            for task in [writing, joining] { task.cancel() }
            for task in [writing, joining] { await task.value }
            await log.close()
            for node in nodes { #expect(node.process.stop() == 0) }
        }
    }
}

extension Array {
    /// `transform` applied to each element in turn.
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var results: [T] = []
        for element in self { results.append(await transform(element)) }
        return results
    }
}
