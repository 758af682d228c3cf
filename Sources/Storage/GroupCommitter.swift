import Foundation
import GRDB
import Scuttlebutt

/// One caller's updates waiting for the next commit.
struct PendingAppend: Sendable {
    let room: String
    let updates: [StoredUpdate]
}

/// Leader/follower group commit, straight on GRDB's writer queue: appends
/// queue up under a lock; whoever finds no commit running starts one on the
/// writer's queue, which writes everything queued in one transaction per
/// round and calls each caller back there, until nothing is queued. Appends
/// arriving meanwhile join the next round, so under load each fsync serves
/// many updates, with no actor or task between the caller and the writer.
///
/// Rounds start at least ``minimumInterval`` apart: an append to an idle log
/// commits at once, while under load what arrives within the interval shares
/// one transaction. (A transaction costs SQLite a WAL frame for every page it
/// touches, whatever it holds: at a few updates each, that was most of the
/// server's storage time.)
///
/// The state is behind an `NSLock` rather than `Synchronization.Mutex`: on
/// Linux the latter waits with raw futex calls, which ThreadSanitizer cannot
/// see, so every access would be reported as a race.
final class GroupCommitter: @unchecked Sendable {
    /// Called on the writer's queue once an append is durable, or refused.
    typealias Completion = @Sendable (Result<Void, StorageError>) -> Void

    private struct State {
        var queue: [(PendingAppend, Completion)] = []
        var committing = false
        /// When the last round started (uptime nanoseconds).
        var lastRound: UInt64 = 0
        /// Rooms known to have their row in `rooms`.
        var knownRooms: Set<String> = []
        var statistics = DurableLogStatistics()
        /// The highest seq stored per room and origin, as far as this process
        /// has read or written it (the file has one writer: this server), so
        /// that the gap check rarely reads the database.
        var highestStored: [String: [PeerID: UInt64]] = [:]
    }

    private let writer: any DatabaseWriter
    /// The least time between the starts of two rounds.
    let minimumInterval: Duration
    private let lock = NSLock()
    /// Only under `lock` (see ``withState(_:)``).
    private var state = State()

    init(writer: any DatabaseWriter, minimumInterval: Duration) {
        self.writer = writer
        self.minimumInterval = minimumInterval
    }

    /// Counts so far.
    var statistics: DurableLogStatistics { withState { $0.statistics } }

    private func withState<T>(_ body: (inout State) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&state)
    }

    /// Queues `pending` for the next commit; `completion` runs on the
    /// writer's queue when it is durable or refused (keep it short).
    func append(_ pending: PendingAppend, completion: @escaping Completion) {
        let starts = withState { state in
            state.queue.append((pending, completion))
            state.statistics.appends += 1
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        if starts { scheduleRound() }
    }

    /// Starts the next round on the writer's queue, once the interval since
    /// the last round's start has passed.
    private func scheduleRound() {
        let interval =
            UInt64(minimumInterval.components.seconds) * 1_000_000_000
            + UInt64(minimumInterval.components.attoseconds / 1_000_000_000)
        let due = withState { $0.lastRound } &+ interval
        let now = DispatchTime.now().uptimeNanoseconds
        let writer = writer
        if now >= due {
            writer.asyncWriteWithoutTransaction { db in self.commitQueued(db) }
        } else {
            DispatchQueue.global().asyncAfter(deadline: DispatchTime(uptimeNanoseconds: due)) {
                writer.asyncWriteWithoutTransaction { db in self.commitQueued(db) }
            }
        }
    }

    /// Commits everything queued in one transaction, on the writer's queue,
    /// then schedules the next round if more was queued meanwhile. An append
    /// refused because it would leave a gap fails alone; the others commit.
    private func commitQueued(_ db: Database) {
        let taken = withState { state -> ([(PendingAppend, Completion)], [String: [PeerID: UInt64]], Set<String>)? in
            guard !state.queue.isEmpty else {
                state.committing = false
                return nil
            }
            state.lastRound = DispatchTime.now().uptimeNanoseconds
            defer { state.queue.removeAll(keepingCapacity: true) }
            return (state.queue, state.highestStored, state.knownRooms)
        }
        guard let (batch, known, knownRooms) = taken else { return }
        defer {
            let more = withState { state in
                state.committing = !state.queue.isEmpty
                return state.committing
            }
            if more { scheduleRound() }
        }
        let started = ContinuousClock.now
        do {
            var written: (refusals: [Int: StorageError], highest: [String: [PeerID: UInt64]]) = ([:], known)
            try db.inTransaction {
                written = try Self.write(batch.map(\.0), knowing: known, rooms: knownRooms, in: db)
                return .commit
            }
            let (refusals, highest) = written
            let elapsed = (ContinuousClock.now - started).components
            // Only once committed: a failed transaction stored nothing.
            withState { state in
                state.knownRooms.formUnion(batch.map(\.0.room))
                state.highestStored = highest
                state.statistics.transactions += 1
                state.statistics.commitNanoseconds +=
                    UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
                for (index, (pending, _)) in batch.enumerated() where refusals[index] == nil {
                    state.statistics.updates += pending.updates.count
                }
            }
            for (index, (_, completion)) in batch.enumerated() {
                completion(refusals[index].map { .failure($0) } ?? .success(()))
            }
        } catch {
            let failure = StorageError(error, doing: "store updates")
            for (_, completion) in batch { completion(.failure(failure)) }
        }
    }

    /// Writes `appends` in one transaction.
    ///
    /// An append is checked whole before any of it is written: one whose
    /// updates would leave a gap after what the log holds (or what earlier
    /// appends of the transaction add) is skipped and refused, so no
    /// rollback is ever needed.
    /// - Parameters:
    ///   - known: The highest seq stored per room and origin, where known;
    ///     the rest is read from the database.
    ///   - rooms: Rooms whose row is known to exist already.
    /// - Returns: The refusal of each append that would have left a gap, by
    ///   its index (nothing of it is written), and `known` brought up to date.
    private static func write(
        _ appends: [PendingAppend], knowing known: [String: [PeerID: UInt64]], rooms: Set<String>, in db: Database
    ) throws -> (refusals: [Int: StorageError], highest: [String: [PeerID: UInt64]]) {
        let newRoom = try db.cachedStatement(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)")
        for room in Set(appends.map(\.room)).subtracting(rooms) {
            try newRoom.execute(arguments: [room])
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
