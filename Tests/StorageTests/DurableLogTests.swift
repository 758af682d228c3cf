import Foundation
import GRDB
import Scuttlebutt
import Storage
import Testing

/// A value behind an `NSLock` (which ThreadSanitizer sees, unlike
/// `Synchronization.Mutex`'s futex waits on Linux).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// A fresh folder for one test's database files, removed afterwards.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

func update(_ origin: UInt64, _ seq: UInt64, at timestamp: UInt64, _ action: [UInt8] = [1, 2, 3]) -> StoredUpdate {
    StoredUpdate(origin: PeerID(origin), seq: seq, timestamp: Timestamp(timestamp), action: action)
}

@Suite struct DurableLogTests {
    @Test func updatesSurviveClosingAndReopeningTheFile() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("board.sqlite")
        do {
            let log = try DurableLog(path: path)
            try await log.append(room: "lobby", [update(1, 1, at: 30), update(1, 2, at: 50, [9])])
            try await log.append(room: "lobby", [update(2, 1, at: 40)])
            try await log.append(room: "other", [update(UInt64.max, 1, at: UInt64.max - 1)])
            try await log.setFrontier(Timestamp(35), room: "lobby")
            try log.checkpoint()
        }
        let reopened = try DurableLog(path: path)
        let lobby = try reopened.load(room: "lobby")
        #expect(lobby.updates.map(\.seq) == [1, 1, 2], "total order: stamps 30, 40, 50")
        #expect(lobby.updates.map(\.origin) == [PeerID(1), PeerID(2), PeerID(1)])
        #expect(lobby.updates.last?.action == [9])
        #expect(lobby.frontier == Timestamp(35))
        let other = try reopened.load(room: "other")
        #expect(other.updates == [update(UInt64.max, 1, at: UInt64.max - 1)], "full 64-bit values round-trip")
        #expect(try reopened.load(room: "nowhere").updates.isEmpty)
    }

    @Test func concurrentAppendsAreGroupedIntoFewerTransactions() async throws {
        let folder = try TemporaryFolder()
        let log = try DurableLog(path: folder.path("group.sqlite"), durability: .full)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for origin in UInt64(1)...16 {
                group.addTask {
                    for seq in UInt64(1)...50 {
                        try await log.append(room: "busy", [update(origin, seq, at: origin * 1_000 + seq)])
                    }
                }
            }
            try await group.waitForAll()
        }
        let statistics = await log.statistics
        #expect(statistics.appends == 800)
        #expect(statistics.updates == 800)
        #expect(statistics.transactions < statistics.appends, "commits were grouped: \(statistics)")
        #expect(try log.load(room: "busy").updates.count == 800)
        #expect(
            try log.digest(room: "busy") == Digest(Dictionary(uniqueKeysWithValues: (1...16).map { (PeerID($0), 50) })))
    }

    @Test func callbackAppendsCompleteOnceEachAndAGapFailsAlone() async throws {
        let folder = try TemporaryFolder()
        let log = try DurableLog(path: folder.path("callbacks.sqlite"))
        let outcomes = Locked<[UInt64: [Bool]]>([:])
        let gapRefused = Locked<StorageError?>(nil)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let remaining = Locked(201)
            let finished: @Sendable () -> Void = {
                if remaining.withLock({ count in
                    count -= 1
                    return count == 0
                }) {
                    done.resume()
                }
            }
            // Queued back to back, with nothing awaited in between.
            for seq in UInt64(1)...200 {
                log.append(room: "r", [update(1, seq, at: seq * 10)]) { result in
                    outcomes.withLock { $0[seq, default: []].append((try? result.get()) != nil) }
                    finished()
                }
            }
            log.append(room: "r", [update(2, 5, at: 5_000)]) { result in
                if case .failure(let error) = result { gapRefused.withLock { $0 = error } }
                finished()
            }
        }
        #expect(outcomes.withLock { $0 } == Dictionary(uniqueKeysWithValues: (1...200).map { ($0, [true]) }))
        guard case .gap(room: "r", origin: PeerID(2), expected: 1, received: 5)? = gapRefused.withLock({ $0 }) else {
            Issue.record("the gap was not refused by name: \(String(describing: gapRefused.withLock { $0 }))")
            return
        }
        let statistics = await log.statistics
        #expect(statistics.appends == 201 && statistics.updates == 200)
        #expect(statistics.transactions < 200, "queued appends shared commits: \(statistics)")
        #expect(try log.load(room: "r").updates.map(\.seq) == Array(1...200))
    }

    @Test func aCommitIntervalGathersAppendsThatArriveApartIntoFewerTransactions() async throws {
        let folder = try TemporaryFolder()
        /// 40 appends, 1 ms apart, each awaited by nobody: how many
        /// transactions held them, what was stored, and how long queueing took.
        func transactions(interval: Duration, file: String) async throws -> (Int, [UInt64], Duration) {
            let log = try DurableLog(path: folder.path(file), commitInterval: interval)
            let remaining = Locked(40)
            let started = ContinuousClock.now
            var queued = Duration.zero
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                for seq in UInt64(1)...40 {
                    log.append(room: "r", [update(1, seq, at: seq * 10)]) { _ in
                        if remaining.withLock({ count in
                            count -= 1
                            return count == 0
                        }) {
                            done.resume()
                        }
                    }
                    Thread.sleep(forTimeInterval: 0.001)
                }
                queued = ContinuousClock.now - started
            }
            return (await log.statistics.transactions, try log.load(room: "r").updates.map(\.seq), queued)
        }
        let (gathered, storedGathered, spread) = try await transactions(
            interval: .milliseconds(50), file: "gathered.sqlite")
        let (eager, storedEager, _) = try await transactions(interval: .zero, file: "eager.sqlite")
        #expect(storedGathered == Array(1...40) && storedEager == Array(1...40))
        // The first append commits at once; the rest wait for rounds 50 ms
        // apart, so the appends' spread (about 40 ms, more on a busy
        // machine) decides how many rounds there are. Without the interval,
        // appends a millisecond apart mostly find the writer idle and
        // commit alone.
        let rounds = Int(spread / .milliseconds(50)) + 2
        #expect(gathered <= rounds, "appends within the interval share a transaction: \(gathered) in \(spread)")
        #expect(eager > gathered, "without the interval: \(eager) transactions, with it \(gathered)")
    }

    @Test func appendingAStoredUpdateAgainChangesNothing() async throws {
        let log = try DurableLog(path: nil)
        try await log.append(room: "r", [update(1, 1, at: 10, [1])])
        try await log.append(room: "r", [update(1, 1, at: 10, [1]), update(1, 2, at: 20)])
        #expect(try log.load(room: "r").updates.map(\.seq) == [1, 2])
    }

    @Test func replaceOverwritesARestampedUpdateAndSettingsPersist() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("client.sqlite")
        do {
            let log = try DurableLog(path: path)
            try await log.append(room: "r", [update(1, 1, at: 10), update(1, 2, at: 20)])
            try await log.replace(room: "r", [update(1, 2, at: 99, [7])])
            try log.setSetting("peer", [1, 2, 3])
            try log.setSetting("peer", [4, 5])
        }
        let log = try DurableLog(path: path)
        #expect(try log.load(room: "r").updates == [update(1, 1, at: 10), update(1, 2, at: 99, [7])])
        #expect(try log.setting("peer") == [4, 5])
        #expect(try log.setting("missing") == nil)
    }

    @Test func aCheckpointReplacesTheUpdatesItFoldsWhenLoadingButNotInTheHistory() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("board.sqlite")
        let updates = [update(1, 1, at: 10), update(2, 1, at: 20), update(1, 2, at: 30), update(2, 2, at: 30)]
        let checkpoint = StoredCheckpoint(
            horizon: OrderKey(timestamp: Timestamp(30), origin: PeerID(1)),
            digest: Digest([PeerID(1): 2, PeerID(2): 1]),
            state: [7, 7, 7])
        do {
            let log = try DurableLog(path: path)
            try await log.append(room: "lobby", updates)
            try await log.saveCheckpoint(checkpoint, room: "lobby")
            try await log.append(room: "lobby", [update(1, 3, at: 40)])
            // An older checkpoint never replaces a newer one.
            try await log.saveCheckpoint(
                StoredCheckpoint(
                    horizon: OrderKey(timestamp: Timestamp(10), origin: PeerID(1)), digest: Digest(), state: []),
                room: "lobby")
        }
        let reopened = try DurableLog(path: path)
        let lobby = try reopened.load(room: "lobby")
        #expect(lobby.checkpoint == checkpoint)
        #expect(lobby.updates.map(\.orderKey) == [update(2, 2, at: 30).orderKey, update(1, 3, at: 40).orderKey])
        #expect(try reopened.history(room: "lobby").count == 5, "the history keeps every update")
        #expect(try reopened.load(room: "other").checkpoint == nil)
    }

    @Test func theFrontierNeverMovesBack() async throws {
        let log = try DurableLog(path: nil)
        try await log.setFrontier(Timestamp(50), room: "r")
        try await log.setFrontier(Timestamp(20), room: "r")
        #expect(try log.load(room: "r").frontier == Timestamp(50))
    }

    @Test func antiEntropyReadsOneOriginInSeqOrder() async throws {
        let log = try DurableLog(path: nil)
        try await log.append(room: "r", (1...10).map { update(7, $0, at: 100 - $0) })
        try await log.append(room: "r", [update(8, 1, at: 1)])
        #expect(try log.updates(room: "r", origin: PeerID(7), after: 3, limit: 4).map(\.seq) == [4, 5, 6, 7])
        #expect(try log.updates(room: "r", origin: PeerID(7), after: 10, limit: 4).isEmpty)
    }

    @Test func roomsAreListedWithTheirCounts() async throws {
        let log = try DurableLog(path: nil)
        try await log.append(room: "b", [update(1, 1, at: 5), update(2, 1, at: 9)])
        try await log.append(room: "a", [update(1, 1, at: 3)])
        try await log.setFrontier(Timestamp(4), room: "empty")
        let rooms = try log.rooms()
        #expect(rooms.map(\.name) == ["a", "b", "empty"])
        #expect(
            rooms[1]
                == RoomSummary(name: "b", updateCount: 2, originCount: 2, lastTimestamp: Timestamp(9), frontier: .zero))
        #expect(rooms[2].updateCount == 0 && rooms[2].lastTimestamp == nil && rooms[2].frontier == Timestamp(4))
    }

    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("future.sqlite")
        _ = try DurableLog(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        }
        #expect {
            _ = try DurableLog(path: path)
        } throws: { error in
            (error as? StorageError)?.description.contains("newer Scuttleboard") == true
        }
    }

    @Test func anUnopenableFileGetsAClearError() {
        #expect {
            _ = try DurableLog(path: "/nonexistent-folder/x/board.sqlite")
        } throws: { error in
            (error as? StorageError)?.description.hasPrefix("cannot open database /nonexistent-folder/x/board.sqlite")
                == true
        }
    }
}
