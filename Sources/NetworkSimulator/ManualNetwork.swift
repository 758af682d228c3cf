import Scuttlebutt

/// A hand-driven network of replicas for tests and examples: add peers, link
/// them, record actions, then ``settle(maxSteps:)`` to deliver every message.
///
/// Time is counted in steps; a link's `delay` is how many steps a message
/// takes, and each direction delivers in order, like TCP. Nothing is random.
public final class ManualNetwork<R: Reducer> {
    /// One side's view of a link.
    public struct LinkEnd: Sendable, Hashable {
        /// The peer on this side.
        public let peer: Int
        /// Whether the peer on this side is the room's authority.
        public let isAuthority: Bool
    }

    struct Link {
        /// Peer indices; `rawEnd` on a side driven by the test itself.
        var ends: [Int]
        /// `nil` on a raw side.
        var sessions: [GossipSession<R>?]
        var queues: [[(due: Int, message: GossipMessage<R.Action>)]] = [[], []]
        let delay: Int
        var isUp = true
    }

    /// The wall clock every replica reads.
    public let clock: ManualClock
    private let reducer: R
    private let initialState: R.State
    private var stores: [ReplicatedStore<R>] = []
    private var links: [Link] = []
    private var step = 0
    private static var rawEnd: Int { -1 }
    private var rawInboxes: [Int: [GossipMessage<R.Action>]] = [:]

    /// Why sessions closed, by peer, in order.
    public private(set) var closes: [(peer: Int, reason: CloseReason)] = []
    /// Updates carried in `updates` messages, over all links.
    public private(set) var updatesSent = 0
    /// Every output a session returned that the network does not act on
    /// itself (rejections seen, rebases, presence, …), by peer.
    public private(set) var events: [(peer: Int, output: GossipSession<R>.Output)] = []

    /// An empty network.
    public init(reducer: R, initialState: R.State, clock: ManualClock = ManualClock(milliseconds: 1_764_316_800_000)) {
        self.reducer = reducer
        self.initialState = initialState
        self.clock = clock
    }

    /// Adds a replica and returns its index.
    @discardableResult
    public func addPeer(
        id: PeerID? = nil, configuration: ReplicaConfiguration = ReplicaConfiguration()
    ) -> Int {
        var generator = SeededGenerator(seed: UInt64(stores.count + 1) &* 0x9E37_79B9)
        let peer = id ?? PeerID.random(using: &generator)
        stores.append(
            ReplicatedStore(
                peer: peer, reducer: reducer, initialState: initialState, configuration: configuration,
                wallClock: clock))
        return stores.count - 1
    }

    /// Replaces a peer's replica, e.g. with one restored from a dump.
    public func replaceStore(of peer: Int, with store: ReplicatedStore<R>) {
        stores[peer] = store
    }

    /// The replica of `peer`.
    public func store(_ peer: Int) -> ReplicatedStore<R> { stores[peer] }

    /// Links two peers and sends both hellos.
    /// - Parameters:
    ///   - delay: Steps a message takes in either direction.
    ///   - configure: Adjusts each side's session settings.
    /// - Returns: The link's index.
    @discardableResult
    public func connect(
        _ a: Int, _ b: Int, delay: Int = 1,
        configure: (inout GossipSessionConfiguration, LinkEnd) -> Void = { _, _ in }
    ) -> Int {
        var sessions: [GossipSession<R>] = []
        for (me, other) in [(a, b), (b, a)] {
            let meIsAuthority = stores[me].configuration.isAuthority
            let otherIsAuthority = stores[other].configuration.isAuthority
            var configuration = GossipSessionConfiguration(
                name: "peer\(me)", room: "test", role: meIsAuthority ? .server : .editor)
            configuration.bindsRemoteOrigin = meIsAuthority
            configuration.remoteIsAuthority = otherIsAuthority
            configure(&configuration, LinkEnd(peer: me, isAuthority: meIsAuthority))
            sessions.append(GossipSession(configuration: configuration))
        }
        links.append(Link(ends: [a, b], sessions: sessions, delay: delay))
        let link = links.count - 1
        for side in 0...1 {
            let outputs = links[link].sessions[side]!.start(store: stores[links[link].ends[side]], now: now)
            carryOut(outputs, link: link, side: side)
        }
        return link
    }

