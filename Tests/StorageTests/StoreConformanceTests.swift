import Foundation
import PostgresStorage
import Scuttlebutt
import Storage
import TestHarness
import Testing

/// A storage engine the conformance suite runs against.
enum StoreEngine: String, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// SQLite always; PostgreSQL when a server answers (see ``TestPostgres``).
    static var available: [StoreEngine] { TestPostgres.serverURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// Runs `body` with a fresh, empty store of this engine and a way to
    /// open the same data again (as after a restart); closes every store it
    /// opened and removes the data afterwards, also when `body` throws.
    func withStore(
        durability: Durability = .normal,
        _ body: (any DurableStore, _ reopen: () async throws -> any DurableStore) async throws -> Void
    ) async throws {
        switch self {
        case .sqlite:
            let folder = try TemporaryFolder()
            let path = folder.path("conformance.sqlite")
            try await body(try DurableLog(path: path, durability: durability)) {
                try DurableLog(path: path, durability: durability)
            }
        case .postgres:
            try await TestPostgres.withScratchDatabase { url in
                let location = try PostgresLocation(url: url)
                let opened = Locked<[PostgresLog]>([])
                let open: () async throws -> any DurableStore = {
                    let log = try await PostgresLog.open(
                        location, durability: durability, operationTimeout: TestPostgres.operationTimeout)
                    opened.withLock { $0.append(log) }
                    return log
                }
                do {
                    try await body(try await open(), open)
                } catch {
                    for log in opened.withLock({ $0 }) { await log.close() }
                    throw error
                }
                for log in opened.withLock({ $0 }) { await log.close() }
            }
        }
    }
}

/// The ``DurableStore`` contract, run against every engine: the same tests,
/// the same expectations, for SQLite and PostgreSQL.
@Suite struct StoreConformanceTests {
    @Test func postgresIsThereWhenRequired() {
        if TestPostgres.isRequired {
            #expect(TestPostgres.serverURL != nil, "\(TestPostgres.absence)")
        }
    }

