import Dispatch
import Foundation
import GRDB
import Scuttlebutt
import Storage
import Testing

/// The log holds every origin's updates without gaps, says what went wrong
/// in SQLite's own terms, and can verify a file.
@Suite struct LogFaultTests {
    @Test func aLockHeldLongerThanTheBusyTimeoutFailsWithSQLitesCode() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("locked.sqlite")
        let log = try DurableLog(path: path, busyTimeout: .milliseconds(50))
        let other = try DatabaseQueue(path: path)
        let (held, release, done) = (
            DispatchSemaphore(value: 0), DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)
        )
        // On a thread of its own: a lock held on one of the cooperative
        // pool's two threads, with the test waiting on the other, starved
        // every other test of the run.
        Thread.detachNewThread {
            _ = try? other.inTransaction(.immediate) { _ in
                held.signal()
                release.wait()
                return .commit
            }
            done.signal()
        }
        await waitOffThePool(held)
        await #expect {
            try await log.append(room: "r", [update(1, 1, at: 10)])
        } throws: { error in
            guard case .sqlite(_, let code, _) = error as? StorageError else { return false }
            return code & 0xFF == 5  // SQLITE_BUSY
        }
        release.signal()
        await waitOffThePool(done)
        try await log.append(room: "r", [update(1, 1, at: 10)])
        #expect(try log.load(room: "r").updates.count == 1)
    }

    @Test func aShortLockIsWaitedFor() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("briefly.sqlite")
        let log = try DurableLog(path: path, busyTimeout: .seconds(5))
        let other = try DatabaseQueue(path: path)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? other.inTransaction(.immediate) { _ in
                Thread.sleep(forTimeInterval: 0.2)
                return .commit
            }
            done.signal()
        }
        try await Task.sleep(for: .milliseconds(50))
        try await log.append(room: "r", [update(1, 1, at: 10)])
        await waitOffThePool(done)
        #expect(try log.load(room: "r").updates.count == 1)
    }

    @Test func aDeletedFileIsNoticedAndItsContentCanBeCopiedOut() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("gone.sqlite")
        let log = try DurableLog(path: path)
        try await log.append(room: "r", [update(1, 1, at: 10), update(1, 2, at: 20)])
        try log.checkFile()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        #expect(throws: StorageError.fileReplaced(path: path)) { try log.checkFile() }
        await #expect(throws: StorageError.fileReplaced(path: path)) { try await log.probe() }
        let copy = folder.path("copy.sqlite")
        try await log.copy(to: copy)
        #expect(try DurableLog(readingAt: copy).load(room: "r").updates.map(\.seq) == [1, 2])
    }

    @Test func verifyFindsGapsBadStampsUndecodableActionsAndCheckpointsPastTheLog() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("checked.sqlite")
        let log = try DurableLog(path: path)
        try await log.append(room: "r", [update(1, 1, at: 10), update(1, 2, at: 20), update(2, 1, at: 15)])
        let sound = try log.verify(decodesAction: { _, _ in true }, decodesState: { _ in true })
        #expect(sound.rooms == 1 && sound.updates == 3 && sound.checkpoints == 0 && sound.problems.isEmpty)

        try await log.saveCheckpoint(
            StoredCheckpoint(
                horizon: OrderKey(timestamp: Timestamp(99), origin: PeerID(3)), digest: Digest([PeerID(1): 5]),
                state: [0xFF]),
            room: "r")
        let raw = try DatabaseQueue(path: path)
        try await raw.write { db in
            try db.execute(sql: "INSERT INTO updates VALUES ('r', 1, 4, 40, x'00')")
            try db.execute(sql: "INSERT INTO updates VALUES ('r', 2, 2, 5, x'00')")
        }
        let broken = try log.verify(
            decodesAction: { id, _ in id != UpdateID(origin: PeerID(2), seq: 1) }, decodesState: { _ in false })
        #expect(broken.updates == 5 && broken.checkpoints == 1)
        #expect(
            Set(broken.problems) == [
                "room \"r\": origin 0000000000000001 has a gap: #3 is missing",
                "room \"r\": update 0000000000000002#2 is not stamped after the one before it",
                "room \"r\": update 0000000000000002#1 does not decode",
                "room \"r\": the checkpoint's state does not decode",
                "room \"r\": the checkpoint was folded at an update the log does not hold",
                "room \"r\": the checkpoint covers origin 0000000000000001 up to #5, the log only up to #4",
            ])
    }
}

/// Waits for `semaphore` on a thread of its own, never on one of the
/// cooperative pool's.
func waitOffThePool(_ semaphore: DispatchSemaphore) async {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            semaphore.wait()
            continuation.resume()
        }
    }
}
