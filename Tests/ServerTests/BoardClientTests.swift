import Client
import Foundation
import Glibc
import NIOCore
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard

@Suite(.serialized) struct BoardClientTests {
    func clientConfiguration(port: Int, room: String, database: String? = nil) -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: "tester")
        configuration.localDatabase = database
        configuration.minReconnectDelay = 20
        configuration.maxReconnectDelay = 200
        return configuration
    }

    func text(_ index: Int) -> BoardAction {
        .addText(at: Point(0, Int32(index) * 2), text: "line \(index)", style: Style(color: 2))
    }

    @Test func drawingOfflineSyncsWhenTheServerAppears() async throws {
        let port = try await freePort()
        let client = try BoardClient(configuration: clientConfiguration(port: port, room: "offline"))
        let running = Task { await client.run() }
        for index in 0..<10 { try await client.record(text(index)) }
        #expect(await client.board.visibleElements.count == 10, "the board is usable offline")
        #expect(await client.pendingCount == 10)
        let waiting = Task { try await client.waitUntilLive() }
        try await Task.sleep(for: .milliseconds(100))
        let server = try await RunningServer { $0.port = port }
        try await withTimeout(20, "waitUntilLive to return") { try await waiting.value }
        #expect(await client.state == .live)
        try await eventually(20, "the client to sync") {
            let (state, pending) = (await client.state, await client.pendingCount)
            return state == .live && pending == 0
        }
        #expect(try await server.server.log.load(room: "offline").updates.count == 10)
        running.cancel()
        await running.value
        await server.stop()
    }

    @Test func finishedEventStreamsDeliverWhatTheyBufferedThenEnd() async throws {
        let server = try await RunningServer()
        let writer = try BoardClient(configuration: clientConfiguration(port: server.port, room: "events"))
        let reader = try BoardClient(configuration: clientConfiguration(port: server.port, room: "events"))
        let events = await reader.events()
        let runs = [Task { await writer.run() }, Task { await reader.run() }]
        for index in 0..<20 { try await writer.record(text(index)) }
        try await eventually(20, "the reader to hold all 20") { await reader.digest[writer.peer] == 20 }
        await reader.finishEvents()
        // Nobody read the stream so far: all of it was buffered.
        let received = try await withTimeout(20, "the finished stream to end") {
            var stamps = 0
            for await case .received(let batch) in events { stamps += batch.count }
            return stamps
        }
        #expect(received == 20, "every update applied was in the stream before it ended")
        for run in runs { run.cancel() }
        for run in runs { await run.value }
        await server.stop()
    }

    @Test func aRestartedClientKeepsItsOriginAndItsQueue() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("client.sqlite").path
        let port = try await freePort()
        let firstPeer: PeerID
        do {
            let client = try BoardClient(
                configuration: clientConfiguration(port: port, room: "queue", database: database))
            firstPeer = client.peer
            for index in 0..<7 { try await client.record(text(index)) }
        }
        // A new process, as it were: same local database, server now up.
        let server = try await RunningServer { $0.port = port }
        let client = try BoardClient(configuration: clientConfiguration(port: port, room: "queue", database: database))
        #expect(client.peer == firstPeer)
        #expect(await client.pendingCount == 7)
        let running = Task { await client.run() }
        try await eventually(20, "the queue to drain") {
            let (state, pending) = (await client.state, await client.pendingCount)
            return state == .live && pending == 0
        }
        let stored = try await server.server.log.load(room: "queue").updates
        #expect(stored.count == 7)
        #expect(Set(stored.map(\.origin)) == [firstPeer])
        running.cancel()
        await running.value
        await server.stop()
    }

    @Test func workTheServerConfirmedIsNotPendingAfterARestart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("client.sqlite").path
        let server = try await RunningServer()
        do {
            let client = try BoardClient(
                configuration: clientConfiguration(port: server.port, room: "synced", database: database))
            let running = Task { await client.run() }
            for index in 0..<17 { try await client.record(text(index)) }
            try await eventually(20, "everything confirmed") { await client.pendingCount == 0 }
            running.cancel()
            await running.value
        }
        await server.stop()
        // Restarted while the server is away: nothing it confirmed is pending.
        let restarted = try BoardClient(
            configuration: clientConfiguration(port: server.port, room: "synced", database: database))
        #expect(await restarted.pendingCount == 0)
        #expect(await restarted.board.visibleElements.count == 17)
        _ = restarted.changes()
        #expect(restarted.view.pending == 0)
        try await restarted.record(text(17))
        #expect(await restarted.pendingCount == 1, "new work is")
    }

    @Test func aRefusalAtTheHandshakeIsShownAndEndsTheRetries() async throws {
        let server = try await RunningServer {
            $0.roomAccess = ["locked": RoomAccess(editor: "s3cret", viewer: nil)]
        }
        var settings = clientConfiguration(port: server.port, room: "locked")
        settings.token = "wrong"
        let client = try BoardClient(configuration: settings)
        let changes = client.changes()
        try await withTimeout(20, "run() to give up") { await client.run() }
        guard case .refused(let reason) = await client.state else {
            Issue.record("state \(await client.state)")
            return
        }
        #expect(reason.hasPrefix("unauthorized:") && reason.contains("editor token"), "\(reason)")
        #expect(await client.lastRefusal == .unauthorized("room \"locked\" needs an editor token"))
        #expect(client.view.connection == .refused(reason: reason), "the screen sees it")
        _ = changes
        #expect(server.server.counters.snapshot.refusals["unauthorized"] == 1, "refused once, not again and again")
        await #expect(throws: ClientError.refused(reason)) { try await client.waitUntilLive() }
        await server.stop()
    }

    @Test func aServerThatIsNotThereIsNamedForWhatItIs() async throws {
        let port = try await freePort()
        let client = try BoardClient(configuration: clientConfiguration(port: port, room: "nobody"))
        let running = Task { await client.run() }
        try await eventually(20, "the first failed attempt") {
            if case .offline(let reason?) = await client.state { return reason.contains("connection refused") }
            return false
        }
        #expect(await client.lastConnectionFailure == .refused(host: "127.0.0.1", port: port))
        running.cancel()
        await running.value
    }

    @Test func aViewerCannotRecord() async throws {
        var settings = clientConfiguration(port: 9, room: "watch")
        settings.role = .viewer
        let client = try BoardClient(configuration: settings)
        await #expect(throws: ClientError.readOnly(.viewer)) { try await client.record(text(0)) }
        #expect(await client.digest.totalCount == 0, "nothing entered the replica")
    }

    @Test func aClientReconnectsAfterTheServerRestarts() async throws {
        let server = try await RunningServer()
        let client = try BoardClient(configuration: clientConfiguration(port: server.port, room: "resilient"))
        let watcher = try BoardClient(configuration: clientConfiguration(port: server.port, room: "resilient"))
        let running = Task { await client.run() }
        let watching = Task { await watcher.run() }
        try await client.record(text(0))
        try await eventually(20, "the first sync") { await watcher.digest[client.peer] == 1 }
        try await server.restart()
        try await client.record(text(1))
        try await client.record(text(2))
        try await eventually(20, "reconnection and delivery") {
            let (state, digest) = (await client.state, await watcher.digest)
            return state == .live && digest[client.peer] == 3
        }
        #expect(await watcher.board.stateHash == client.board.stateHash)
        #expect(try await server.server.log.load(room: "resilient").updates.count == 3)
        running.cancel()
        watching.cancel()
        await running.value
        await watching.value
        await server.stop()
    }

    @Test func addedLatencyHoldsMessagesBackButKeepsThemInOrder() async throws {
        let server = try await RunningServer()
        let prompt = try BoardClient(configuration: clientConfiguration(port: server.port, room: "slow"))
        var settings = clientConfiguration(port: server.port, room: "slow")
        settings.addedLatency = AddedLatency(milliseconds: 150, jitter: 50)
        let slow = try BoardClient(configuration: settings)
        let events = await slow.events()
        let roundTrips = Task {
            for await event in events {
                if case .roundTrip(let milliseconds) = event { return milliseconds }
            }
            return 0
        }
        let running = [Task { await prompt.run() }, Task { await slow.run() }]
        try await eventually(20, "both live") {
            let states = (await prompt.state, await slow.state)
            return states == (.live, .live)
        }
        let start = ContinuousClock.now
        try await prompt.record(text(0))
        try await eventually(20, "the slow client to receive") { await slow.digest[prompt.peer] == 1 }
        #expect(ContinuousClock.now - start >= .milliseconds(150), "held back on the way in")
        // A burst from the slow client: jitter must not reorder it.
        for index in 1...30 { try await slow.record(text(index)) }
        try await eventually(20, "the burst to arrive") {
            let (received, pending) = (await prompt.digest[slow.peer], await slow.pendingCount)
            return received == 30 && pending == 0
        }
        #expect(try await server.server.log.load(room: "slow").updates.count == 31)
        #expect(await prompt.board.stateHash == slow.board.stateHash)
        #expect(server.server.counters.snapshot.refusals.isEmpty)
        // Pings go every 5 s; under ThreadSanitizer, beside a test that
        // floods its event loop, one took more than 10 s to come back.
        let roundTrip = try await withTimeout(30, "a round trip") { await roundTrips.value }
        #expect(roundTrip >= 300, "held back both ways")
        for task in running { task.cancel() }
        for task in running { await task.value }
        await server.stop()
    }
}

@Suite struct ConnectionFailureTests {
    @Test func errorsAreNamedByTheirCause() {
        #expect(
            ConnectionFailure(IOError(errnoCode: ECONNREFUSED, reason: "connect"), host: "h", port: 1)
                == .refused(host: "h", port: 1))
        #expect(
            ConnectionFailure(IOError(errnoCode: EHOSTUNREACH, reason: "connect"), host: "h", port: 1)
                == .unreachable(host: "h", port: 1))
        #expect(
            ConnectionFailure(ChannelError.connectTimeout(.seconds(5)), host: "h", port: 1)
                == .timedOut(host: "h", port: 1))
        do {
            _ = try SocketAddress.makeAddressResolvingHost("no-such-host.invalid", port: 1)
            Issue.record("an .invalid name resolved")
        } catch {
            #expect(ConnectionFailure(error, host: "nowhere", port: 1) == .cannotResolve(host: "nowhere"))
        }
        #expect(
            ConnectionFailure.refused(host: "h", port: 1).description
                == "connection refused by h:1 (is the server running?)")
        #expect(ConnectionFailure.cannotResolve(host: "nowhere").description == "cannot resolve host \"nowhere\"")
    }
}
