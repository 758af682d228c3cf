import HeapModule
import Scuttlebutt

/// What a simulation run found.
public struct SimulationReport: Sendable, CustomStringConvertible {
    /// The scenario that ran; its seed replays the run exactly.
    public let scenario: SimulationScenario
    /// Every broken guarantee, in words; empty when the run passed.
    public var failures: [String] = []
    /// Updates recorded over the run, all peers together.
    public var recorded = 0
    /// Messages delivered over all links.
    public var messagesDelivered = 0
    /// Late updates that rewound and replayed, all replicas together.
    public var rewinds = 0
    /// Late updates applied without replay, all replicas together.
    public var commutes = 0
    /// Own updates re-stamped after a stale refusal.
    public var rebased = 0
    /// Connection resets, crashes and partitions injected.
    public var faultsInjected = 0
    /// Simulated milliseconds until quiescence.
    public var simulatedMilliseconds: UInt64 = 0

    /// Whether every guarantee held.
    public var passed: Bool { failures.isEmpty }

    /// The scenario, the counters and any failures.
    public var description: String {
        var text =
            "\(scenario)\n  recorded=\(recorded) messages=\(messagesDelivered) rewinds=\(rewinds) "
            + "commutes=\(commutes) rebased=\(rebased) faults=\(faultsInjected) time=\(simulatedMilliseconds)ms"
        for failure in failures { text += "\n  FAIL: \(failure)" }
        return text
    }
}

/// A deterministic network of replicas: seeded peers and links with latency,
/// jitter and cross-link reordering, resets mid-batch, partitions that heal,
/// crash and restart from a persisted log, late joiners, and peers that
/// record offline for a long time and rejoin through the rebase path.
///
/// Everything runs on one thread in simulated time, driven by a priority queue
/// of events; the same seed gives the same run, event for event. The peers
/// run the real ``GossipSession`` and ``ReplicatedStore``.
public final class Simulation {
    typealias Store = ReplicatedStore<RegisterReducer>
    typealias Session = GossipSession<RegisterReducer>

    /// Milliseconds since the epoch at simulated time zero.
    static let epoch: UInt64 = 1_764_316_800_000
    static let tickInterval: UInt64 = 50
    static let frontierGrace: UInt64 = 1_000
    static let settleMilliseconds: UInt64 = 8_000

    final class Node {
        let index: Int
        let peer: PeerID
        let isServer: Bool
        let skew: UInt64
        let wallClock: ManualClock
        var store: Store
        var persisted: [UpdateID: Update<RegisterReducer.Action>] = [:]
        var persistedFrontier = Timestamp.zero
        var joined = true
        var crashed = false
        var offline = false
        var links: [Int] = []

        init(index: Int, peer: PeerID, isServer: Bool, skew: UInt64, wallClock: ManualClock, store: Store) {
            self.index = index
            self.wallClock = wallClock
            self.peer = peer
            self.isServer = isServer
            self.skew = skew
            self.store = store
        }

        var isUp: Bool { joined && !crashed && !offline }
    }

    struct Link {
        let ends: (Int, Int)
        var generation = 0
        var isUp = false
        var partitioned = false
        var sessions: [Session?] = [nil, nil]
        var lastDelivery: [UInt64] = [0, 0]
    }

    enum EventKind {
        case deliver(link: Int, generation: Int, side: Int, message: GossipMessage<RegisterReducer.Action>)
        case record(Int)
        case tick(Int)
        case reset(Int)
        case reconnect(Int)
        case crash(Int)
        case restart(Int)
        case join(Int)
        case goOffline(Int)
        case goOnline(Int)
        case partition(Set<Int>)
        case heal
    }

    struct Event: Comparable {
        let time: UInt64
        let order: Int
        let kind: EventKind

        static func < (lhs: Event, rhs: Event) -> Bool {
            (lhs.time, lhs.order) < (rhs.time, rhs.order)
        }

        static func == (lhs: Event, rhs: Event) -> Bool {
            (lhs.time, lhs.order) == (rhs.time, rhs.order)
        }
    }

    /// The scenario being run.
    public let scenario: SimulationScenario
    private var random: SeededGenerator
    private var nodes: [Node] = []
    private var links: [Link] = []
    private var queue = Heap<Event>()
    private var order = 0
    private var now: UInt64 = 0
    private var pendingDeliveries = 0
    private var report: SimulationReport
    private var maxSeq: [PeerID: UInt64] = [:]
    private let reducer = RegisterReducer()

