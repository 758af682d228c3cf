/// What a peer is to the room it joins.
public enum PeerRole: UInt8, Sendable, Hashable, CaseIterable {
    /// A person who draws.
    case editor = 0
    /// A person who only watches; never sends updates.
    case viewer = 1
    /// A program that draws.
    case bot = 2
    /// The room's authority.
    case server = 3

    /// Whether this role may author updates.
    public var mayAuthor: Bool { self != .viewer }
}

/// The first message on every link.
public struct Hello: Sendable, Hashable {
    /// The protocol version the sender speaks.
    public var protocolVersion: UInt16
    /// The sender's origin; on a server-side session, the only origin the
    /// sender may author for the rest of the session.
    public var peer: PeerID
    /// A display name.
    public var name: String
    /// The room (log) to join.
    public var room: String
    /// What the sender is to the room.
    public var role: PeerRole
    /// An access token, when the room asks for one.
    public var credentials: String?
    /// What the sender holds.
    public var digest: Digest
    /// The sender's clock: everything it will record is later than this.
    public var clock: Timestamp

    /// A hello with every field given.
    public init(
        protocolVersion: UInt16, peer: PeerID, name: String, room: String, role: PeerRole,
        credentials: String?, digest: Digest, clock: Timestamp
    ) {
        self.protocolVersion = protocolVersion
        self.peer = peer
        self.name = name
        self.room = room
        self.role = role
        self.credentials = credentials
        self.digest = digest
        self.clock = clock
    }
}

/// Ephemeral per-origin data (cursor, name, colour, tool, viewport): never in
/// the log, latest wins, cleared when its session ends. The payload is the
/// app's to encode.
public struct Presence: Sendable, Hashable {
    /// Whose presence this is.
    public var origin: PeerID
    /// The app's encoding of it.
    public var payload: [UInt8]

    /// Presence of `origin`.
    public init(origin: PeerID, payload: [UInt8]) {
        self.origin = origin
        self.payload = payload
    }
}

/// Why a session ended; sent in `goodbye` so the other side can tell a
/// person.
public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
    /// An orderly end.
    case normal
    /// The peer broke the protocol (bad order, forged origin, …).
    case protocolViolation(String)
    /// An update from the peer was refused for a reason that ends the link.
    case updateRejected(UpdateRejection)
    /// The peer speaks another protocol version.
    case versionMismatch(local: UInt16, remote: UInt16)
    /// The peer is not allowed to do what it tried.
    case unauthorized(String)
    /// Nothing was heard from the peer for too long.
    case timeout
    /// The peer read too slowly; it can reconnect and catch up by digest.
    case slowConsumer
    /// The peer's history lies below our horizon; it needs a snapshot.
    case snapshotRequired
    /// The server is going away.
    case shuttingDown
    /// A limit was reached (connections, rooms, update rate): what and how much.
    case limitExceeded(String)
    /// The server could not make updates durable (a full disk, a locked or
    /// missing database): nothing of the refused batch was taken, and it is
    /// worth sending again later. The words are the store's own.
    case storageUnavailable(String)
    /// The room lives on another node of the cluster: connect to `address`
    /// (`HOST:PORT` for the protocol over TCP, the HTTP address for a
    /// WebSocket session) and send what was not acknowledged there.
    case redirect(node: String, address: String)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .normal: return "closed normally"
        case .protocolViolation(let what): return "protocol violation: \(what)"
        case .updateRejected(let rejection): return "update rejected: \(rejection)"
        case .versionMismatch(let local, let remote):
            return "protocol version mismatch: we speak v\(local), peer speaks v\(remote)"
        case .unauthorized(let what): return "unauthorized: \(what)"
        case .timeout: return "peer timed out"
        case .slowConsumer: return "peer read too slowly and was disconnected; it will catch up on reconnect"
        case .snapshotRequired: return "peer is behind the horizon and needs a snapshot"
        case .shuttingDown: return "server shutting down"
        case .limitExceeded(let what): return "limit exceeded: \(what)"
        case .storageUnavailable(let what): return "the server cannot store updates now: \(what)"
        case .redirect(let node, let address): return "the room is served by node \(node) at \(address)"
        }
    }
}

/// One message of the gossip protocol (docs/PROTOCOL.md, "Messages"), before encoding.
public enum GossipMessage<Action: Sendable>: Sendable {
    /// Opens the link: who, which room, what the sender holds.
    case hello(Hello)
    /// A batch of updates, each origin's in seq order.
    case updates([Update<Action>])
    /// Acknowledges `batches` received batches and reports the sender's
    /// clock (everything it records later is stamped after `clock`).
    case ack(batches: UInt32, clock: Timestamp)
    /// The sender has sent everything the receiver's digest lacked.
    case synced
    /// The authority's stable frontier: nothing below it can still arrive.
    case frontier(Timestamp)
    /// An update from the receiver was refused.
    case reject(UpdateRejection)
    /// Someone's cursor and the like.
    case presence(Presence)
    /// Someone left: forget their presence now.
    case presenceGone(PeerID)
    /// Liveness probe, echoed by `pong`.
    case ping(UInt64)
    /// Answer to `ping` with the same nonce.
    case pong(UInt64)
    /// The sender is closing the link, and why.
    case goodbye(CloseReason)
    /// The authority starts sending its folded state, because the receiver
    /// lacks updates it no longer holds one by one; `snapshotChunk`s follow
    /// until ``SnapshotHeader/byteCount`` bytes have arrived.
    case snapshot(SnapshotHeader)
    /// The next bytes of the state announced by `snapshot`.
    case snapshotChunk([UInt8])
}

/// What a state snapshot on a link contains (its bytes follow in chunks).
public struct SnapshotHeader: Sendable, Hashable {
    /// The latest update folded into the state.
    public var horizon: OrderKey
    /// Per origin, the highest seq folded into the state.
    public var digest: Digest
    /// The length of the state's encoding, in bytes.
    public var byteCount: Int

    /// A header for a state of `byteCount` bytes folding `digest` up to `horizon`.
    public init(horizon: OrderKey, digest: Digest, byteCount: Int) {
        self.horizon = horizon
        self.digest = digest
        self.byteCount = byteCount
    }
}

extension GossipMessage: Equatable where Action: Equatable {}

/// Where a session reads the updates it sends: a replica, or a replica
/// backed by durable storage.
public protocol UpdateSource {
    /// The action type carried by updates.
    associatedtype Action: Sendable
    /// What the source holds.
    var digest: Digest { get }
    /// Updates of `origin` after `seq`, oldest first, at most `limit`;
    /// `nil` when they are no longer available.
    func updates(of origin: PeerID, after seq: UInt64, limit: Int) -> [Update<Action>]?
}

extension ReplicatedStore: UpdateSource {
    /// The reducer's action type.
    public typealias Action = R.Action
}
