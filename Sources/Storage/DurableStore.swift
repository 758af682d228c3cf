import Scuttlebutt

/// The durable log of every room, whatever engine keeps it: SQLite in one
/// file (``DurableLog``, the embedded default) or PostgreSQL (`PostgresLog`,
/// for servers that share one database). The server, its tools and the
/// storage conformance suite speak only this protocol; every engine passes
/// that one suite.
///
/// The contract every engine keeps:
/// - ``append(room:_:completion:)`` calls back once the updates are durable
///   (a server acknowledges them then), or refused; appends arriving while a
///   commit is in flight share the next one (group commit).
/// - An origin's updates are stored without gaps: an append whose first new
///   seq is not the next after what the log holds is refused whole
///   (``StorageError/gap(room:origin:expected:received:)``). An update
///   already stored (same room, origin and seq) is left as it is.
/// - A room's frontier never moves back; a checkpoint replaces the stored
///   one only when its horizon is later. Updates are never deleted.
/// - Reads return updates in total order (`(timestamp, origin)`).
public protocol DurableStore: AnyObject, Sendable {
    /// Where the log lives, for logs and messages (never a password).
    var location: String { get }

    /// Stores `updates` of `room` and calls `completion` once they are
    /// durable, or refused. The completion runs on the engine's own thread
    /// or event loop: keep it short.
    func append(
        room: String, _ updates: [StoredUpdate],
        completion: @escaping @Sendable (Result<Void, StorageError>) -> Void)

    /// Persists a room's stable frontier (never moving it back).
    func setFrontier(_ frontier: Timestamp, room: String) async throws(StorageError)

    /// Stores `checkpoint` as the room's restart point, unless the stored one
    /// is already at or past its horizon.
    func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String) async throws(StorageError)

    /// Everything needed to rebuild `room`: its frontier, its latest
    /// checkpoint and the updates above it. An unknown room is empty.
    func load(room: String) async throws(StorageError) -> StoredRoom

    /// Every update of `room` ever stored, in total order (export, audit).
    func history(room: String) async throws(StorageError) -> [StoredUpdate]

    /// Updates of `origin` in `room` after `seq`, oldest first, at most `limit`.
    func updates(room: String, origin: PeerID, after seq: UInt64, limit: Int) async throws(StorageError)
        -> [StoredUpdate]

    /// What the log holds of `room`: the highest seq per origin.
    func digest(room: String) async throws(StorageError) -> Digest

    /// Whether anything was ever stored for `room`.
    func roomExists(_ room: String) async throws(StorageError) -> Bool

    /// Every stored room, by name.
    func rooms() async throws(StorageError) -> [RoomSummary]

    /// Checks that the log takes writes now (a small write that commits).
    func probe() async throws(StorageError)

    /// A cheap check of what could go wrong underneath without a write
    /// failing (a SQLite file deleted while open); run on a timer.
    func watch() async throws(StorageError)

    /// Brings the engine to rest before the process exits (SQLite folds its
    /// write-ahead log into the file).
    func settle() async throws(StorageError)

    /// Work counters.
    var statistics: DurableLogStatistics { get async }
}

extension DurableStore {
    /// Stores `updates` of `room` and returns once they are durable.
    public func append(room: String, _ updates: [StoredUpdate]) async throws(StorageError) {
        let result = await withCheckedContinuation { continuation in
            append(room: room, updates) { continuation.resume(returning: $0) }
        }
        try result.get()
    }
}