    /// Prepares a run of `scenario`.
    public init(scenario: SimulationScenario) {
        self.scenario = scenario
        self.random = SeededGenerator(seed: scenario.seed ^ 0x5C07_7DE8_0A4D)
        self.report = SimulationReport(scenario: scenario)
        build()
    }

    /// Runs a scenario drawn from `seed`.
    public static func run(seed: UInt64) -> SimulationReport {
        Simulation(scenario: .random(seed: seed)).run()
    }

    private var hasServer: Bool { scenario.topology == .star }
    private var server: Node? { hasServer ? nodes[0] : nil }

    private func makeStore(peer: PeerID, isServer: Bool, clock: ManualClock) -> Store {
        var configuration = ReplicaConfiguration()
        configuration.timestampStrategy = scenario.timestampStrategy
        configuration.snapshotPolicy = scenario.snapshotPolicy
        configuration.maxClockSkew = scenario.timestampStrategy == .hybridLogical ? 5_000 : 1 << 40
        configuration.isAuthority = isServer
        configuration.historyLimit = hasServer ? .frontier : .unbounded
        return Store(
            peer: peer, reducer: reducer, initialState: RegisterReducer.State(), configuration: configuration,
            wallClock: clock)
    }

    private func build() {
        let count = scenario.peerCount + (hasServer ? 1 : 0)
        for index in 0..<count {
            let isServer = hasServer && index == 0
            let peer = PeerID.random(using: &random)
            let skew = isServer ? 0 : UInt64.random(in: 0...scenario.clockSkew, using: &random)
            let clock = ManualClock()
            let node = Node(
                index: index, peer: peer, isServer: isServer, skew: skew, wallClock: clock,
                store: makeStore(peer: peer, isServer: isServer, clock: clock))
            nodes.append(node)
        }
        switch scenario.topology {
        case .star:
            for client in 1..<count { addLink(client, 0) }
        case .mesh:
            for a in 0..<count { for b in (a + 1)..<count { addLink(a, b) } }
        case .chain:
            for a in 0..<(count - 1) { addLink(a, a + 1) }
        }
        scheduleScenario()
    }

    private func addLink(_ a: Int, _ b: Int) {
        links.append(Link(ends: (a, b)))
        nodes[a].links.append(links.count - 1)
        nodes[b].links.append(links.count - 1)
    }

    private func schedule(_ kind: EventKind, at time: UInt64) {
        order += 1
        if case .deliver = kind { pendingDeliveries += 1 }
        queue.insert(Event(time: time, order: order, kind: kind))
    }

    private func randomTime(in range: ClosedRange<UInt64>) -> UInt64 {
        UInt64.random(in: range, using: &random)
    }

    private func scheduleScenario() {
        let active = scenario.activeMilliseconds
        let clients = nodes.filter { !$0.isServer }.map(\.index)
        var lateJoiners = Set(clients.shuffled(using: &random).prefix(scenario.lateJoiners))
        if scenario.topology != .star && lateJoiners.count == clients.count { lateJoiners.removeFirst() }
        let offline = Set(
            clients.filter { !lateJoiners.contains($0) }.shuffled(using: &random)
                .prefix(scenario.offlinePeers))
        for node in nodes {
            var start: UInt64 = 0
            if lateJoiners.contains(node.index) {
                node.joined = false
                start = randomTime(in: active / 3...active)
                schedule(.join(node.index), at: start)
            }
            schedule(.tick(node.index), at: UInt64(node.index))
            guard !node.isServer else { continue }
            for _ in 0..<scenario.actionsPerPeer {
                schedule(.record(node.index), at: randomTime(in: start...max(start, active)))
            }
            if offline.contains(node.index) {
                let leave = randomTime(in: active / 10...active / 2)
                schedule(.goOffline(node.index), at: leave)
                // Long enough for the frontier to pass what it records offline.
                schedule(.goOnline(node.index), at: active + Self.frontierGrace * 3)
            }
        }
        for link in links.indices {
            for _ in 0..<scenario.resetsPerLink { schedule(.reset(link), at: randomTime(in: 1...active)) }
        }
        for _ in 0..<scenario.crashes {
            let victim = Int.random(in: 0..<nodes.count, using: &random)
            let time = randomTime(in: 1...active)
            schedule(.crash(victim), at: time)
            schedule(.restart(victim), at: time + randomTime(in: 100...3_000))
        }
        if scenario.partitions && nodes.count > 2 {
            let side = Set(nodes.indices.shuffled(using: &random).prefix(nodes.count / 2))
            let start = randomTime(in: 1...active)
            schedule(.partition(side), at: start)
            schedule(.heal, at: start + randomTime(in: 500...5_000))
        }
        for link in links.indices { schedule(.reconnect(link), at: 0) }
    }

