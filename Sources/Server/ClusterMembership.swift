import Foundation
import Logging
import NIOConcurrencyHelpers
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

/// This node's membership of a cluster: its announcement, what it knows of
/// the other nodes, and the placement of rooms — rendezvous hashing over
/// the live nodes that are not draining, and the lease in the store as the
/// final word (a room stays with its holder while the holder renews).
final class ClusterMembership: Sendable {
    let store: any LeaseStore
    let settings: ClusterSettings
    /// This process: a restarted node is a new holder.
    let incarnation = UUID().uuidString
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var nodes: [String: ClusterNode] = [:]
        var nodesRead: ContinuousClock.Instant?
        var lastRenewal: ContinuousClock.Instant?
        var draining = false
    }

    init(store: any LeaseStore, settings: ClusterSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    /// This node as the store knows it.
    var me: ClusterNode {
        ClusterNode(
            name: settings.node, address: settings.address, webAddress: settings.webAddress,
            isDraining: state.withLockedValue { $0.draining })
    }

    /// Whether this node stopped taking rooms (it is stopping).
    var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// Announces this node; call before serving.
    func announce() async throws(StorageError) {
        try await store.announce(me, incarnation: incarnation, ttl: settings.leaseDuration)
        state.withLockedValue { $0.lastRenewal = .now }
        _ = try await nodes(refresh: true)
    }

    /// Marks this node draining: no room is placed on it any more.
    func drain() async {
        state.withLockedValue { $0.draining = true }
        do {
            try await store.announce(me, incarnation: incarnation, ttl: settings.leaseDuration)
        } catch {
            logger.warning("could not announce the drain", metadata: ["error": "\(error)"])
        }
    }

    /// Renews every lease this node holds and its heartbeat.
    /// - Returns: The rooms still held, with their epochs.
    func renew() async throws(StorageError) -> [String: UInt64] {
        let held = try await store.renew(node: settings.node, incarnation: incarnation, ttl: settings.leaseDuration)
        state.withLockedValue { $0.lastRenewal = .now }
        return held
    }

    /// Whether this node has gone a whole lease without a renewal: every
    /// lease it held may have been taken over, so it must serve none.
    var isCutOff: Bool {
        state.withLockedValue { state in
            state.lastRenewal.map { ContinuousClock.now - $0 > settings.leaseDuration } ?? true
        }
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

    /// The node `room` prefers among the live ones that are not draining
    /// (this one included unless it drains).
    func preferred(for room: String, among nodes: [String: ClusterNode]) -> String? {
        var candidates = nodes.values.filter { $0.isAlive && !$0.isDraining && $0.name != settings.node }.map(\.name)
        if !isDraining { candidates.append(settings.node) }
        return RendezvousPlacement.preferred(for: room, among: candidates)
    }

    /// Where `room` is to be served, claiming it when it is this node's to
    /// serve: it prefers this node and nobody else holds it.
    func place(_ room: String) async throws(StorageError) -> RoomPlacement {
        let nodes = try await nodes()
        let lease = try await store.lease(of: room)
        let held = lease.flatMap { $0.remainingMilliseconds > 0 && $0.node != settings.node ? $0.node : nil }
        if let held {
            // Its holder keeps it while it renews: rooms never move back
            // and forth as nodes come and go.
            if let node = nodes[held], node.isAlive { return .elsewhere(node) }
            return .unavailable("node \(held) holds room \"\(room)\" and stopped answering; its lease lapses soon")
        }
        guard let preferred = preferred(for: room, among: nodes) else {
            return .unavailable("no node can take room \"\(room)\" now")
        }
        if preferred != settings.node {
            guard let node = nodes[preferred] else { return .unavailable("node \(preferred) is not known") }
            return .elsewhere(node)
        }
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

    /// Where `room` lives now, without claiming it: its holder, or else the
    /// node it prefers other than this one; nil when that is this node.
    func locate(_ room: String) async -> ClusterNode? {
        guard let nodes = try? await nodes(refresh: true) else { return nil }
        if let lease = try? await store.lease(of: room), lease.remainingMilliseconds > 0,
            lease.node != settings.node, let holder = nodes[lease.node], holder.isAlive
        {
            return holder
        }
        var others = nodes
        others[settings.node] = nil
        return preferred(for: room, among: others).flatMap { nodes[$0] }
    }

    /// Rooms another node held whose leases lapsed and that prefer this
    /// node now: taken over before anyone asks for them.
    func roomsToTakeOver(limit: Int = 64) async -> [String] {
        guard !isDraining, let lapsed = try? await store.lapsedRooms(apartFrom: settings.node, limit: limit),
            !lapsed.isEmpty, let nodes = try? await nodes()
        else { return [] }
        return lapsed.filter { preferred(for: $0, among: nodes) == settings.node }
    }

    /// Gives `room` up at once (after its last checkpoint, on a drain).
    func release(_ room: String) async {
        do {
            try await store.release(room: room, incarnation: incarnation)
        } catch {
            logger.warning("could not release a room's lease", metadata: ["room": "\(room)", "error": "\(error)"])
        }
    }
}
