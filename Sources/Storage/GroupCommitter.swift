import Foundation
import GRDB
import Scuttlebutt

/// One caller's updates waiting for the next commit.
struct PendingAppend: Sendable {
    let room: String
    let updates: [StoredUpdate]
}

/// Leader/follower group commit: appends queue up; whoever finds no commit
/// running starts one, which writes everything queued in one transaction and
/// then resumes those callers. Appends arriving meanwhile wait for the next
/// one, so under load each fsync serves many updates, with no timer.
actor GroupCommitter {
    private let writer: any DatabaseWriter
    private var queue: [(PendingAppend, CheckedContinuation<Void, any Error>)] = []
    private var committing = false
    private(set) var statistics = DurableLogStatistics()

    init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    func append(_ pending: PendingAppend) async throws(StorageError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                queue.append((pending, continuation))
                statistics.appends += 1
                if !committing {
                    committing = true
                    Task { await self.commitQueued() }
                }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .failed(String(describing: error))
        }
    }

    private func commitQueued() async {
        while !queue.isEmpty {
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let appends = batch.map(\.0)
            let started = ContinuousClock.now
            do {
                try await writer.write { db in
                    for room in Set(appends.map(\.room)) {
                        try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
                    }
                    let insert = try db.cachedStatement(
                        sql:
                            "INSERT OR IGNORE INTO updates (room, origin, seq, timestamp, action) VALUES (?, ?, ?, ?, ?)"
                    )
                    for append in appends {
                        for update in append.updates {
                            try insert.execute(arguments: [
                                append.room, Int64(bitPattern: update.origin.rawValue), Int64(bitPattern: update.seq),
                                Int64(bitPattern: update.timestamp.rawValue), Data(update.action),
                            ])
                        }
                    }
                }
                let elapsed = (ContinuousClock.now - started).components
                statistics.transactions += 1
                statistics.commitNanoseconds +=
                    UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
                statistics.updates += appends.reduce(0) { $0 + $1.updates.count }
                for (_, continuation) in batch { continuation.resume() }
            } catch {
                let failure = StorageError.failed(String(describing: error))
                for (_, continuation) in batch { continuation.resume(throwing: failure) }
            }
        }
        committing = false
    }
}
