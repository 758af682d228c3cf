import Foundation
import Logging
import NIOCore
import PostgresNIO
import Scuttlebutt
import Storage

/// One caller's updates waiting for the next commit.
struct PendingAppend: Sendable {
    let room: String
    let updates: [StoredUpdate]
    /// The lease epoch the writer holds the room at; nil for a store no
    /// nodes share.
    let epoch: UInt64?
}

/// Group commit for PostgreSQL: appends queue up under a lock; whoever
/// finds no commit running starts a task that commits everything queued in
/// one transaction (one multi-row insert through `unnest`), calls each
/// caller back, and goes on while more was queued meanwhile. Under load
/// each commit carries many updates; an append to an idle log commits at
/// once.
///
/// The gap check (an origin's updates are stored without holes) reads the
/// highest stored seq of an origin once, then keeps it: a room is written by
/// one server at a time, and ``forget(room:)`` drops what is kept of a room
/// when it is loaded again (it may have been written elsewhere meanwhile).
///
/// The state is behind an `NSLock` (which ThreadSanitizer sees).
final class PostgresCommitter: @unchecked Sendable {
    typealias Completion = @Sendable (Result<Void, StorageError>) -> Void

    private struct State {
        var queue: [(PendingAppend, Completion)] = []
        var committing = false
        var knownRooms: Set<String> = []
        var highestStored: [String: [PeerID: UInt64]] = [:]
        var statistics = DurableLogStatistics()
    }

    private let client: PostgresClient
    private let operationTimeout: Duration
    private let logger: Logger
    private let lock = NSLock()
    private var state = State()

    init(client: PostgresClient, operationTimeout: Duration, logger: Logger) {
        self.client = client
        self.operationTimeout = operationTimeout
        self.logger = logger
    }

    var statistics: DurableLogStatistics { withState { $0.statistics } }

