import Foundation
import Logging
import NIOConcurrencyHelpers
import Rooms
import Storage

/// A node of a cluster that shares one store: how it is known to the others.
public struct ClusterSettings: Sendable, Hashable {
    /// The node's name, unique in the cluster (`serve --node`).
    public var node: String
    /// Where clients reach this node's protocol port, `HOST:PORT` (`--advertise`).
    public var address: String
    /// Where browsers reach this node's HTTP port, `HOST:PORT`, if it serves one.
    public var webAddress: String?
    /// How long a lease lasts unless renewed: a room whose node died is
    /// taken over this long after its last renewal, at the latest.
    public var leaseDuration: Duration = .seconds(3)
    /// How often leases and the heartbeat are renewed.
    public var renewInterval: Duration = .seconds(1)

    /// A node called `node`, reached at `address` (and `webAddress`).
    public init(node: String, address: String, webAddress: String? = nil) {
        self.node = node
        self.address = address
        self.webAddress = webAddress
    }
}

/// Where a room is to be served, as this node sees it.
enum RoomPlacement: Sendable, Hashable {
    /// Here, under a lease at `epoch`; `tookOver` when another node held it before.
    case here(epoch: UInt64, tookOver: Bool)
    /// On another node: the client is redirected there.
    case elsewhere(ClusterNode)
    /// Nowhere yet (its holder stopped answering and its lease has not lapsed).
    case unavailable(String)
}

/// This node's membership of a cluster: the I/O around ``NodeLeases``, the
/// sans-IO keeper the cluster simulator drives too. It announces the node,
/// reads the other nodes and the leases from the store, claims, renews and
/// releases, and hands the store's answers and the time to the keeper,
/// which decides.
final class ClusterMembership: Sendable {
    let store: any LeaseStore
    let settings: ClusterSettings
    /// This process: a restarted node is a new holder.
    let incarnation = UUID().uuidString
    private let logger: Logger
    private let started = ContinuousClock.now
    private let state: NIOLockedValueBox<State>

    private struct State {
        var keeper: NodeLeases
        var nodes: [String: ClusterNode] = [:]
        var nodesRead: ContinuousClock.Instant?
    }

