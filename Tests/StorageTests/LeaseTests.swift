import Foundation
import PostgresStorage
import Scuttlebutt
import Storage
import TestHarness
import Testing

/// Leases and fencing in PostgreSQL: one holder per room, an epoch that
/// grows at every change of hands, and writes of an old epoch refused.
@Suite(.enabled(if: TestPostgres.serverURL != nil, "\(TestPostgres.absence)"))
struct LeaseTests {
    /// Runs `body` with two logs on one fresh database: two nodes.
    func withTwoNodes(_ body: (PostgresLog, PostgresLog) async throws -> Void) async throws {
        try await TestPostgres.withScratchDatabase { url in
            let location = try PostgresLocation(url: url)
            let first = try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)
            let second: PostgresLog
            do {
                second = try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)
            } catch {
                await first.close()
                throw error
            }
            do {
                try await body(first, second)
            } catch {
                await first.close()
                await second.close()
                throw error
            }
            await first.close()
            await second.close()
        }
    }

    @Test func aRoomHasOneHolderAndItsEpochGrowsWhenItChangesHands() async throws {
        try await withTwoNodes { a, b in
            #expect(try await a.claim(room: "r", node: "a", incarnation: "a1", ttl: .seconds(30)) == .granted(epoch: 1))
            #expect(try await a.claim(room: "r", node: "a", incarnation: "a1", ttl: .seconds(30)) == .granted(epoch: 1))
            #expect(
                try await b.claim(room: "r", node: "b", incarnation: "b1", ttl: .seconds(30))
                    == .heldElsewhere(node: "a"))
            #expect(try await b.renew(node: "b", incarnation: "b1", ttl: .seconds(30)).isEmpty)
            #expect(try await a.renew(node: "a", incarnation: "a1", ttl: .seconds(30)) == ["r": 1])
            // A drain gives it up at once; the next holder is a new epoch.
            try await a.release(room: "r", incarnation: "a1")
            #expect(try await b.claim(room: "r", node: "b", incarnation: "b1", ttl: .seconds(30)) == .granted(epoch: 2))
            #expect(try await a.renew(node: "a", incarnation: "a1", ttl: .seconds(30)).isEmpty, "a knows it lost r")
            // A restarted "a" (a new incarnation) waits like anyone else.
            #expect(
                try await a.claim(room: "r", node: "a", incarnation: "a2", ttl: .seconds(30))
                    == .heldElsewhere(node: "b"))
            let leases = try await a.leases()
            #expect(leases.map(\.room) == ["r"] && leases[0].node == "b" && leases[0].epoch == 2)
            #expect(leases[0].remainingMilliseconds > 20_000)
        }
    }

    @Test func aLapsedLeaseIsTakenOverAndTheOldHolderIsFencedOnEveryWrite() async throws {
        try await withTwoNodes { a, b in
            guard
                case .granted(let old) = try await a.claim(
                    room: "r", node: "a", incarnation: "a1", ttl: .milliseconds(200))
            else { throw ScratchDatabaseError(message: "a was not granted the room") }
            try await a.append(room: "r", [update(1, 1, at: 10)], epoch: old)
            try await Task.sleep(for: .milliseconds(300))
            // "a" is paused past its lease: "b" takes the room over.
            guard case .granted(let new) = try await b.claim(room: "r", node: "b", incarnation: "b1", ttl: .seconds(30))
            else { throw ScratchDatabaseError(message: "b could not take the lapsed room") }
            #expect(new == old + 1)
            // "a" resumes and tries to write: everything is refused by epoch.
            await #expect(throws: StorageError.fenced(room: "r", epoch: old, current: new)) {
                try await a.append(room: "r", [update(1, 2, at: 20)], epoch: old)
            }
            await #expect(throws: StorageError.fenced(room: "r", epoch: old, current: new)) {
                try await a.saveCheckpoint(
                    StoredCheckpoint(
                        horizon: OrderKey(timestamp: Timestamp(10), origin: PeerID(1)), digest: Digest([PeerID(1): 1]),
                        state: [1]),
                    room: "r", epoch: old)
            }
            await #expect(throws: StorageError.fenced(room: "r", epoch: old, current: new)) {
                try await a.setFrontier(Timestamp(15), room: "r", epoch: old)
            }
            #expect(try await a.renew(node: "a", incarnation: "a1", ttl: .seconds(1)).isEmpty)
            // The new holder writes at its epoch; nothing of "a"'s refused writes is there.
            try await b.append(room: "r", [update(1, 2, at: 25, [7])], epoch: new)
            let stored = try await b.load(room: "r")
            #expect(stored.updates.map(\.timestamp) == [Timestamp(10), Timestamp(25)])
            #expect(stored.checkpoint == nil && stored.frontier == .zero)
            // A room nobody ever claimed refuses fenced writes too.
            await #expect(throws: StorageError.fenced(room: "nobody's", epoch: 1, current: nil)) {
                try await a.append(room: "nobody's", [update(1, 1, at: 10)], epoch: 1)
            }
        }
    }

    @Test func appendsRacingATakeOverAreEitherAcknowledgedAndStoredOrRefusedAndAbsent() async throws {
        try await withTwoNodes { a, b in
            guard
                case .granted(let old) = try await a.claim(
                    room: "r", node: "a", incarnation: "a1", ttl: .milliseconds(150))
            else { throw ScratchDatabaseError(message: "a was not granted the room") }
            let outcomes = Locked<[UInt64: Bool]>([:])
            // "a" keeps appending, one at a time, while its lease lapses and "b" claims.
            let writer = Task {
                for seq in UInt64(1)...400 {
                    do {
                        try await a.append(room: "r", [update(1, seq, at: seq * 10)], epoch: old)
                        outcomes.withLock { $0[seq] = true }
                    } catch {
                        outcomes.withLock { $0[seq] = false }
                        return
                    }
                }
            }
            var claimed = false
            while !claimed {
                try await Task.sleep(for: .milliseconds(20))
                claimed =
                    try await b.claim(room: "r", node: "b", incarnation: "b1", ttl: .seconds(30))
                    == .granted(epoch: old + 1)
            }
            await writer.value
            let acknowledged = Set(outcomes.withLock { $0 }.filter(\.value).keys)
            let stored = Set(try await b.history(room: "r").map(\.seq))
            #expect(stored == acknowledged, "stored \(stored.count), acknowledged \(acknowledged.count)")
            #expect(outcomes.withLock { $0 }.values.contains(false), "the old holder was cut off")
        }
    }

    @Test func nodesAreAliveWhileTheirHeartbeatLasts() async throws {
        try await withTwoNodes { a, _ in
            try await a.announce(
                ClusterNode(name: "a", address: "10.0.0.1:7070", webAddress: "10.0.0.1:8080"), incarnation: "a1",
                ttl: .seconds(30))
            try await a.announce(
                ClusterNode(name: "b", address: "10.0.0.2:7070", webAddress: nil, isDraining: true), incarnation: "b1",
                ttl: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(200))
            let nodes = try await a.nodes()
            #expect(
                nodes == [
                    ClusterNode(name: "a", address: "10.0.0.1:7070", webAddress: "10.0.0.1:8080"),
                    ClusterNode(name: "b", address: "10.0.0.2:7070", webAddress: nil, isDraining: true, isAlive: false),
                ])
            _ = try await a.renew(node: "b", incarnation: "b1", ttl: .seconds(30))
            #expect(try await a.nodes().last?.isAlive == true, "a renewal is a heartbeat")
            _ = try await a.renew(node: "b", incarnation: "b0", ttl: .seconds(30))
        }
    }
}
