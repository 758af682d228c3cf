/// Rendezvous (highest random weight) hashing: the node a room prefers
/// among some nodes. Every node computes the same answer from the same
/// list, and when a node leaves only its own rooms move.
public enum RendezvousPlacement {
    /// The preferred node of `room` among `nodes` (by name); nil when empty.
    public static func preferred(for room: String, among nodes: [String]) -> String? {
        nodes.max { weight(room, $0) < weight(room, $1) || (weight(room, $0) == weight(room, $1) && $0 > $1) }
    }

    /// The weight of `node` for `room`: a 64-bit FNV-1a of both, mixed.
    static func weight(_ room: String, _ node: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in room.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in node.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        // splitmix64's finaliser: FNV alone spreads similar names poorly.
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}

/// Another node as one node sees it.
public struct NodeStatus: Sendable, Hashable {
    /// Its name.
    public var name: String
    /// Its heartbeat has not lapsed.
    public var isAlive: Bool
    /// It is stopping: no room is placed on it.
    public var isDraining: Bool

    /// A node's status.
    public init(name: String, isAlive: Bool = true, isDraining: Bool = false) {
        self.name = name
        self.isAlive = isAlive
        self.isDraining = isDraining
    }
}

/// A room's lease as read from the shared store.
public struct LeaseStatus: Sendable, Hashable {
    /// The holding node.
    public var node: String
    /// The lease's epoch.
    public var epoch: UInt64
    /// It has not lapsed.
    public var isLive: Bool

    /// A lease as read.
    public init(node: String, epoch: UInt64, isLive: Bool) {
        self.node = node
        self.epoch = epoch
        self.isLive = isLive
    }
}

/// One node's leases on rooms, decided without I/O: where a room goes when
/// someone asks for it, when to renew, and which rooms to give up. The
/// server (`ClusterMembership` and its renewal loop) and the cluster
/// simulator drive the same keeper; the shared store's answers (claims,
/// renewals, lease reads) and time are its inputs.
///
/// Rules:
/// - A room whose lease another live node holds stays there (no flapping).
/// - Otherwise the room goes to its rendezvous-preferred node among the live
///   nodes that are not draining; this node claims it only when that is
///   itself, and the store's claim has the last word.
/// - Leases are renewed every ``Configuration/renewInterval``; a room missing
///   from a renewal's answer, or whose write was fenced, is given up.
/// - Once a whole lease passes without a renewal, every room is given up:
///   any lease may have moved while the store was out of reach.
public struct NodeLeases: Sendable {
    /// This node and its timings.
    public struct Configuration: Sendable, Hashable {
        /// This node's name.
        public var node: String
        /// Milliseconds a lease lasts unless renewed.
        public var leaseDuration: UInt64 = 3_000
        /// Milliseconds between renewals.
        public var renewInterval: UInt64 = 1_000

        /// A node called `node`.
        public init(node: String) { self.node = node }
    }

    /// Where a room asked for on this node goes.
    public enum Placement: Sendable, Hashable {
        /// This node should claim it.
        case claim
        /// Another node serves it, or should.
        case redirect(to: String)
        /// No node can take it now.
        case unavailable(String)
    }

    /// Why a room is given up.
    public enum Loss: Sendable, Hashable {
        /// A renewal showed that another node holds it.
        case takenOver
        /// A write for it was refused by its epoch.
        case fenced
        /// No renewal for a whole lease: the store is out of reach.
        case cutOff
    }

    /// What the keeper asks its driver to do.
    public enum Effect: Sendable, Hashable {
        /// Renew every lease (and the heartbeat) now.
        case renew
        /// Unload `room` and send its sessions on.
        case giveUp(room: String, Loss)
    }

    /// This node and its timings.
    public let configuration: Configuration
    /// Rooms held and loaded here, with the epoch each was claimed at.
    public private(set) var held: [String: UInt64] = [:]
    /// This node stopped taking rooms.
    public private(set) var isDraining = false
    /// When the last renewal (or the announcement) succeeded.
    public private(set) var lastRenewal: UInt64?
    private var renewing = false
    private var nextRenewal: UInt64 = 0