    /// Runs to quiescence and checks every guarantee.
    public func run() -> SimulationReport {
        let quietAfter = scenario.activeMilliseconds + Self.frontierGrace * 4 + Self.settleMilliseconds
        var steps = 0
        while let event = queue.popMin() {
            steps += 1
            if steps > 2_000_000 {
                report.failures.append("no quiescence after \(steps) events")
                break
            }
            now = event.time
            handle(event.kind)
            if now >= quietAfter && pendingDeliveries == 0 { break }
        }
        report.simulatedMilliseconds = now
        verify()
        return report
    }

    private func setClock(_ node: Node) {
        node.wallClock.set(milliseconds: Self.epoch + now + node.skew)
    }

    private func nodeNow(_ node: Node) -> UInt64 {
        Self.epoch + now + node.skew
    }

    private func handle(_ kind: EventKind) {
        switch kind {
        case .deliver(let link, let generation, let side, let message):
            pendingDeliveries -= 1
            deliver(message, link: link, generation: generation, side: side)
        case .record(let index):
            record(at: nodes[index])
        case .tick(let index):
            tick(nodes[index])
            if now < scenario.activeMilliseconds + Self.frontierGrace * 4 + Self.settleMilliseconds * 2 {
                schedule(.tick(index), at: now + Self.tickInterval)
            }
        case .reset(let link):
            report.faultsInjected += 1
            disconnect(link)
            schedule(.reconnect(link), at: now + randomTime(in: 20...500))
        case .reconnect(let link):
            connect(link)
        case .crash(let index):
            let node = nodes[index]
            guard node.joined, !node.crashed else { return }
            report.faultsInjected += 1
            node.crashed = true
            for link in node.links { disconnect(link) }
        case .restart(let index):
            restart(nodes[index])
        case .join(let index):
            nodes[index].joined = true
            for link in nodes[index].links { connect(link) }
        case .goOffline(let index):
            nodes[index].offline = true
            for link in nodes[index].links { disconnect(link) }
        case .goOnline(let index):
            nodes[index].offline = false
            for link in nodes[index].links { connect(link) }
        case .partition(let side):
            report.faultsInjected += 1
            for index in links.indices where side.contains(links[index].ends.0) != side.contains(links[index].ends.1) {
                links[index].partitioned = true
                disconnect(index)
            }
        case .heal:
            for index in links.indices where links[index].partitioned {
                links[index].partitioned = false
                connect(index)
            }
        }
    }

    private func node(of link: Int, side: Int) -> Node {
        nodes[side == 0 ? links[link].ends.0 : links[link].ends.1]
    }

    private func sessionConfiguration(for node: Node, peerIsServer: Bool) -> GossipSessionConfiguration {
        var configuration = GossipSessionConfiguration(
            name: "node\(node.index)", room: "sim", role: node.isServer ? .server : .editor)
        configuration.maxBatchUpdates = scenario.maxBatchUpdates
        configuration.window = scenario.window
        configuration.bindsRemoteOrigin = node.isServer
        // As the real server does: a batch is made durable, then applied.
        configuration.persistsBeforeApplying = node.isServer
        configuration.remoteIsAuthority = peerIsServer
        configuration.livenessTimeout = 3_600_000
        configuration.pingInterval = 1_000
        return configuration
    }

    private func connect(_ link: Int) {
        let a = node(of: link, side: 0)
        let b = node(of: link, side: 1)
        guard !links[link].isUp, !links[link].partitioned, a.isUp, b.isUp else { return }
        links[link].isUp = true
        links[link].generation += 1
        links[link].sessions = [
            Session(configuration: sessionConfiguration(for: a, peerIsServer: b.isServer)),
            Session(configuration: sessionConfiguration(for: b, peerIsServer: a.isServer)),
        ]
        for side in 0...1 {
            let end = node(of: link, side: side)
            setClock(end)
            let outputs = links[link].sessions[side]!.start(store: end.store, now: nodeNow(end))
            carryOut(outputs, link: link, side: side)
        }
    }

    private func disconnect(_ link: Int) {
        guard links[link].isUp else { return }
        links[link].isUp = false
        links[link].generation += 1
        for side in 0...1 {
            links[link].sessions[side]?.connectionLost()
            links[link].sessions[side] = nil
        }
        // The server tells everyone else that the peer left (no ghosts).
        for side in 0...1 where node(of: link, side: side).isServer {
            let gone = node(of: link, side: 1 - side).peer
            relay(from: link) { $0.send(presenceGone: gone) }
        }
    }