    /// Links `peer` to a raw endpoint that the test drives itself: it sends
    /// with ``inject(_:on:)`` whatever it likes (hostile input included) and
    /// reads what it got with ``rawInbox(_:)``.
    /// - Returns: The link's index.
    @discardableResult
    public func connectRaw(
        to peer: Int, delay: Int = 1, configure: (inout GossipSessionConfiguration) -> Void = { _ in }
    ) -> Int {
        let store = stores[peer]
        var configuration = GossipSessionConfiguration(
            name: "peer\(peer)", room: "test", role: store.configuration.isAuthority ? .server : .editor)
        configuration.bindsRemoteOrigin = store.configuration.isAuthority
        configure(&configuration)
        links.append(
            Link(
                ends: [Self.rawEnd, peer], sessions: [nil, GossipSession(configuration: configuration)], delay: delay))
        let link = links.count - 1
        rawInboxes[link] = []
        carryOut(links[link].sessions[1]!.start(store: store, now: now), link: link, side: 1)
        return link
    }

    /// Sends `message` from the raw end of `link`.
    public func inject(_ message: GossipMessage<R.Action>, on link: Int) {
        links[link].queues[1].append((step + links[link].delay, message))
    }

    /// What the raw end of `link` has received so far.
    public func rawInbox(_ link: Int) -> [GossipMessage<R.Action>] {
        rawInboxes[link] ?? []
    }

    /// Drops a link; messages in flight are lost.
    public func disconnect(_ link: Int) {
        links[link].isUp = false
        links[link].queues = [[], []]
        for side in 0...1 { links[link].sessions[side]?.connectionLost() }
    }

    /// The session of `peer` on `link`.
    public func session(_ link: Int, peer: Int) -> GossipSession<R> {
        links[link].sessions[links[link].ends.firstIndex(of: peer)!]!
    }

    /// Records an action at `peer` and lets its links send it.
    @discardableResult
    public func record(_ action: R.Action, at peer: Int) throws -> Update<R.Action> {
        let update = try stores[peer].record(action)
        pump(peer)
        return update
    }

    /// Delivers messages step by step until none are in flight.
    /// - Returns: The number of steps taken.
    @discardableResult
    public func settle(maxSteps: Int = 100_000) -> Int {
        let start = step
        while links.contains(where: { $0.isUp && !($0.queues[0].isEmpty && $0.queues[1].isEmpty) }) {
            precondition(step - start < maxSteps, "network did not settle in \(maxSteps) steps")
            step += 1
            clock.advance(by: 1)
            for link in links.indices {
                for side in 0...1 {
                    while links[link].isUp, let first = links[link].queues[side].first, first.due <= step {
                        links[link].queues[side].removeFirst()
                        guard links[link].sessions[side] != nil else {
                            rawInboxes[link, default: []].append(first.message)
                            continue
                        }
                        let outputs = links[link].sessions[side]!.handle(
                            first.message, store: stores[links[link].ends[side]], now: now)
                        carryOut(outputs, link: link, side: side)
                    }
                }
            }
        }
        return step - start
    }

    private var now: UInt64 { clock.milliseconds() }

    private func pump(_ peer: Int, except skipped: Int? = nil) {
        for link in links.indices where link != skipped && links[link].isUp {
            guard let side = links[link].ends.firstIndex(of: peer) else { continue }
            let outputs = links[link].sessions[side]!.pump(from: stores[peer], store: stores[peer])
            carryOut(outputs, link: link, side: side)
        }
    }

    private func carryOut(_ outputs: [GossipSession<R>.Output], link: Int, side: Int) {
        let peer = links[link].ends[side]
        for output in outputs {
            switch output {
            case .send(let message):
                if case .updates(let batch) = message { updatesSent += batch.count }
                links[link].queues[1 - side].append((step + links[link].delay, message))
            case .applied:
                pump(peer, except: link)
            case .close(let reason):
                // The goodbye already queued still reaches the other side.
                closes.append((peer, reason))
            default:
                events.append((peer, output))
            }
        }
    }
}
