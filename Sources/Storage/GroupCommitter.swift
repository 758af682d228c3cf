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
    /// The highest seq stored per room and origin, as far as this process
    /// has read or written it (the file has one writer: this server), so
    /// that the gap check rarely reads the database.
    private var highestStored: [String: [PeerID: UInt64]] = [:]

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

    /// Commits everything queued, one transaction per round. An append
    /// refused because it would leave a gap fails alone; the others commit.
    private func commitQueued() async {
        while !queue.isEmpty {
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let started = ContinuousClock.now
            do {
                let known = highestStored
                let (refusals, highest) = try await writer.write { db in
                    try Self.write(batch.map(\.0), knowing: known, in: db)
                }
                // Only once committed: a failed transaction stored nothing.
                highestStored = highest
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
    ///
    /// An append is checked whole before any of it is written: one whose
    /// updates would leave a gap after what the log holds (or what earlier
    /// appends of the transaction add) is skipped and refused, so no
    /// rollback is ever needed.
    /// - Parameter known: The highest seq stored per room and origin, where
    ///   known; the rest is read from the database.
    /// - Returns: The refusal of each append that would have left a gap, by
    ///   its index (nothing of it is written), and `known` brought up to date.
    private static func write(
        _ appends: [PendingAppend], knowing known: [String: [PeerID: UInt64]], in db: Database
    ) throws -> (refusals: [Int: StorageError], highest: [String: [PeerID: UInt64]]) {
        for room in Set(appends.map(\.room)) {
            try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
        }
        let insert = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO updates (room, origin, seq, timestamp, action) VALUES (?, ?, ?, ?, ?)")
        let highest = try db.cachedStatement(sql: "SELECT MAX(seq) FROM updates WHERE room = ? AND origin = ?")
        var held = known
        var refusals: [Int: StorageError] = [:]
        for (index, append) in appends.enumerated() {
            var after = held[append.room] ?? [:]
            var gap: StorageError?
            for update in append.updates where gap == nil {
                let last =
                    try after[update.origin]
                    ?? Int64.fetchOne(highest, arguments: [append.room, Int64(bitPattern: update.origin.rawValue)])
                    .map { UInt64(bitPattern: $0) } ?? 0
                if update.seq > last + 1 {
                    gap = .gap(room: append.room, origin: update.origin, expected: last + 1, received: update.seq)
                }
                after[update.origin] = max(last, update.seq)
            }
            if let gap {
                refusals[index] = gap
                continue
            }
            held[append.room] = after
            for update in append.updates {
                try insert.execute(arguments: [
                    append.room, Int64(bitPattern: update.origin.rawValue), Int64(bitPattern: update.seq),
                    Int64(bitPattern: update.timestamp.rawValue), Data(update.action),
                ])
            }
        }
        return (refusals, held)
    }
}