    private func deliver(
        _ message: GossipMessage<RegisterReducer.Action>, link: Int, generation: Int, side: Int
    ) {
        guard links[link].isUp, links[link].generation == generation, links[link].sessions[side] != nil else {
            return
        }
        report.messagesDelivered += 1
        let end = node(of: link, side: side)
        setClock(end)
        let outputs = links[link].sessions[side]!.handle(message, store: end.store, now: nodeNow(end))
        carryOut(outputs, link: link, side: side)
        // Acknowledged means durable: the server's log holds what a client takes as confirmed.
        let confirmed = end.store.confirmedOwnSeq
        if let server, !end.isServer, confirmed > 0, server.persisted[UpdateID(origin: end.peer, seq: confirmed)] == nil
        {
            report.failures.append(
                "node\(end.index) took \(end.peer)#\(confirmed) as confirmed; the server's log lacks it")
        }
    }

    private func send(_ message: GossipMessage<RegisterReducer.Action>, link: Int, from side: Int) {
        let to = 1 - side
        let latency = randomTime(in: scenario.latency)
        // TCP: a direction delivers in order, so never before the previous one.
        let time = max(now + latency, links[link].lastDelivery[to])
        links[link].lastDelivery[to] = time
        schedule(.deliver(link: link, generation: links[link].generation, side: to, message: message), at: time)
    }

    private func carryOut(_ outputs: [Session.Output], link: Int, side: Int) {
        let end = node(of: link, side: side)
        for output in outputs {
            switch output {
            case .send(let message):
                send(message, link: link, from: side)
            case .applied(let updates):
                for update in updates { end.persisted[update.id] = update }
                pumpAll(end, except: link)
            case .persist(let updates):
                guard links[link].sessions[side] != nil else { return }
                if scenario.storageFailureRate > 0
                    && Double.random(in: 0..<1, using: &random) < scenario.storageFailureRate
                {
                    // The log refuses the batch: nothing of it may show anywhere.
                    report.faultsInjected += 1
                    let refused = links[link].sessions[side]!.persistenceFailed("simulated full disk")
                    for update in updates where end.store.digest[update.origin] >= update.seq {
                        report.failures.append("node\(end.index) applied \(update.id), which its log refused")
                    }
                    carryOut(refused, link: link, side: side)
                    return
                }
                // Durable, then applied.
                for update in updates { end.persisted[update.id] = update }
                let applied = links[link].sessions[side]!.persisted(store: end.store, source: end.store)
                carryOut(applied, link: link, side: side)
            case .rebased(let updates):
                report.rebased += updates.count
                for update in updates { end.persisted[update.id] = update }
            case .presence(let presence):
                if end.isServer { relay(from: link) { $0.send(presence: presence, now: self.nodeNow(end)) } }
            case .presenceGone, .caughtUp, .roundTrip:
                break
            case .rejectedByRemote(let rejection):
                report.failures.append("node\(end.index) had an update refused: \(rejection)")
            case .belowHorizon(let update):
                report.failures.append("node\(end.index) got \(update.id) below its horizon")
            case .remoteNeedsSnapshot(let origin):
                report.failures.append("node\(end.index) no longer holds updates of \(origin)")
            case .snapshotReceived:
                report.failures.append("node\(end.index) was sent a snapshot, which no simulated peer sends")
            case .close(.storageUnavailable):
                // An injected storage fault: the peer comes back, as a client would.
                disconnect(link)
                schedule(.reconnect(link), at: now + randomTime(in: 20...500))
                return
            case .close(let reason):
                report.failures.append("node\(end.index) closed a link: \(reason)")
                disconnect(link)
                return
            }
        }
    }

    /// Calls `body` on every open session of the server except the one on `link`.
    private func relay(from link: Int, _ body: (inout Session) -> [Session.Output]) {
        guard let server else { return }
        for other in server.links where other != link && links[other].isUp {
            let side = links[other].ends.0 == server.index ? 0 : 1
            guard links[other].sessions[side] != nil else { continue }
            let outputs = body(&links[other].sessions[side]!)
            carryOut(outputs, link: other, side: side)
        }
    }

    private func pumpAll(_ node: Node, except skipped: Int? = nil) {
        for link in node.links where link != skipped && links[link].isUp {
            let side = links[link].ends.0 == node.index ? 0 : 1
            guard links[link].sessions[side] != nil else { continue }
            let outputs = links[link].sessions[side]!.pump(from: node.store, store: node.store)
            carryOut(outputs, link: link, side: side)
        }
    }

