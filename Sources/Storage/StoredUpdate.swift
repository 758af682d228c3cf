import Scuttlebutt

/// An update as stored: the envelope and the app codec's action bytes.
/// Storage never decodes actions, so it serves any app.
public struct StoredUpdate: Sendable, Hashable {
    /// The recording peer.
    public let origin: PeerID
    /// The origin's sequence number.
    public let seq: UInt64
    /// The update's stamp.
    public let timestamp: Timestamp
    /// The action, as the app's codec encoded it.
    public let action: [UInt8]

    /// A stored update.
    public init(origin: PeerID, seq: UInt64, timestamp: Timestamp, action: [UInt8]) {
        self.origin = origin
        self.seq = seq
        self.timestamp = timestamp
        self.action = action
    }

    /// The update's place in the total order.
    public var orderKey: OrderKey { OrderKey(timestamp: timestamp, origin: origin) }
}

/// How hard the log works to keep what it acknowledged.
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// fsync on every commit: survives power loss (`synchronous = FULL`).
    case full
    /// fsync at WAL checkpoints only: survives a crash of the process
    /// (kill -9), not of the machine (`synchronous = NORMAL`). The default.
    case normal
    /// No fsync at all: fastest, survives nothing but a clean shutdown.
    case off
}

/// A room as stored: what a restart needs to rebuild it.
public struct StoredRoom: Sendable, Hashable {
    /// The room's name.
    public let name: String
    /// The stable frontier last persisted.
    public let frontier: Timestamp
    /// The latest checkpoint, if one was written.
    public let checkpoint: StoredCheckpoint?
    /// Every update above the checkpoint (all of them without one), in
    /// total order.
    public let updates: [StoredUpdate]

    /// A room as an engine read it.
    public init(name: String, frontier: Timestamp, checkpoint: StoredCheckpoint?, updates: [StoredUpdate]) {
        self.name = name
        self.frontier = frontier
        self.checkpoint = checkpoint
        self.updates = updates
    }
}

/// A room's folded state at a horizon, so that a restart replays only the
/// updates above it. The state is the app codec's bytes.
public struct StoredCheckpoint: Sendable, Hashable {
    /// The latest update folded into the state.
    public let horizon: OrderKey
    /// Per origin, the highest seq folded into the state.
    public let digest: Digest
    /// The state, as the app's codec encoded it.
    public let state: [UInt8]

    /// A checkpoint of `state`, folding `digest` up to `horizon`.
    public init(horizon: OrderKey, digest: Digest, state: [UInt8]) {
        self.horizon = horizon
        self.digest = digest
        self.state = state
    }
}

/// One line of a room listing.
public struct RoomSummary: Sendable, Hashable {
    /// The room's name.
    public let name: String
    /// Updates stored.
    public let updateCount: Int
    /// Distinct origins that wrote to it.
    public let originCount: Int
    /// The latest stamp, if any.
    public let lastTimestamp: Timestamp?
    /// The persisted frontier.
    public let frontier: Timestamp

    /// A summary line.
    public init(name: String, updateCount: Int, originCount: Int, lastTimestamp: Timestamp?, frontier: Timestamp) {
        self.name = name
        self.updateCount = updateCount
        self.originCount = originCount
        self.lastTimestamp = lastTimestamp
        self.frontier = frontier
    }
}

/// Work counters of a ``DurableStore``.
public struct DurableLogStatistics: Sendable, Hashable {
    /// Calls to ``DurableStore/append(room:_:completion:)``.
    public var appends = 0
    /// Updates written.
    public var updates = 0
    /// Transactions committed: fewer than appends when commits were grouped.
    public var transactions = 0
    /// Time spent committing, over all transactions.
    public var commitNanoseconds: UInt64 = 0

    /// Nothing counted yet.
    public init() {}
}

extension StoredUpdate {
    /// `update` as stored, its action encoded by the app's codec.
    public init<Action>(_ update: Update<Action>, encode: (Action, UpdateID) -> [UInt8]) {
        self.init(
            origin: update.origin, seq: update.seq, timestamp: update.timestamp,
            action: encode(update.action, update.id))
    }

    /// The update this stores, its action decoded by the app's codec; nil
    /// when the bytes do not decode.
    public func decoded<Action>(with decode: ([UInt8], UpdateID) throws -> Action) -> Update<Action>? {
        let id = UpdateID(origin: origin, seq: seq)
        guard let action = try? decode(self.action, id) else { return nil }
        return Update(origin: origin, seq: seq, timestamp: timestamp, action: action)
    }
}