    private func withState<T>(_ body: (inout State) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&state)
    }

    /// Queues `pending`; `completion` runs once it is durable or refused.
    func append(_ pending: PendingAppend, completion: @escaping Completion) {
        let starts = withState { state in
            state.queue.append((pending, completion))
            state.statistics.appends += 1
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        if starts { Task { await drain() } }
    }

    /// Drops what is known of `room`'s stored seqs.
    func forget(room: String) {
        withState { state in
            state.highestStored[room] = nil
            state.knownRooms.remove(room)
        }
    }

    private func drain() async {
        while true {
            let taken = withState {
                state -> ([(PendingAppend, Completion)], [String: [PeerID: UInt64]], Set<String>)? in
                guard !state.queue.isEmpty else {
                    state.committing = false
                    return nil
                }
                defer { state.queue.removeAll(keepingCapacity: true) }
                return (state.queue, state.highestStored, state.knownRooms)
            }
            guard let (batch, known, knownRooms) = taken else { return }
            await commit(batch, knowing: known, rooms: knownRooms)
        }
    }

    /// Commits `batch` in one transaction and calls each caller back. An
    /// append that would leave a gap is refused alone; the others commit.
    private func commit(
        _ batch: [(PendingAppend, Completion)], knowing known: [String: [PeerID: UInt64]], rooms knownRooms: Set<String>
    ) async {
        let started = ContinuousClock.now
        let appends = batch.map(\.0)
        let (client, logger) = (client, logger)
        do {
            // A commit cut off by the timeout may still land: its callers
            // are told it failed and send again, which stores nothing twice.
            let (refusals, highest) = try await withTimeout(operationTimeout, doing: "store updates") {
                try await client.withTransaction(logger: logger) { connection in
                    try await Self.write(appends, knowing: known, rooms: knownRooms, on: connection, logger: logger)
                }
            }
            let elapsed = (ContinuousClock.now - started).components
            withState { state in
                state.knownRooms.formUnion(appends.map(\.room))
                for (room, seqs) in highest {
                    state.highestStored[room, default: [:]].merge(seqs, uniquingKeysWith: max)
                }
                state.statistics.transactions += 1
                state.statistics.commitNanoseconds +=
                    UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
                for (index, append) in appends.enumerated() where refusals[index] == nil {
                    state.statistics.updates += append.updates.count
                }
            }
            for (index, (_, completion)) in batch.enumerated() {
                completion(refusals[index].map { .failure($0) } ?? .success(()))
            }
        } catch {
            let failure = StorageError(postgres: error, doing: "store updates")
            for (_, completion) in batch { completion(.failure(failure)) }
        }
    }

    /// Writes `appends` on `connection`, inside its transaction.
    /// - Returns: The refusal of each append that would have left a gap (by
    ///   index; nothing of it is written), and the highest seq now stored
    ///   per room and origin the batch touched.
    private static func write(
        _ appends: [PendingAppend], knowing known: [String: [PeerID: UInt64]], rooms knownRooms: Set<String>,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> (refusals: [Int: StorageError], highest: [String: [PeerID: UInt64]]) {
        // Fencing: the lease rows of the rooms written at an epoch, locked
        // until the commit, so no claim can move a room between the check
        // and the write.
        let fencedRooms = Array(Set(appends.filter { $0.epoch != nil }.map(\.room)))
        var currentEpochs: [String: UInt64] = [:]
        if !fencedRooms.isEmpty {
            let rows = try await connection.query(
                "SELECT room, epoch FROM leases WHERE room = ANY(\(fencedRooms)::TEXT[]) FOR SHARE", logger: logger)
            for try await (room, epoch) in rows.decode((String, Int64).self) {
                currentEpochs[room] = UInt64(bitPattern: epoch)
            }
        }
        let newRooms = Array(Set(appends.map(\.room)).subtracting(knownRooms))
        if !newRooms.isEmpty {
            try await connection.query(
                "INSERT INTO rooms (name) SELECT unnest(\(newRooms)::TEXT[]) ON CONFLICT DO NOTHING", logger: logger)
        }
        // The highest stored seq of each origin the batch touches that is
        // not known yet, read in one query.
        var held: [String: [PeerID: UInt64]] = [:]
        var unknown: Set<Pair> = []
        for append in appends {
            for update in append.updates where known[append.room]?[update.origin] == nil {
                unknown.insert(Pair(room: append.room, origin: update.origin))
            }
            held[append.room] = known[append.room] ?? [:]
        }
        if !unknown.isEmpty {
            let pairs = Array(unknown)
            let rooms = pairs.map(\.room)
            let origins = pairs.map { Int64(bitPattern: $0.origin.rawValue) }
            let rows = try await connection.query(
                """
                SELECT wanted.room, wanted.origin,
                    (SELECT MAX(seq) FROM updates WHERE room = wanted.room AND origin = wanted.origin)
                FROM unnest(\(rooms)::TEXT[], \(origins)::BIGINT[]) AS wanted(room, origin)
                """, logger: logger)
            for try await (room, origin, seq) in rows.decode((String, Int64, Int64?).self) {
                held[room, default: [:]][PeerID(UInt64(bitPattern: origin))] = seq.map { UInt64(bitPattern: $0) } ?? 0
            }
        }
        var refusals: [Int: StorageError] = [:]
        var rooms: [String] = []
        var origins: [Int64] = []
        var seqs: [Int64] = []
        var timestamps: [Int64] = []
        var actions: [ByteBuffer] = []
        for (index, append) in appends.enumerated() {
            if let epoch = append.epoch, currentEpochs[append.room] != epoch {
                refusals[index] = .fenced(room: append.room, epoch: epoch, current: currentEpochs[append.room])
                continue
            }
            var after = held[append.room] ?? [:]
            var gap: StorageError?
            for update in append.updates where gap == nil {
                let last = after[update.origin] ?? 0
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
                rooms.append(append.room)
                origins.append(Int64(bitPattern: update.origin.rawValue))
                seqs.append(Int64(bitPattern: update.seq))
                timestamps.append(Int64(bitPattern: update.timestamp.rawValue))
                actions.append(ByteBuffer(bytes: update.action))
            }
        }
        if !rooms.isEmpty {
            try await connection.query(
                """
                INSERT INTO updates (room, origin, seq, timestamp, action)
                SELECT * FROM unnest(\(rooms)::TEXT[], \(origins)::BIGINT[], \(seqs)::BIGINT[],
                                     \(timestamps)::BIGINT[], \(actions)::BYTEA[])
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        return (refusals, held)
    }

    /// A room and an origin.
    private struct Pair: Hashable {
        let room: String
        let origin: PeerID
    }
}