    private func record(at node: Node) {
        guard node.joined, !node.crashed else { return }
        setClock(node)
        let action = RegisterReducer.Action.random(using: &random)
        do {
            let update = try node.store.record(action)
            node.persisted[update.id] = update
            maxSeq[node.peer] = update.seq
            report.recorded += 1
        } catch {
            report.failures.append("node\(node.index) could not record \(action): \(error)")
        }
        pumpAll(node)
        if node.isUp, !node.isServer {
            let presence = Presence(origin: node.peer, payload: [UInt8(truncatingIfNeeded: report.recorded)])
            for link in node.links where links[link].isUp {
                let side = links[link].ends.0 == node.index ? 0 : 1
                guard links[link].sessions[side] != nil else { continue }
                let outputs = links[link].sessions[side]!.send(presence: presence, now: nodeNow(node))
                carryOut(outputs, link: link, side: side)
            }
        }
    }

    private func tick(_ node: Node) {
        guard node.isUp else { return }
        setClock(node)
        for link in node.links where links[link].isUp {
            let side = links[link].ends.0 == node.index ? 0 : 1
            guard links[link].sessions[side] != nil else { continue }
            let outputs = links[link].sessions[side]!.tick(store: node.store, now: nodeNow(node))
            carryOut(outputs, link: link, side: side)
        }
        guard node.isServer else { return }
        let acknowledged = node.links.compactMap { link -> Timestamp? in
            guard links[link].isUp, let session = links[link].sessions[1], session.isOpen else { return nil }
            return session.remoteClock
        }
        let frontier = StableFrontier.compute(
            acknowledged: acknowledged, authorityClock: node.store.clock.latest, now: nodeNow(node),
            graceMilliseconds: Self.frontierGrace)
        node.store.advanceFrontier(to: frontier)
        node.persistedFrontier = node.store.frontier
        for link in node.links where links[link].isUp && links[link].sessions[1]?.isOpen == true {
            let outputs = links[link].sessions[1]!.announce(
                frontier: node.store.frontier, from: node.store, store: node.store)
            carryOut(outputs, link: link, side: 1)
        }
    }

    private func restart(_ node: Node) {
        guard node.crashed else { return }
        setClock(node)
        let store = makeStore(peer: node.peer, isServer: node.isServer, clock: node.wallClock)
        for update in node.persisted.values.sorted(by: { $0.orderKey < $1.orderKey }) {
            let outcome = store.receive(update)
            guard case .applied = outcome else {
                report.failures.append("node\(node.index) could not restore \(update.id): \(outcome)")
                continue
            }
        }
        store.advanceFrontier(to: node.persistedFrontier)
        node.store = store
        node.crashed = false
        for link in node.links { connect(link) }
    }

    private func verify() {
        for index in links.indices where !links[index].isUp {
            report.failures.append("link \(links[index].ends) still down at the end")
        }
        if let server, let unstored = server.store.dump().first(where: { server.persisted[$0.id] == nil }) {
            report.failures.append("the server holds \(unstored.id), which its log does not")
        }
        let reference = server ?? nodes[0]
        let referenceDump = reference.store.dump()
        let referenceState = reducer.referenceState(of: referenceDump)
        let referenceKeys = referenceDump.map(\.orderKey)
        for (origin, seq) in maxSeq where reference.store.digest[origin] < seq {
            report.failures.append(
                "lost updates: \(origin) recorded through seq \(seq), reference holds \(reference.store.digest[origin])"
            )
        }
        for node in nodes {
            report.rewinds += node.store.timeline.statistics.rewinds
            report.commutes += node.store.timeline.statistics.commutes
            if node.store.digest != reference.store.digest {
                report.failures.append(
                    "node\(node.index) digest \(node.store.digest) != reference \(reference.store.digest)")
                continue
            }
            if node.store.dump().map(\.orderKey) != referenceKeys {
                report.failures.append("node\(node.index) holds differently stamped updates than the reference")
            }
            if node.store.state != referenceState {
                report.failures.append("node\(node.index) state differs from the sorted reduce of all updates")
            }
            if hasServer {
                let frontier = node.store.frontier
                let lingering = node.store.timeline.updates.filter { $0.timestamp < frontier }.count
                if lingering > node.store.configuration.snapshotPolicy.interval {
                    report.failures.append(
                        "node\(node.index) keeps \(lingering) entries below the frontier \(frontier)")
                }
            }
        }
    }
}