    /// A keeper holding nothing.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The node `room` prefers among `nodes` that are alive and not
    /// draining, this node included unless it drains.
    public func preferred(for room: String, among nodes: [NodeStatus]) -> String? {
        var candidates = nodes.filter { $0.isAlive && !$0.isDraining && $0.name != configuration.node }.map(\.name)
        if !isDraining { candidates.append(configuration.node) }
        return RendezvousPlacement.preferred(for: room, among: candidates)
    }

    /// Where `room` goes, asked on this node, given its `lease` and the
    /// `nodes` as last read.
    public func placement(of room: String, lease: LeaseStatus?, nodes: [NodeStatus]) -> Placement {
        if let lease, lease.isLive, lease.node != configuration.node {
            if nodes.contains(where: { $0.name == lease.node && $0.isAlive }) { return .redirect(to: lease.node) }
            return .unavailable(
                "node \(lease.node) holds room \"\(room)\" and stopped answering; its lease lapses soon")
        }
        guard let preferred = preferred(for: room, among: nodes) else {
            return .unavailable("no node can take room \"\(room)\" now")
        }
        return preferred == configuration.node ? .claim : .redirect(to: preferred)
    }

    /// Where `room` lives, for sessions this node sends away: its live
    /// holder if another node, else its preferred node other than this one.
    public func whereabouts(of room: String, lease: LeaseStatus?, nodes: [NodeStatus]) -> String? {
        if let lease, lease.isLive, lease.node != configuration.node,
            nodes.contains(where: { $0.name == lease.node && $0.isAlive })
        {
            return lease.node
        }
        return preferred(for: room, among: nodes.filter { $0.name != configuration.node }).flatMap {
            $0 == configuration.node ? nil : $0
        }
    }

    /// Rooms among `lapsed` (leases another node let lapse) that prefer
    /// this node: taken over before anyone asks.
    public func roomsToTakeOver(_ lapsed: [String], nodes: [NodeStatus]) -> [String] {
        guard !isDraining else { return [] }
        return lapsed.filter { held[$0] == nil && preferred(for: $0, among: nodes) == configuration.node }
    }

    /// This node announced itself at `now` (its first renewal).
    public mutating func announced(now: UInt64) {
        lastRenewal = now
        nextRenewal = now + configuration.renewInterval
    }

    /// `room` was claimed at `epoch` and loaded here.
    public mutating func loaded(_ room: String, epoch: UInt64) {
        held[room] = epoch
    }

    /// `room` was unloaded here (idle, handed over, given up).
    public mutating func unloaded(_ room: String) {
        held[room] = nil
    }

    /// This node stops taking rooms.
    public mutating func drain() {
        isDraining = true
    }

    /// Whether a whole lease went by without a renewal at `now`.
    public func isCutOff(now: UInt64) -> Bool {
        lastRenewal.map { now > $0 + configuration.leaseDuration } ?? true
    }

    /// Time passes: a renewal when due, and every room given up once the
    /// node is cut off.
    public mutating func tick(now: UInt64) -> [Effect] {
        var effects: [Effect] = []
        if isCutOff(now: now) {
            effects += held.keys.sorted().map { .giveUp(room: $0, .cutOff) }
            held = [:]
        }
        if !renewing && now >= nextRenewal {
            renewing = true
            effects.append(.renew)
        }
        return effects
    }

    /// A renewal (asked at `asked`) came back with the rooms still held.
    /// Rooms loaded here and missing, or at another epoch, are given up.
    /// The renewal counts from when it was asked: the store extended the
    /// leases no earlier than that.
    public mutating func renewed(_ stillHeld: [String: UInt64], asked: UInt64) -> [Effect] {
        renewing = false
        lastRenewal = max(lastRenewal ?? 0, asked)
        nextRenewal = asked + configuration.renewInterval
        let lost = held.filter { stillHeld[$0.key] != $0.value }.keys.sorted()
        for room in lost { held[room] = nil }
        return lost.map { .giveUp(room: $0, .takenOver) }
    }

    /// A renewal failed at `now`: the next is tried one interval later.
    public mutating func renewalFailed(now: UInt64) {
        renewing = false
        nextRenewal = now + configuration.renewInterval
    }

    /// A write for `room` was refused by its epoch: it is given up.
    public mutating func fenced(_ room: String) -> [Effect] {
        guard held.removeValue(forKey: room) != nil else { return [] }
        return [.giveUp(room: room, .fenced)]
    }
}
