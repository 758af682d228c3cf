import Scuttlebutt

/// A server node of a cluster, as the shared store knows it.
public struct ClusterNode: Sendable, Hashable {
    /// Its name (`serve --node`), unique in the cluster.
    public var name: String
    /// Where clients reach its protocol port, `HOST:PORT` (`--advertise`).
    public var address: String
    /// Where browsers reach its HTTP port, `HOST:PORT`, if it serves one.
    public var webAddress: String?
    /// It is stopping: rooms move off it, none move to it.
    public var isDraining: Bool
    /// Its heartbeat has not lapsed (as the store's clock says).
    public var isAlive: Bool

    /// A node.
    public init(name: String, address: String, webAddress: String?, isDraining: Bool = false, isAlive: Bool = true) {
        self.name = name
        self.address = address
        self.webAddress = webAddress
        self.isDraining = isDraining
        self.isAlive = isAlive
    }
}

/// Who holds a room, at which epoch.
public struct RoomLease: Sendable, Hashable {
    /// The room.
    public var room: String
    /// The holding node's name.
    public var node: String
    /// The lease's epoch: it grows by one every time the room changes hands.
    public var epoch: UInt64
    /// Milliseconds until it lapses unless renewed (negative: lapsed).
    public var remainingMilliseconds: Int64

    /// A lease.
    public init(room: String, node: String, epoch: UInt64, remainingMilliseconds: Int64) {
        self.room = room
        self.node = node
        self.epoch = epoch
        self.remainingMilliseconds = remainingMilliseconds
    }
}

/// The answer to a claim on a room.
public enum LeaseClaim: Sendable, Hashable {
    /// The room is this node's, at `epoch`: every write for it carries it.
    case granted(epoch: UInt64)
    /// Another node holds a lease that has not lapsed.
    case heldElsewhere(node: String)
}

/// A durable store several server nodes share, which places rooms on them:
/// a lease per room, renewed by its holder, with an epoch that fences every
/// write. A write carrying an epoch that is no longer the room's is refused
/// (``StorageError/fenced(room:epoch:current:)``), in the same transaction
/// that would have stored it, so a node that was paused or cut off past
/// its lease can never write after its room moved.
///
/// Time is the store's own clock (one clock for every node): a lease lapses
/// when the store says so, whatever the nodes' clocks say.
public protocol LeaseStore: DurableStore {
    /// Registers `node` (or refreshes it) as alive for `ttl`; `incarnation`
    /// tells this process from an earlier one of the same name.
    func announce(_ node: ClusterNode, incarnation: String, ttl: Duration) async throws(StorageError)

    /// Every node ever announced, with whether it is alive.
    func nodes() async throws(StorageError) -> [ClusterNode]

    /// Claims `room` for `node`: granted when nobody holds it, its lease
    /// lapsed (the epoch then grows by one), or this incarnation holds it
    /// already (same epoch, renewed).
    func claim(room: String, node: String, incarnation: String, ttl: Duration) async throws(StorageError)
        -> LeaseClaim

    /// Renews every lease this incarnation holds, and its node's heartbeat.
    /// - Returns: The rooms it still holds, with their epochs: a room
    ///   missing was taken over.
    func renew(node: String, incarnation: String, ttl: Duration) async throws(StorageError) -> [String: UInt64]

    /// Gives `room` up at once (a drain), if this incarnation holds it; the
    /// next claim takes it at the next epoch.
    func release(room: String, incarnation: String) async throws(StorageError)

    /// Every lease, lapsed or not.
    func leases() async throws(StorageError) -> [RoomLease]

    /// The lease of `room`, if it ever had one.
    func lease(of room: String) async throws(StorageError) -> RoomLease?

    /// Rooms whose lease lapsed while held by another node (a node that
    /// died or stopped renewing), at most `limit`: candidates to take over.
    func lapsedRooms(apartFrom node: String, limit: Int) async throws(StorageError) -> [String]

    /// ``DurableStore/append(room:_:completion:)`` fenced by `epoch`.
    func append(
        room: String, _ updates: [StoredUpdate], epoch: UInt64,
        completion: @escaping @Sendable (Result<Void, StorageError>) -> Void)

    /// ``DurableStore/saveCheckpoint(_:room:)`` fenced by `epoch`.
    func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String, epoch: UInt64) async throws(StorageError)

    /// ``DurableStore/setFrontier(_:room:)`` fenced by `epoch`.
    func setFrontier(_ frontier: Timestamp, room: String, epoch: UInt64) async throws(StorageError)
}

extension LeaseStore {
    /// Stores `updates` fenced by `epoch` and returns once they are durable.
    public func append(room: String, _ updates: [StoredUpdate], epoch: UInt64) async throws(StorageError) {
        let result = await withCheckedContinuation { continuation in
            append(room: room, updates, epoch: epoch) { continuation.resume(returning: $0) }
        }
        try result.get()
    }
}
