import HeapModule
import Rooms
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
    /// Snapshots clients installed from the server (late joiners, peers
    /// that fell behind its horizon).
    public var snapshotsInstalled = 0
    /// Checkpoints the server saved.
    public var checkpointsSaved = 0
    /// Server restarts that loaded a checkpoint.
    public var restartsFromCheckpoint = 0
    /// Appends a server crash lost on their way to disk.
    public var appendsLostInCrash = 0
    /// Sessions the server cut off for reading too slowly.
    public var slowConsumersCut = 0
    /// Connections the server's lobby timed out for never saying hello.
    public var silentPeersTimedOut = 0

    /// An empty report of `scenario`: nothing ran yet.
    public init(scenario: SimulationScenario) {
        self.scenario = scenario
    }

    /// Whether every guarantee held.
    public var passed: Bool { failures.isEmpty }

    /// The scenario, the counters and any failures.
    public var description: String {
        var text =
            "\(scenario)\n  recorded=\(recorded) messages=\(messagesDelivered) rewinds=\(rewinds) "
            + "commutes=\(commutes) rebased=\(rebased) faults=\(faultsInjected) time=\(simulatedMilliseconds)ms "
            + "snapshots=\(snapshotsInstalled) checkpoints=\(checkpointsSaved) "
            + "restartsFromCheckpoint=\(restartsFromCheckpoint) appendsLost=\(appendsLostInCrash) "
            + "slowCut=\(slowConsumersCut) silentTimedOut=\(silentPeersTimedOut)"
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
/// run the real ``GossipSession`` and ``ReplicatedStore``; the server of a
/// star is the product's ``RoomStateMachine``, configured as the server
/// configures it, over a simulated durable log (appends with latency that
/// may fail, a crash that loses the appends still on their way, a restart
/// from the latest checkpoint and the suffix stored after it); its front
/// door is the product's ``Lobby``, which times out connections that never
/// say hello.
public final class Simulation {
    typealias Store = ReplicatedStore<RegisterReducer>
    typealias Session = GossipSession<RegisterReducer>
    typealias Room = RoomStateMachine<RegisterReducer>

    /// Milliseconds since the epoch at simulated time zero.
    static let epoch: UInt64 = 1_764_316_800_000
    static let tickInterval: UInt64 = 50
    static let frontierGrace: UInt64 = 1_000
    static let settleMilliseconds: UInt64 = 8_000
    /// Entries the simulated room folds between checkpoints: small, so that
    /// restarts load checkpoints and late joiners get snapshots.
    static let checkpointInterval = 16
    /// Messages on their way to a slow reader beyond which the server's
    /// buffer for it counts as full.
    static let slowReaderBuffer = 6
    /// Milliseconds the simulated server's lobby waits for a hello.
    static let handshakeTimeout: UInt64 = 2_000

    final class Node {
        let index: Int
        let peer: PeerID
        let isServer: Bool
        let role: PeerRole
        let skew: UInt64
        let wallClock: ManualClock
        var store: Store
        /// A client's own durable log: every update it holds above its snapshot.
        var persisted: [UpdateID: Update<RegisterReducer.Action>] = [:]
        /// The snapshot a client installed from the server, for its restarts.
        var snapshot: ReplicaSnapshot<RegisterReducer.State>?
        var joined = true
        var crashed = false
        var offline = false
        var links: [Int] = []

        init(
            index: Int, peer: PeerID, isServer: Bool, role: PeerRole, skew: UInt64, wallClock: ManualClock,
            store: Store
        ) {
            self.index = index
            self.wallClock = wallClock
            self.peer = peer
            self.isServer = isServer
            self.role = role
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
        /// Messages scheduled and not delivered yet, by receiving side.
        var inFlight = [0, 0]
    }

    /// The server of a star: the product's lobby and room over a simulated log.
    struct ServerSide {
        var lobby: Lobby
        var room: Room
        /// What the log holds: every update whose append completed.
        var durable: [UpdateID: Update<RegisterReducer.Action>] = [:]
        var checkpoint: RoomCheckpoint?
        var savedFrontier = Timestamp.zero
        /// Bumped by every crash: an append or checkpoint of an earlier
        /// epoch was lost with the process.
        var epoch = 0
        var sessionOnLink: [Int: SessionID] = [:]
        var linkOfSession: [SessionID: Int] = [:]
        /// Links in the lobby: connected, their hello not arrived yet.
        var connectionOnLink: [Int: ConnectionID] = [:]
        /// Connections that will never say hello, and when each was accepted.
        var silent: [ConnectionID: UInt64] = [:]
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
        /// A connection that will never say hello reaches the server.
        case silentConnect
        case appendDone(AppendID, epoch: Int, fails: Bool)
        case checkpointDone(RoomCheckpoint, epoch: Int)
        /// The server ended the session on `link`: the connection closes
        /// once its last message (the goodbye) has arrived.
        case serverClosed(link: Int, generation: Int, reason: CloseReason)
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
    private var serverSide: ServerSide?
    /// The client that reads slowly, if the scenario has one.
    private var slowReader: Int?

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

    private func replicaConfiguration(isServer: Bool) -> ReplicaConfiguration {
        var configuration = ReplicaConfiguration()
        configuration.timestampStrategy = scenario.timestampStrategy
        configuration.snapshotPolicy = scenario.snapshotPolicy
        configuration.maxClockSkew = scenario.timestampStrategy == .hybridLogical ? 5_000 : 1 << 40
        configuration.isAuthority = isServer
        configuration.historyLimit = hasServer ? .frontier : .unbounded
        return configuration
    }

    private func makeStore(peer: PeerID, clock: ManualClock) -> Store {
        Store(
            peer: peer, reducer: reducer, initialState: RegisterReducer.State(),
            configuration: replicaConfiguration(isServer: false), wallClock: clock)
    }

    /// The room as the server configures it, with the scenario's batching.
    private func roomConfiguration() -> RoomConfiguration<RegisterReducer> {
        var room = RoomConfiguration<RegisterReducer>(
            name: "sim", replica: replicaConfiguration(isServer: true), encodeState: { $0.encoded() })
        room.session.maxBatchUpdates = scenario.maxBatchUpdates
        room.session.window = scenario.window
        room.session.livenessTimeout = 3_600_000
        room.session.pingInterval = 1_000
        room.frontierGrace = Self.frontierGrace
        room.checkpointInterval = Self.checkpointInterval
        room.maxUpdatesPerSecond = 100_000
        return room
    }

    /// The server's front door, as the server configures it: room for every
    /// client and silent connection, so that only a timeout refuses anyone.
    private func makeLobby() -> Lobby {
        var configuration = Lobby.Configuration(protocolVersion: 1)
        configuration.handshakeTimeout = Self.handshakeTimeout
        configuration.maxHandshakes = scenario.peerCount + scenario.silentPeers * 3
        configuration.maxSessions = scenario.peerCount
        return Lobby(configuration: configuration)
    }

    /// The server's room, loaded from what the simulated log holds.
    private func loadRoom(now: UInt64, from side: ServerSide?) -> Room {
        var checkpoint: ReplicaSnapshot<RegisterReducer.State>?
        if let stored = side?.checkpoint {
            do {
                checkpoint = ReplicaSnapshot(
                    state: try RegisterReducer.State(decoding: stored.state), horizon: stored.horizon,
                    digest: stored.digest)
            } catch {
                fail("the server's checkpoint does not decode: \(error)")
            }
        }
        let suffix = (side?.durable.values ?? [:].values)
            .filter { checkpoint?.digest.contains($0.id) != true }
            .sorted { $0.orderKey < $1.orderKey }
        return Room(
            configuration: roomConfiguration(), reducer: reducer, initialState: RegisterReducer.State(),
            checkpoint: checkpoint, updates: suffix, frontier: side?.savedFrontier ?? .zero, now: now)
    }

    private func build() {
        let count = scenario.peerCount + (hasServer ? 1 : 0)
        var roles: [PeerRole] = Array(repeating: .editor, count: count)
        if hasServer {
            // Viewers and bots beside editors; one editor at least.
            var clients = Array(1..<count).shuffled(using: &random)
            for _ in 0..<min(scenario.viewers, clients.count - 1) { roles[clients.removeFirst()] = .viewer }
            for _ in 0..<min(scenario.bots, clients.count) { roles[clients.removeFirst()] = .bot }
            if scenario.slowConsumer { slowReader = Int.random(in: 1..<count, using: &random) }
        }
        for index in 0..<count {
            let isServer = hasServer && index == 0
            let peer = PeerID.random(using: &random)
            let skew = isServer ? 0 : UInt64.random(in: 0...scenario.clockSkew, using: &random)
            let clock = ManualClock()
            let node = Node(
                index: index, peer: peer, isServer: isServer, role: isServer ? .server : roles[index], skew: skew,
                wallClock: clock, store: makeStore(peer: peer, clock: clock))
            if isServer {
                setClock(node)
                let room = loadRoom(now: nodeNow(node), from: nil)
                node.store = room.store
                serverSide = ServerSide(lobby: makeLobby(), room: room)
            }
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
            guard !node.isServer, node.role.mayAuthor else { continue }
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
        if hasServer {
            for _ in 0..<scenario.silentPeers * 3 { schedule(.silentConnect, at: randomTime(in: 1...active)) }
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
                fail("no quiescence after \(steps) events")
                break
            }
            now = event.time
            handle(event.kind)
            // Quiet: nothing on the wire, nothing on its way to disk, every link up.
            if now >= quietAfter && pendingDeliveries == 0 && pendingAppends.isEmpty && links.allSatisfy(\.isUp) {
                break
            }
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
            // The process is gone: what it was storing is lost with it.
            if node.isServer { serverSide!.epoch += 1 }
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
        case .silentConnect:
            guard let server, server.isUp else { return }
            switch serverSide!.lobby.accept(now: nodeNow(server)) {
            case .waiting(let connection): serverSide!.silent[connection] = now
            case .refused(let reason): fail("the lobby refused a connection: \(reason)")
            }
        case .appendDone(let append, let epoch, let fails):
            appendDone(append, epoch: epoch, fails: fails)
        case .checkpointDone(let checkpoint, let epoch):
            guard let server, !server.crashed, epoch == serverSide!.epoch else { return }
            serverSide!.checkpoint = checkpoint
            serverSide!.room.checkpointSaved(checkpoint)
            report.checkpointsSaved += 1
        case .serverClosed(let link, let generation, let reason):
            guard links[link].isUp, links[link].generation == generation else { return }
            disconnect(link)
            if Self.isRecoverable(reason) {
                schedule(.reconnect(link), at: now + randomTime(in: 20...500))
            } else {
                fail("the server ended link \(links[link].ends): \(reason)")
            }
        }
    }

    /// Endings a peer recovers from by reconnecting: faults the simulation injects.
    private static func isRecoverable(_ reason: CloseReason) -> Bool {
        switch reason {
        case .storageUnavailable, .slowConsumer: true
        default: false
        }
    }

    /// Records a broken guarantee; a run that breaks one keeps breaking it,
    /// so only the first few are kept (and the run stays fast).
    private func fail(_ failure: String) {
        guard report.failures.count < 20 else { return }
        report.failures.append(failure)
    }

    private func node(of link: Int, side: Int) -> Node {
        nodes[side == 0 ? links[link].ends.0 : links[link].ends.1]
    }

    /// A client's session; the server's sessions are its room's.
    private func sessionConfiguration(for node: Node, peerIsServer: Bool) -> GossipSessionConfiguration {
        var configuration = GossipSessionConfiguration(name: "node\(node.index)", room: "sim", role: node.role)
        configuration.maxBatchUpdates = scenario.maxBatchUpdates
        configuration.window = scenario.window
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
        links[link].inFlight = [0, 0]
        // The server's end waits in the lobby; it joins its room when the
        // client's hello arrives.
        if b.isServer {
            switch serverSide!.lobby.accept(now: nodeNow(b)) {
            case .waiting(let connection): serverSide!.connectionOnLink[link] = connection
            case .refused(let reason): fail("the lobby refused node\(a.index): \(reason)")
            }
        }
        links[link].sessions = [
            Session(configuration: sessionConfiguration(for: a, peerIsServer: b.isServer)),
            b.isServer ? nil : Session(configuration: sessionConfiguration(for: b, peerIsServer: a.isServer)),
        ]
        for side in 0...1 where links[link].sessions[side] != nil {
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
        guard let server, links[link].ends.1 == server.index else { return }
        if let connection = serverSide!.connectionOnLink.removeValue(forKey: link) {
            serverSide!.lobby.closed(connection)
        }
        guard let session = serverSide!.sessionOnLink.removeValue(forKey: link) else { return }
        serverSide!.linkOfSession[session] = nil
        // A crashed server's lobby and room are gone with it; a live one
        // gives the place back and tells the others.
        guard !server.crashed else { return }
        serverSide!.lobby.sessionEnded()
        perform(serverSide!.room.disconnected(session))
        perform(serverSide!.room.flush())
    }

    private func deliver(
        _ message: GossipMessage<RegisterReducer.Action>, link: Int, generation: Int, side: Int
    ) {
        guard links[link].isUp, links[link].generation == generation else { return }
        links[link].inFlight[side] -= 1
        let end = node(of: link, side: side)
        setClock(end)
        if end.isServer {
            report.messagesDelivered += 1
            serverReceives(message, on: link)
            return
        }
        guard links[link].sessions[side] != nil else { return }
        report.messagesDelivered += 1
        let outputs = links[link].sessions[side]!.handle(message, store: end.store, now: nodeNow(end))
        carryOut(outputs, link: link, side: side)
        // Acknowledged means durable: the server's log holds what a client takes as confirmed.
        let confirmed = end.store.confirmedOwnSeq
        if let serverSide, confirmed > 0, serverSide.durable[UpdateID(origin: end.peer, seq: confirmed)] == nil {
            fail(
                "node\(end.index) took \(end.peer)#\(confirmed) as confirmed; the server's log lacks it")
        }
    }

    private func send(_ message: GossipMessage<RegisterReducer.Action>, link: Int, from side: Int) {
        let to = 1 - side
        var latency = randomTime(in: scenario.latency)
        if links[link].ends.0 == slowReader && to == 0 { latency += 500 }
        // TCP: a direction delivers in order, so never before the previous one.
        let time = max(now + latency, links[link].lastDelivery[to])
        links[link].lastDelivery[to] = time
        links[link].inFlight[to] += 1
        schedule(.deliver(link: link, generation: links[link].generation, side: to, message: message), at: time)
    }

    // MARK: The server's room

    /// A message reaches the server: the client's hello joins the room,
    /// everything after it goes to its session.
    private func serverReceives(_ message: GossipMessage<RegisterReducer.Action>, on link: Int) {
        let now = nodeNow(server!)
        if let session = serverSide!.sessionOnLink[link] {
            perform(serverSide!.room.receive(message, from: session, now: now))
        } else if let connection = serverSide!.connectionOnLink.removeValue(forKey: link) {
            switch serverSide!.lobby.receive(message, from: connection) {
            case .admitted(let hello):
                let (session, effects) = serverSide!.room.join(hello, now: now)
                serverSide!.sessionOnLink[link] = session
                serverSide!.linkOfSession[session] = link
                perform(effects)
            case .refused(let reason):
                fail("the lobby refused node\(links[link].ends.0) on link \(links[link].ends): \(reason)")
            }
        } else {
            fail("the server got \(message) on link \(links[link].ends), which is in neither lobby nor room")
        }
        perform(serverSide!.room.flush())
    }

    /// Carries out what the room decided, as the server does, against the
    /// simulated log and links.
    private func perform(_ effects: [Room.Effect]) {
        for effect in effects {
            switch effect {
            case .write(let session, let messages):
                guard let link = serverSide!.linkOfSession[session], links[link].isUp else { continue }
                if links[link].ends.0 == slowReader, now < scenario.activeMilliseconds,
                    links[link].inFlight[0] + messages.count > Self.slowReaderBuffer
                {
                    report.slowConsumersCut += 1
                    perform(serverSide!.room.writeRefused(session))
                    continue
                }
                for message in messages { send(message, link: link, from: 1) }
            case .finish(let session, let reason):
                guard let link = serverSide!.linkOfSession[session] else { continue }
                schedule(
                    .serverClosed(link: link, generation: links[link].generation, reason: reason),
                    at: max(now, links[link].lastDelivery[0]) + 1)
            case .append(let append, _):
                // The disk is repaired when the active period ends.
                let fails =
                    scenario.storageFailureRate > 0 && now < scenario.activeMilliseconds
                    && Double.random(in: 0..<1, using: &random) < scenario.storageFailureRate
                schedule(
                    .appendDone(append, epoch: serverSide!.epoch, fails: fails),
                    at: now + randomTime(in: scenario.appendLatency))
                pendingAppends[PendingAppendKey(epoch: serverSide!.epoch, append: append)] = effect
            case .saveCheckpoint(let checkpoint):
                schedule(
                    .checkpointDone(checkpoint, epoch: serverSide!.epoch),
                    at: now + randomTime(in: scenario.appendLatency))
            case .saveFrontier(let frontier):
                serverSide!.savedFrontier = frontier
            }
        }
    }

    /// A restarted room numbers its appends from 1 again: an append is
    /// known by the server's epoch too.
    struct PendingAppendKey: Hashable {
        let epoch: Int
        let append: AppendID
    }

    private var pendingAppends: [PendingAppendKey: Room.Effect] = [:]

    private func appendDone(_ append: AppendID, epoch: Int, fails: Bool) {
        guard
            case .append(_, let updates)? = pendingAppends.removeValue(
                forKey: PendingAppendKey(epoch: epoch, append: append))
        else { return }
        guard let server, !server.crashed, epoch == serverSide!.epoch else {
            report.appendsLostInCrash += 1
            return
        }
        setClock(server)
        let now = nodeNow(server)
        if fails {
            // The log refuses the batch: nothing of it may show anywhere.
            report.faultsInjected += 1
            perform(serverSide!.room.appendFailed(append, reason: "simulated full disk", now: now))
            for update in updates where server.store.digest[update.origin] >= update.seq {
                fail("the server applied \(update.id), which its log refused")
            }
        } else {
            for update in updates { serverSide!.durable[update.id] = update }
            perform(serverSide!.room.appendCompleted(append, now: now))
        }
        perform(serverSide!.room.flush())
    }

    // MARK: Clients

    private func carryOut(_ outputs: [Session.Output], link: Int, side: Int) {
        let end = node(of: link, side: side)
        for output in outputs {
            switch output {
            case .send(let message):
                send(message, link: link, from: side)
            case .applied(let updates):
                for update in updates { end.persisted[update.id] = update }
                pumpAll(end, except: link)
            case .persist:
                fail("node\(end.index) was asked to persist before applying; only the room does")
            case .rebased(let updates):
                report.rebased += updates.count
                for update in updates { end.persisted[update.id] = update }
            case .presence, .presenceGone, .caughtUp, .roundTrip:
                break
            case .rejectedByRemote(let rejection):
                fail("node\(end.index) had an update refused: \(rejection)")
            case .belowHorizon(let update):
                fail("node\(end.index) got \(update.id) below its horizon")
            case .remoteNeedsSnapshot(let origin):
                fail("node\(end.index) no longer holds updates of \(origin)")
            case .snapshotReceived(let header, let bytes):
                installSnapshot(header, bytes, at: end, link: link, side: side)
            case .close(let reason) where Self.isRecoverable(reason):
                // An injected fault: the peer comes back, as a client would.
                disconnect(link)
                schedule(.reconnect(link), at: now + randomTime(in: 20...500))
                return
            case .close(let reason):
                fail("node\(end.index) closed a link: \(reason)")
                disconnect(link)
                return
            }
        }
    }

    /// A client installs the server's snapshot, as the board client does,
    /// and keeps it for its own restarts.
    private func installSnapshot(_ header: SnapshotHeader, _ bytes: [UInt8], at node: Node, link: Int, side: Int) {
        guard links[link].sessions[side] != nil else { return }
        let state: RegisterReducer.State
        do {
            state = try RegisterReducer.State(decoding: bytes)
        } catch {
            fail("node\(node.index) got a snapshot that does not decode: \(error)")
            return
        }
        let snapshot = ReplicaSnapshot(state: state, horizon: header.horizon, digest: header.digest)
        node.snapshot = snapshot
        report.snapshotsInstalled += 1
        node.persisted = node.persisted.filter { !snapshot.digest.contains($0.key) }
        let outputs = links[link].sessions[side]!.installSnapshot(snapshot, store: node.store, source: node.store)
        carryOut(outputs, link: link, side: side)
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
            fail("node\(node.index) could not record \(action): \(error)")
        }
        pumpAll(node)
        if node.isUp {
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
        if node.isServer {
            for connection in serverSide!.lobby.tick(now: nodeNow(node)) { timedOut(connection) }
            perform(serverSide!.room.tick(now: nodeNow(node)))
            perform(serverSide!.room.flush())
            return
        }
        for link in node.links where links[link].isUp {
            let side = links[link].ends.0 == node.index ? 0 : 1
            guard links[link].sessions[side] != nil else { continue }
            let outputs = links[link].sessions[side]!.tick(store: node.store, now: nodeNow(node))
            carryOut(outputs, link: link, side: side)
        }
    }

    /// The lobby timed `connection` out: it must be a silent one (an honest
    /// client's hello is never that late), and on time.
    private func timedOut(_ connection: ConnectionID) {
        guard let accepted = serverSide!.silent.removeValue(forKey: connection) else {
            fail("the lobby timed out \(connection), which was not silent")
            return
        }
        let waited = now - accepted
        if waited < Self.handshakeTimeout || waited > Self.handshakeTimeout + Self.tickInterval {
            fail("the lobby timed out a silent connection after \(waited) ms, not \(Self.handshakeTimeout)")
        }
        report.silentPeersTimedOut += 1
    }

    private func restart(_ node: Node) {
        guard node.crashed else { return }
        setClock(node)
        if node.isServer {
            // What the log holds: the latest checkpoint, the suffix, the frontier.
            if serverSide!.checkpoint != nil { report.restartsFromCheckpoint += 1 }
            serverSide!.room = loadRoom(now: nodeNow(node), from: serverSide)
            serverSide!.lobby = makeLobby()
            serverSide!.sessionOnLink = [:]
            serverSide!.linkOfSession = [:]
            serverSide!.connectionOnLink = [:]
            // The silent connections' sockets closed with the process.
            serverSide!.silent = [:]
            node.store = serverSide!.room.store
        } else {
            let store =
                if let snapshot = node.snapshot {
                    Store(
                        peer: node.peer, reducer: reducer, snapshot: snapshot,
                        configuration: replicaConfiguration(isServer: false), wallClock: node.wallClock)
                } else {
                    makeStore(peer: node.peer, clock: node.wallClock)
                }
            for update in node.persisted.values.sorted(by: { $0.orderKey < $1.orderKey }) {
                let outcome = store.receive(update)
                guard case .applied = outcome else {
                    fail("node\(node.index) could not restore \(update.id): \(outcome)")
                    continue
                }
            }
            node.store = store
        }
        node.crashed = false
        for link in node.links { connect(link) }
    }

    private func verify() {
        for index in links.indices where !links[index].isUp {
            fail("link \(links[index].ends) still down at the end")
        }
        let referenceState: RegisterReducer.State
        let referenceDigest: Digest
        if let server, let serverSide {
            if let unstored = server.store.dump().first(where: { serverSide.durable[$0.id] == nil }) {
                fail("the server holds \(unstored.id), which its log does not")
            }
            // Every replica must equal a sorted reduce of everything the log holds.
            referenceState = reducer.referenceState(of: serverSide.durable.values)
            var stored = Digest()
            for id in serverSide.durable.keys { stored.advance(id.origin, to: max(stored[id.origin], id.seq)) }
            referenceDigest = stored
            if server.store.digest != stored {
                fail("the server holds \(server.store.digest); its log holds \(stored)")
            }
            // The front door gave back every place: nobody waits for ever,
            // and it counts exactly the sessions that are open.
            if serverSide.lobby.waiting != 0 || !serverSide.silent.isEmpty {
                fail("the lobby still has \(serverSide.lobby.waiting) connections waiting for a hello")
            }
            if serverSide.lobby.sessions != serverSide.sessionOnLink.count {
                fail(
                    "the lobby counts \(serverSide.lobby.sessions) sessions; \(serverSide.sessionOnLink.count) are open"
                )
            }
        } else {
            let dump = nodes[0].store.dump()
            referenceState = reducer.referenceState(of: dump)
            referenceDigest = nodes[0].store.digest
            for node in nodes where node.store.dump().map(\.orderKey) != dump.map(\.orderKey) {
                fail("node\(node.index) holds differently stamped updates than node0")
            }
        }
        for (origin, seq) in maxSeq where referenceDigest[origin] < seq {
            fail(
                "lost updates: \(origin) recorded through seq \(seq), the reference holds \(referenceDigest[origin])")
        }
        for node in nodes {
            report.rewinds += node.store.timeline.statistics.rewinds
            report.commutes += node.store.timeline.statistics.commutes
            if node.store.digest != referenceDigest {
                fail("node\(node.index) digest \(node.store.digest) != reference \(referenceDigest)")
                continue
            }
            if node.store.state != referenceState {
                fail("node\(node.index) state differs from the sorted reduce of all updates")
            }
            if hasServer {
                let frontier = node.store.frontier
                let lingering = node.store.timeline.updates.filter { $0.timestamp < frontier }.count
                if lingering > node.store.configuration.snapshotPolicy.interval {
                    fail(
                        "node\(node.index) keeps \(lingering) entries below the frontier \(frontier)")
                }
            }
        }
    }
}