    @Test(arguments: StoreEngine.available)
    func updatesSurviveReopeningInTotalOrderWithFull64BitValues(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, reopen in
            try await log.append(room: "lobby", [update(1, 1, at: 30), update(1, 2, at: 50, [9])])
            try await log.append(room: "lobby", [update(2, 1, at: 40)])
            try await log.append(room: "other", [update(UInt64.max, 1, at: UInt64.max - 1)])
            try await log.setFrontier(Timestamp(35), room: "lobby")
            try await log.settle()
            let reopened = try await reopen()
            let lobby = try await reopened.load(room: "lobby")
            #expect(lobby.updates.map(\.seq) == [1, 1, 2], "total order: stamps 30, 40, 50")
            #expect(lobby.updates.map(\.origin) == [PeerID(1), PeerID(2), PeerID(1)])
            #expect(lobby.updates.last?.action == [9])
            #expect(lobby.frontier == Timestamp(35))
            let other = try await reopened.load(room: "other")
            #expect(other.updates == [update(UInt64.max, 1, at: UInt64.max - 1)], "full 64-bit values round-trip")
            #expect(try await reopened.load(room: "nowhere").updates.isEmpty)
            #expect(try await reopened.roomExists("lobby"))
            #expect(try await !reopened.roomExists("nowhere"))
        }
    }

    @Test(arguments: StoreEngine.available)
    func concurrentAppendsAreGroupedIntoFewerTransactions(_ engine: StoreEngine) async throws {
        try await engine.withStore(durability: .full) { log, _ in
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
            #expect(try await log.load(room: "busy").updates.count == 800)
            #expect(
                try await log.digest(room: "busy")
                    == Digest(Dictionary(uniqueKeysWithValues: (1...16).map { (PeerID($0), 50) })))
        }
    }

    @Test(arguments: StoreEngine.available)
    func callbackAppendsCompleteOnceEachAndAGapFailsAlone(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
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
            #expect(gapRefused.withLock { $0 } == .gap(room: "r", origin: PeerID(2), expected: 1, received: 5))
            let statistics = await log.statistics
            #expect(statistics.appends == 201 && statistics.updates == 200)
            #expect(statistics.transactions < 200, "queued appends shared commits: \(statistics)")
            #expect(try await log.load(room: "r").updates.map(\.seq) == Array(1...200))
        }
    }

    @Test(arguments: StoreEngine.available)
    func anAppendThatWouldLeaveAGapIsRefusedWholeAndAStoredUpdateIsKept(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, reopen in
            try await log.append(room: "r", [update(1, 1, at: 10, [1])])
            await #expect(throws: StorageError.gap(room: "r", origin: PeerID(1), expected: 2, received: 3)) {
                try await log.append(room: "r", [update(1, 3, at: 30)])
            }
            await #expect(throws: StorageError.gap(room: "r", origin: PeerID(2), expected: 1, received: 2)) {
                try await log.append(room: "r", [update(2, 2, at: 20)])
            }
            // A batch stops whole: its first update was fine, its second not.
            await #expect(throws: StorageError.self) {
                try await log.append(room: "r", [update(1, 2, at: 20), update(1, 4, at: 40)])
            }
            #expect(try await log.load(room: "r").updates.map(\.seq) == [1])
            // Sent again (a retry after a lost ack): the stored one stays as it is.
            try await log.append(room: "r", [update(1, 1, at: 10, [5]), update(1, 2, at: 20), update(1, 3, at: 30)])
            #expect(try await log.load(room: "r").updates.map(\.seq) == [1, 2, 3])
            #expect(try await log.load(room: "r").updates.first?.action == [1])
            // Another process (a restart) checks gaps against what is stored.
            let reopened = try await reopen()
            await #expect(throws: StorageError.gap(room: "r", origin: PeerID(1), expected: 4, received: 9)) {
                try await reopened.append(room: "r", [update(1, 9, at: 90)])
            }
            try await reopened.append(room: "r", [update(1, 4, at: 40)])
            #expect(try await reopened.history(room: "r").map(\.seq) == [1, 2, 3, 4])
        }
    }

    @Test(arguments: StoreEngine.available)
    func appendsCommittedTogetherFailAlone(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for origin in 1...8 as ClosedRange<UInt64> {
                    // Odd origins start at seq 2: a gap. Even ones are fine.
                    let first: UInt64 = origin % 2 == 1 ? 2 : 1
                    group.addTask {
                        (try? await log.append(room: "r", [update(origin, first, at: origin * 10)])) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 4)
            #expect(
                Set(try await log.load(room: "r").updates.map(\.origin))
                    == [PeerID(2), PeerID(4), PeerID(6), PeerID(8)])
        }
    }

    @Test(arguments: StoreEngine.available)
    func aCheckpointReplacesTheUpdatesItFoldsWhenLoadingButNotInTheHistory(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, reopen in
            let updates = [update(1, 1, at: 10), update(2, 1, at: 20), update(1, 2, at: 30), update(2, 2, at: 30)]
            let checkpoint = StoredCheckpoint(
                horizon: OrderKey(timestamp: Timestamp(30), origin: PeerID(1)),
                digest: Digest([PeerID(1): 2, PeerID(2): 1]),
                state: [7, 7, 7])
            try await log.append(room: "lobby", updates)
            try await log.saveCheckpoint(checkpoint, room: "lobby")
            try await log.append(room: "lobby", [update(1, 3, at: 40)])
            // An older checkpoint never replaces a newer one.
            try await log.saveCheckpoint(
                StoredCheckpoint(
                    horizon: OrderKey(timestamp: Timestamp(10), origin: PeerID(1)), digest: Digest(), state: []),
                room: "lobby")
            let reopened = try await reopen()
            let lobby = try await reopened.load(room: "lobby")
            #expect(lobby.checkpoint == checkpoint)
            #expect(lobby.updates.map(\.orderKey) == [update(2, 2, at: 30).orderKey, update(1, 3, at: 40).orderKey])
            #expect(try await reopened.history(room: "lobby").count == 5, "the history keeps every update")
            #expect(try await reopened.load(room: "other").checkpoint == nil)
        }
    }

    @Test(arguments: StoreEngine.available)
    func checkpointHorizonsCompareAsUnsignedValues(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            // Origins above 2^63 are negative as signed integers: the newer
            // horizon (same stamp, larger origin) must still win, and an
            // older one must not replace it.
            let small = StoredCheckpoint(
                horizon: OrderKey(timestamp: Timestamp(30), origin: PeerID(1)), digest: Digest(), state: [1])
            let large = StoredCheckpoint(
                horizon: OrderKey(timestamp: Timestamp(30), origin: PeerID(UInt64.max)),
                digest: Digest([PeerID(UInt64.max): 1]), state: [2])
            try await log.saveCheckpoint(small, room: "r")
            try await log.saveCheckpoint(large, room: "r")
            try await log.saveCheckpoint(small, room: "r")
            #expect(try await log.load(room: "r").checkpoint == large)
        }
    }

    @Test(arguments: StoreEngine.available)
    func theFrontierNeverMovesBack(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            try await log.setFrontier(Timestamp(50), room: "r")
            try await log.setFrontier(Timestamp(20), room: "r")
            #expect(try await log.load(room: "r").frontier == Timestamp(50))
        }
    }

    @Test(arguments: StoreEngine.available)
    func antiEntropyReadsOneOriginInSeqOrder(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            try await log.append(room: "r", (1...10).map { update(7, $0, at: 100 - $0) })
            try await log.append(room: "r", [update(8, 1, at: 1)])
            #expect(
                try await log.updates(room: "r", origin: PeerID(7), after: 3, limit: 4).map(\.seq) == [4, 5, 6, 7])
            #expect(try await log.updates(room: "r", origin: PeerID(7), after: 10, limit: 4).isEmpty)
        }
    }

    @Test(arguments: StoreEngine.available)
    func roomsAreListedWithTheirCounts(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            try await log.append(room: "b", [update(1, 1, at: 5), update(2, 1, at: 9)])
            try await log.append(room: "a", [update(1, 1, at: 3)])
            try await log.setFrontier(Timestamp(4), room: "empty")
            try await log.append(room: "far", [update(1, 1, at: UInt64.max - 1)])
            let rooms = try await log.rooms()
            #expect(rooms.map(\.name) == ["a", "b", "empty", "far"])
            #expect(
                rooms[1]
                    == RoomSummary(
                        name: "b", updateCount: 2, originCount: 2, lastTimestamp: Timestamp(9), frontier: .zero))
            #expect(rooms[2].updateCount == 0 && rooms[2].lastTimestamp == nil && rooms[2].frontier == Timestamp(4))
            #expect(rooms[3].lastTimestamp == Timestamp(UInt64.max - 1))
        }
    }

    @Test(arguments: StoreEngine.available)
    func aProbeAndAWatchSucceedOnAWorkingStore(_ engine: StoreEngine) async throws {
        try await engine.withStore { log, _ async throws in
            try await log.probe()
            try await log.watch()
            #expect(try await log.rooms().isEmpty, "a probe stores no room")
        }
    }
}
