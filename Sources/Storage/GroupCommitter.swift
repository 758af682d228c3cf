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
        } catch {
            throw StorageError(error, doing: "store updates")
        }
    }

    /// Commits everything queued, one transaction per round. Each append
    /// goes in a savepoint of its own, so that one refused append (it would
    /// leave a gap) fails alone and the others commit.
    private func commitQueued() async {
        while !queue.isEmpty {
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let started = ContinuousClock.now
            do {
                let refusals = try await writer.write { db in try Self.write(batch.map(\.0), in: db) }
                let elapsed = (ContinuousClock.now - started).components
                statistics.transactions += 1
                statistics.commitNanoseconds +=
                    UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
                for (index, (pending, continuation)) in batch.enumerated() {
                    if let refusal = refusals[index] {
                        continuation.resume(throwing: refusal)
                    } else {
                        statistics.updates += pending.updates.count
                        continuation.resume()
                    }
                }
            } catch {
                let failure = StorageError(error, doing: "store updates")
                for (_, continuation) in batch { continuation.resume(throwing: failure) }
            }
        }
        committing = false
    }

    /// Writes `appends` in one transaction.
    /// - Returns: The refusal of each append that would have left a gap, by
    ///   its index (nothing of it is written).
    private static func write(_ appends: [PendingAppend], in db: Database) throws -> [Int: StorageError] {
        for room in Set(appends.map(\.room)) {
            try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
        }
        let insert = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO updates (room, origin, seq, timestamp, action) VALUES (?, ?, ?, ?, ?)")
        let highest = try db.cachedStatement(sql: "SELECT MAX(seq) FROM updates WHERE room = ? AND origin = ?")
        var stored: [String: [PeerID: UInt64]] = [:]
        var refusals: [Int: StorageError] = [:]
        for (index, append) in appends.enumerated() {
            var refusal: StorageError?
            try db.inSavepoint {
                for update in append.updates {
                    let held =
                        try stored[append.room]?[update.origin]
                        ?? Int64.fetchOne(
                            highest, arguments: [append.room, Int64(bitPattern: update.origin.rawValue)]
                        ).map { UInt64(bitPattern: $0) } ?? 0
                    guard update.seq <= held + 1 else {
                        refusal = .gap(
                            room: append.room, origin: update.origin, expected: held + 1, received: update.seq)
                        return .rollback
                    }
                    try insert.execute(arguments: [
                        append.room, Int64(bitPattern: update.origin.rawValue), Int64(bitPattern: update.seq),
                        Int64(bitPattern: update.timestamp.rawValue), Data(update.action),
                    ])
                    stored[append.room, default: [:]][update.origin] = max(held, update.seq)
                }
                return .commit
            }
            if let refusal {
                refusals[index] = refusal
                // What the rolled-back savepoint held is not stored.
                stored[append.room] = nil
            }
        }
        return refusals
    }
}