    init(store: any LeaseStore, settings: ClusterSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
        var configuration = NodeLeases.Configuration(node: settings.node)
        configuration.leaseDuration = Self.milliseconds(settings.leaseDuration)
        configuration.renewInterval = Self.milliseconds(settings.renewInterval)
        state = NIOLockedValueBox(State(keeper: NodeLeases(configuration: configuration)))
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.components.seconds) * 1_000 + UInt64(duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Milliseconds since this membership began: the keeper's clock.
    private var now: UInt64 { Self.milliseconds(ContinuousClock.now - started) }

    /// This node as the store knows it.
    var me: ClusterNode {
        ClusterNode(
            name: settings.node, address: settings.address, webAddress: settings.webAddress, isDraining: isDraining)
    }

    /// Whether this node stopped taking rooms (it is stopping).
    var isDraining: Bool { state.withLockedValue { $0.keeper.isDraining } }

    /// Whether this node has gone a whole lease without a renewal: it serves no room.
    var isCutOff: Bool {
        let now = now
        return state.withLockedValue { $0.keeper.isCutOff(now: now) }
    }

    /// Announces this node; call before serving.
    func announce() async throws(StorageError) {
        let asked = now
        try await store.announce(me, incarnation: incarnation, ttl: settings.leaseDuration)
        state.withLockedValue { $0.keeper.announced(now: asked) }
        _ = try await nodes(refresh: true)
    }

    /// Marks this node draining: no room is placed on it any more.
    func drain() async {
        state.withLockedValue { $0.keeper.drain() }
        do {
            try await store.announce(me, incarnation: incarnation, ttl: settings.leaseDuration)
        } catch {
            logger.warning("could not announce the drain", metadata: ["error": "\(error)"])
        }
    }

    /// What is due now: a renewal, or giving every room up once cut off.
    func tick() -> [NodeLeases.Effect] {
        let now = now
        return state.withLockedValue { $0.keeper.tick(now: now) }
    }

    /// Renews every lease this node holds and its heartbeat.
    /// - Returns: The rooms to give up (another node holds them now).
    func renew() async throws(StorageError) -> [NodeLeases.Effect] {
        let asked = now
        do {
            let held = try await store.renew(
                node: settings.node, incarnation: incarnation, ttl: settings.leaseDuration)
            return state.withLockedValue { $0.keeper.renewed(held, asked: asked) }
        } catch {
            let failed = now
            state.withLockedValue { $0.keeper.renewalFailed(now: failed) }
            throw error
        }
    }

    /// A write for `room` was refused by its epoch.
    func fenced(_ room: String) -> [NodeLeases.Effect] {
        state.withLockedValue { $0.keeper.fenced(room) }
    }

    /// `room` was loaded here at `epoch`.
    func loaded(_ room: String, epoch: UInt64) {
        state.withLockedValue { $0.keeper.loaded(room, epoch: epoch) }
    }

    /// `room` was unloaded here.
    func unloaded(_ room: String) {
        state.withLockedValue { $0.keeper.unloaded(room) }
    }

    /// The nodes, read from the store at most once per renewal interval.
    func nodes(refresh: Bool = false) async throws(StorageError) -> [String: ClusterNode] {
        let cached = state.withLockedValue { state -> [String: ClusterNode]? in
            guard !refresh, let read = state.nodesRead, ContinuousClock.now - read < settings.renewInterval else {
                return nil
            }
            return state.nodes
        }
        if let cached { return cached }
        let nodes = Dictionary(try await store.nodes().map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        state.withLockedValue { state in
            state.nodes = nodes
            state.nodesRead = .now
        }
        return nodes
    }

    private static func statuses(_ nodes: [String: ClusterNode]) -> [NodeStatus] {
        nodes.values.map { NodeStatus(name: $0.name, isAlive: $0.isAlive, isDraining: $0.isDraining) }
    }

    private static func status(_ lease: RoomLease?) -> LeaseStatus? {
        lease.map { LeaseStatus(node: $0.node, epoch: $0.epoch, isLive: $0.remainingMilliseconds > 0) }
    }

    /// Where `room` is to be served, claiming it when it is this node's.
    func place(_ room: String) async throws(StorageError) -> RoomPlacement {
        let nodes = try await nodes()
        let lease = try await store.lease(of: room)
        let placement = state.withLockedValue {
            $0.keeper.placement(of: room, lease: Self.status(lease), nodes: Self.statuses(nodes))
        }
        switch placement {
        case .unavailable(let reason):
            return .unavailable(reason)
        case .redirect(let name):
            return nodes[name].map { .elsewhere($0) } ?? .unavailable("node \(name) is not known")
        case .claim:
            switch try await store.claim(
                room: room, node: settings.node, incarnation: incarnation, ttl: settings.leaseDuration)
            {
            case .granted(let epoch):
                return .here(epoch: epoch, tookOver: lease.map { $0.node != settings.node } ?? false)
            case .heldElsewhere(let holder):
                // Claimed by another node since the lease was read.
                let node = try await self.nodes(refresh: true)[holder]
                return node.map { .elsewhere($0) } ?? .unavailable("node \(holder) holds room \"\(room)\"")
            }
        }
    }

    /// Where `room` lives now, without claiming it: its holder, or else the
    /// node it prefers other than this one; nil when none is known.
    func locate(_ room: String) async -> ClusterNode? {
        guard let nodes = try? await nodes(refresh: true) else { return nil }
        let lease = try? await store.lease(of: room)
        let name = state.withLockedValue {
            $0.keeper.whereabouts(of: room, lease: Self.status(lease), nodes: Self.statuses(nodes))
        }
        return name.flatMap { nodes[$0] }
    }

    /// Rooms another node held whose leases lapsed and that prefer this
    /// node now: taken over before anyone asks for them.
    func roomsToTakeOver(limit: Int = 64) async -> [String] {
        guard !isDraining, let lapsed = try? await store.lapsedRooms(apartFrom: settings.node, limit: limit),
            !lapsed.isEmpty, let nodes = try? await nodes()
        else { return [] }
        return state.withLockedValue { $0.keeper.roomsToTakeOver(lapsed, nodes: Self.statuses(nodes)) }
    }

    /// Gives `room` up at once (after its last checkpoint, on a drain or an unload).
    func release(_ room: String) async {
        unloaded(room)
        do {
            try await store.release(room: room, incarnation: incarnation)
        } catch {
            logger.warning("could not release a room's lease", metadata: ["room": "\(room)", "error": "\(error)"])
        }
    }
}
