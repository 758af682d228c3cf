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
