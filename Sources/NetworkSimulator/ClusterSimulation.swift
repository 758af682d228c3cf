import HeapModule
import Rooms
import Scuttlebutt

/// What can go wrong in a cluster run.
public enum ClusterFault: String, Sendable, CaseIterable, CustomStringConvertible {
    /// A node dies (`kill -9`) and comes back later as a new incarnation.
    case crash
    /// A node stops for longer than a lease (SIGSTOP, a long GC) and resumes
    /// with its old beliefs and the messages that waited for it.
    case pause
    /// A node loses the shared store for longer than a lease, then gets it back.
    case partition

    /// The fault's name.
    public var description: String { rawValue }
}

/// What a cluster run found.
public struct ClusterSimulationReport: Sendable, CustomStringConvertible {
    /// The seed; it replays the run exactly.
    public let seed: UInt64
    /// The fault injected.
    public let fault: ClusterFault
    /// Every broken guarantee, in words; empty when the run passed.
    public var failures: [String] = []
    /// Updates the clients recorded.
    public var recorded = 0
    /// Appends the store refused because their epoch was not the room's.
    public var fencedAppends = 0
    /// Rooms claimed from another node (failovers and handovers).
    public var takeovers = 0
    /// Redirects clients followed.
    public var redirects = 0
    /// Simulated milliseconds until every client was acknowledged.
    public var simulatedMilliseconds: UInt64 = 0

    /// Whether every guarantee held.
    public var passed: Bool { failures.isEmpty }

    /// The seed, the fault, the counts and any failures.
    public var description: String {
        var text =
            "cluster seed \(seed) (\(fault)): recorded=\(recorded) fenced=\(fencedAppends) takeovers=\(takeovers) "
            + "redirects=\(redirects) time=\(simulatedMilliseconds)ms"
        for failure in failures { text += "\n  FAIL: \(failure)" }
        return text
    }
}

/// A deterministic model of a cluster: server nodes that keep their leases
/// with the product's ``NodeLeases`` (the keeper the server drives), a
/// shared store with the PostgreSQL engine's semantics (claims, renewals
/// and releases on the store's clock; appends refused unless their epoch is
/// the room's; stored updates never duplicated) reached with latency, and
/// clients that draw in rooms, follow redirects and move to the next node
/// when theirs cannot be reached. One fault per run: a node crash, a pause
/// longer than a lease, or a partition between a node and the store.
///
/// Checked: every update a client saw acknowledged is in the store; every
/// update ends acknowledged and stored exactly once; every stored update was
/// written by the room's lease holder at the lease's epoch; a node paused
/// past its lease, resuming with writes queued, has them refused by epoch.
public final class ClusterSimulation {
    static let nodeNames = ["n0", "n1", "n2"]
    static let clientsPerRoom = 2
    static let leaseDuration: UInt64 = 900
    static let renewInterval: UInt64 = 300
    static let tickInterval: UInt64 = 50
    static let storeTimeout: UInt64 = 400
    static let activeMilliseconds: UInt64 = 6_000
    static let deadline: UInt64 = 60_000

    // MARK: The shared store

    struct Lease {
        var node: String
        var incarnation: Int
        var epoch: UInt64
        var expiresAt: UInt64
    }

    struct NodeRecord {
        var incarnation: Int
        var aliveUntil: UInt64
        var draining: Bool
    }

    /// The store: nodes, leases and the log, as `PostgresLog` keeps them.
    struct Store {
        var nodes: [String: NodeRecord] = [:]
        var leases: [String: Lease] = [:]
        var log: [String: [PeerID: [UInt64]]] = [:]
        /// Who wrote each epoch of each room, to check that one incarnation did.
        var writers: [String: [UInt64: String]] = [:]
        var fencedAppends = 0
        /// Appends stored for a node that did not hold the room's lease then.
        var writesByOthers: [String] = []

        func statuses(now: UInt64) -> [NodeStatus] {
            nodes.sorted { $0.key < $1.key }.map {
                NodeStatus(name: $0.key, isAlive: $0.value.aliveUntil > now, isDraining: $0.value.draining)
            }
        }

        func lease(of room: String, now: UInt64) -> LeaseStatus? {
            leases[room].map { LeaseStatus(node: $0.node, epoch: $0.epoch, isLive: $0.expiresAt > now) }
        }

        mutating func claim(_ room: String, node: String, incarnation: Int, now: UInt64) -> UInt64? {
            if let held = leases[room], held.expiresAt > now, held.incarnation != incarnation || held.node != node {
                return nil
            }
            let sameHolder = leases[room].map { $0.node == node && $0.incarnation == incarnation } ?? false
            let epoch = sameHolder ? leases[room]!.epoch : (leases[room]?.epoch ?? 0) + 1
            leases[room] = Lease(
                node: node, incarnation: incarnation, epoch: epoch, expiresAt: now + ClusterSimulation.leaseDuration)
            return epoch
        }

        mutating func renew(node: String, incarnation: Int, now: UInt64) -> [String: UInt64] {
            if nodes[node]?.incarnation == incarnation {
                nodes[node]?.aliveUntil = now + ClusterSimulation.leaseDuration
            }
            var held: [String: UInt64] = [:]
            for (room, lease) in leases where lease.node == node && lease.incarnation == incarnation {
                leases[room]?.expiresAt = now + ClusterSimulation.leaseDuration
                held[room] = lease.epoch
            }
            return held
        }

        /// Appends at `epoch`: refused unless it is the room's; a stored
        /// seq is left as it is; a gap is refused whole.
        mutating func append(
            _ room: String, origin: PeerID, seqs: [UInt64], epoch: UInt64, node: String, incarnation: Int
        ) -> Bool {
            guard let lease = leases[room], lease.epoch == epoch else {
                fencedAppends += 1
                return false
            }
            var stored = log[room, default: [:]][origin, default: []]
            for seq in seqs where seq > (stored.last ?? 0) {
                guard seq == (stored.last ?? 0) + 1 else { return false }
                stored.append(seq)
            }
            log[room, default: [:]][origin] = stored
            if lease.node != node || lease.incarnation != incarnation {
                writesByOthers.append(
                    "\(node)#\(incarnation) wrote \(room) while \(lease.node)#\(lease.incarnation) held it")
            }
            let writer = "\(node)#\(incarnation)"
            if writers[room, default: [:]][epoch] == nil { writers[room, default: [:]][epoch] = writer }
            if writers[room]?[epoch] != writer { writers[room, default: [:]][epoch] = "CONFLICT" }
            return true
        }
    }

    // MARK: Nodes and clients

    enum NodeState { case up, paused, crashed }

    struct Node {
        let name: String
        var incarnation = 1
        var keeper: NodeLeases
        var state = NodeState.up
        var partitioned = false
        /// Rooms loaded here: their epoch and the clients in session.
        var rooms: [String: (epoch: UInt64, sessions: Set<Int>)] = [:]
        /// Joins waiting for a placement or a claim, by room.
        var joining: [String: Set<Int>] = [:]
        /// Events that arrived while paused, handled on resume in order.
        var inbox: [Kind] = []
        /// When its last store request arrives: requests keep their order
        /// (one connection, one commit at a time).
        var lastRequestArrival: UInt64 = 0

        init(name: String) {
            self.name = name
            var configuration = NodeLeases.Configuration(node: name)
            configuration.leaseDuration = ClusterSimulation.leaseDuration
            configuration.renewInterval = ClusterSimulation.renewInterval
            keeper = NodeLeases(configuration: configuration)
        }
    }

    struct Client {
        let peer: PeerID
        let room: String
        let home: Int
        var node: Int
        /// Bumped at every new connection: events of older ones are stale.
        var connection = 0
        var live = false
        var recorded: UInt64 = 0
        var acknowledged: Set<UInt64> = []
        var redirectsInARow = 0
        /// When its last message to its node arrives: a link keeps order.
        var lastSendArrival: UInt64 = 0
    }

    /// What the store is asked.
    enum StoreOperation {
        case announce
        case renew
        case place(room: String)
        case claim(room: String)
        case append(room: String, client: Int, connection: Int, seqs: [UInt64], epoch: UInt64)
        case release(room: String)
    }

    /// What the store answers.
    enum StoreAnswer {
        case renewed(held: [String: UInt64], lapsed: [String], nodes: [NodeStatus], asked: UInt64)
        case placed(room: String, lease: LeaseStatus?, nodes: [NodeStatus])
        case claimed(room: String, epoch: UInt64?, previous: String?)
        case appended(room: String, client: Int, connection: Int, seqs: [UInt64], stored: Bool)
        case announced(asked: UInt64)
        case done
    }

    enum Kind {
        case tick
        case record(client: Int)
        case connect(client: Int, connection: Int, node: Int)
        case accepted(client: Int, connection: Int)
        case closed(client: Int, connection: Int, redirect: Int?)
        case updates(client: Int, connection: Int, node: Int, seqs: [UInt64])
        case ack(client: Int, connection: Int, seqs: [UInt64])
        case storeRequest(node: Int, incarnation: Int, StoreOperation, sent: UInt64)
        case storeAnswer(node: Int, incarnation: Int, StoreAnswer, sent: UInt64)
        case storeTimeout(node: Int, incarnation: Int, StoreOperation)
        case fault(start: Bool)
    }

    struct Event: Comparable {
        let time: UInt64
        let order: Int
        let kind: Kind

        static func < (lhs: Event, rhs: Event) -> Bool { (lhs.time, lhs.order) < (rhs.time, rhs.order) }
        static func == (lhs: Event, rhs: Event) -> Bool { (lhs.time, lhs.order) == (rhs.time, rhs.order) }
    }

    private var random: SeededGenerator
    private var report: ClusterSimulationReport
    private var store = Store()
    private var nodes: [Node]
    private var clients: [Client] = []
    private var queue = Heap<Event>()
    private var order = 0
    private var now: UInt64 = 0
    /// The node the fault hits, and whether a paused node had writes waiting.
    private var victim = 0
    private var pausedWithWritesQueued = false
    /// The rooms, named per seed so that placements differ from run to run.
    private let rooms: [String]

    /// A run of `seed` with `fault`.
    public init(seed: UInt64, fault: ClusterFault) {
        var random = SeededGenerator(seed: seed)
        rooms = (0..<4).map { _ in "room-\(UInt32.random(in: 0...UInt32.max, using: &random))" }
        self.random = random
        report = ClusterSimulationReport(seed: seed, fault: fault)
        nodes = Self.nodeNames.map(Node.init(name:))
    }

    // MARK: Running

    /// Runs to the end and checks the guarantees.
    public func run() -> ClusterSimulationReport {
        for index in nodes.indices { request(index, .announce) }
        for room in rooms {
            for _ in 0..<Self.clientsPerRoom {
                let home = Int.random(in: 0..<nodes.count, using: &random)
                clients.append(
                    Client(peer: PeerID(UInt64(clients.count + 1)), room: room, home: home, node: home))
            }
        }
        for index in clients.indices {
            schedule(.connect(client: index, connection: 0, node: clients[index].node), at: randomTime(100...400))
            schedule(.record(client: index), at: randomTime(500...800))
        }
        schedule(.tick, at: Self.tickInterval)
        schedule(.fault(start: true), at: randomTime(2_000...3_000))
        while let event = queue.popMin() {
            now = event.time
            if now > Self.deadline { break }
            handle(event.kind)
            if now > Self.activeMilliseconds + 2_000 && everythingAcknowledged { break }
        }
        report.simulatedMilliseconds = now
        check()
        return report
    }

    private var everythingAcknowledged: Bool {
        clients.allSatisfy { $0.acknowledged.count == Int($0.recorded) }
    }

    private func schedule(_ kind: Kind, at time: UInt64) {
        order += 1
        queue.insert(Event(time: time, order: order, kind: kind))
    }

    private func randomTime(_ range: ClosedRange<UInt64>) -> UInt64 { now + UInt64.random(in: range, using: &random) }

    private func latency() -> UInt64 { now + UInt64.random(in: 1...8, using: &random) }

    // MARK: Events

    private func handle(_ kind: Kind) {
        switch kind {
        case .tick:
            for index in nodes.indices where nodes[index].state == .up { tick(index) }
            if now < Self.deadline { schedule(.tick, at: now + Self.tickInterval) }
        case .record(let client):
            guard now < Self.activeMilliseconds else { return }
            clients[client].recorded += 1
            report.recorded += 1
            if clients[client].live {
                send(client, [clients[client].recorded])
            }
            schedule(.record(client: client), at: randomTime(40...120))
        case .fault(let start):
            fault(start: start)
        case .connect(_, _, let node), .updates(_, _, let node, _):
            deliverToNode(node, kind)
        case .storeAnswer(let node, _, _, _), .storeTimeout(let node, _, _):
            deliverToNode(node, kind)
        case .storeRequest(let node, let incarnation, let operation, let sent):
            answer(node, incarnation, operation, sent: sent)
        case .accepted(let client, let connection):
            guard clients[client].connection == connection else { return }
            clients[client].live = true
            clients[client].redirectsInARow = 0
            let unacknowledged = (0..<clients[client].recorded).map { $0 + 1 }.filter {
                !clients[client].acknowledged.contains($0)
            }
            if !unacknowledged.isEmpty { send(client, unacknowledged) }
        case .ack(let client, let connection, let seqs):
            guard clients[client].connection == connection else { return }
            clients[client].acknowledged.formUnion(seqs)
        case .closed(let client, let connection, let redirect):
            guard clients[client].connection == connection else { return }
            reconnect(client, redirect: redirect)
        }
    }

    /// Hands `kind` to a node: dropped when it is down (a connection gets
    /// refused), held while it is paused.
    private func deliverToNode(_ node: Int, _ kind: Kind) {
        switch nodes[node].state {
        case .crashed:
            if case .connect(let client, let connection, _) = kind {
                schedule(.closed(client: client, connection: connection, redirect: nil), at: latency())
            }
        case .paused:
            nodes[node].inbox.append(kind)
        case .up:
            nodeHandles(node, kind)
        }
    }

    private func nodeHandles(_ node: Int, _ kind: Kind) {
        switch kind {
        case .connect(let client, let connection, _):
            join(node, client, connection)
        case .updates(let client, let connection, _, let seqs):
            let room = clients[client].room
            guard let held = nodes[node].rooms[room], held.sessions.contains(client) else {
                schedule(.closed(client: client, connection: connection, redirect: nil), at: latency())
                return
            }
            request(node, .append(room: room, client: client, connection: connection, seqs: seqs, epoch: held.epoch))
        case .storeAnswer(_, let incarnation, let answer, _) where incarnation == nodes[node].incarnation:
            received(node, answer)
        case .storeTimeout(_, let incarnation, let operation) where incarnation == nodes[node].incarnation:
            timedOut(node, operation)
        default:
            return
        }
    }

    // MARK: The node

    private func tick(_ node: Int) {
        for effect in nodes[node].keeper.tick(now: now) {
            switch effect {
            case .renew: request(node, .renew)
            case .giveUp(let room, _): giveUp(node, room)
            }
        }
    }

    private func join(_ node: Int, _ client: Int, _ connection: Int) {
        let room = clients[client].room
        if nodes[node].rooms[room] != nil {
            nodes[node].rooms[room]?.sessions.insert(client)
            schedule(.accepted(client: client, connection: connection), at: latency())
            return
        }
        let waiting = nodes[node].joining[room] != nil
        nodes[node].joining[room, default: []].insert(client)
        if !waiting { request(node, .place(room: room)) }
    }

    /// Ends the sessions of `room` here, sending them on; forgets the room.
    private func giveUp(_ node: Int, _ room: String) {
        nodes[node].keeper.unloaded(room)
        guard let held = nodes[node].rooms.removeValue(forKey: room) else { return }
        // Read from the store at once (the server asks it); nothing when
        // the node cannot reach it.
        let whereabouts =
            nodes[node].partitioned
            ? nil
            : nodes[node].keeper.whereabouts(
                of: room, lease: store.lease(of: room, now: now), nodes: store.statuses(now: now))
        let target = whereabouts.flatMap { name in nodes.firstIndex { $0.name == name } }
        for client in held.sessions.sorted() {
            schedule(.closed(client: client, connection: clients[client].connection, redirect: target), at: latency())
        }
    }

    /// Tells waiting joins of `room` where to go (nil: retry later).
    private func answerJoins(_ node: Int, _ room: String, redirect: Int?) {
        for client in (nodes[node].joining.removeValue(forKey: room) ?? []).sorted() {
            schedule(.closed(client: client, connection: clients[client].connection, redirect: redirect), at: latency())
        }
    }

    private func received(_ node: Int, _ answer: StoreAnswer) {
        switch answer {
        case .renewed(let held, let lapsed, let statuses, let asked):
            for effect in nodes[node].keeper.renewed(held, asked: asked) {
                if case .giveUp(let room, _) = effect { giveUp(node, room) }
            }
            for room in nodes[node].keeper.roomsToTakeOver(lapsed, nodes: statuses)
            where nodes[node].joining[room] == nil {
                nodes[node].joining[room] = []
                request(node, .claim(room: room))
            }
        case .placed(let room, let lease, let statuses):
            switch nodes[node].keeper.placement(of: room, lease: lease, nodes: statuses) {
            case .claim:
                request(node, .claim(room: room))
            case .redirect(let name):
                answerJoins(node, room, redirect: nodes.firstIndex { $0.name == name })
            case .unavailable:
                answerJoins(node, room, redirect: nil)
            }
        case .claimed(let room, let epoch, let previous):
            guard let epoch else {
                let holder = store.leases[room].flatMap { lease in nodes.firstIndex { $0.name == lease.node } }
                answerJoins(node, room, redirect: holder)
                return
            }
            if previous != nil && previous != nodes[node].name { report.takeovers += 1 }
            nodes[node].keeper.loaded(room, epoch: epoch)
            let joining = nodes[node].joining.removeValue(forKey: room) ?? []
            nodes[node].rooms[room] = (epoch, joining)
            for client in joining.sorted() {
                schedule(.accepted(client: client, connection: clients[client].connection), at: latency())
            }
        case .appended(let room, let client, let connection, let seqs, let stored):
            if stored {
                schedule(.ack(client: client, connection: connection, seqs: seqs), at: latency())
            } else {
                // Refused by epoch (or a gap after a lost write): the room
                // is not this node's to write any more.
                for effect in nodes[node].keeper.fenced(room) {
                    if case .giveUp(let lost, _) = effect { giveUp(node, lost) }
                }
                if nodes[node].rooms[room] == nil {
                    schedule(.closed(client: client, connection: connection, redirect: nil), at: latency())
                }
            }
        case .announced(let asked):
            nodes[node].keeper.announced(now: asked)
        case .done:
            return
        }
    }

    private func timedOut(_ node: Int, _ operation: StoreOperation) {
        switch operation {
        case .renew:
            nodes[node].keeper.renewalFailed(now: now)
        case .place(let room), .claim(let room):
            answerJoins(node, room, redirect: nil)
        case .append(_, let client, let connection, _, _):
            // Not acknowledged: the client keeps the batch and sends it again.
            schedule(.closed(client: client, connection: connection, redirect: nil), at: latency())
        case .announce, .release:
            return
        }
    }

    // MARK: The store, over a network

    private func request(_ node: Int, _ operation: StoreOperation) {
        let incarnation = nodes[node].incarnation
        if nodes[node].partitioned {
            schedule(.storeTimeout(node: node, incarnation: incarnation, operation), at: now + Self.storeTimeout)
            return
        }
        let arrival = max(latency(), nodes[node].lastRequestArrival + 1)
        nodes[node].lastRequestArrival = arrival
        schedule(.storeRequest(node: node, incarnation: incarnation, operation, sent: now), at: arrival)
    }

    private func answer(_ node: Int, _ incarnation: Int, _ operation: StoreOperation, sent: UInt64) {
        let name = nodes[node].name
        let result: StoreAnswer
        switch operation {
        case .announce:
            store.nodes[name] = NodeRecord(
                incarnation: incarnation, aliveUntil: now + Self.leaseDuration, draining: false)
            result = .announced(asked: sent)
        case .renew:
            let held = store.renew(node: name, incarnation: incarnation, now: now)
            let lapsed = store.leases.filter { $0.value.expiresAt <= now && $0.value.node != name }.keys.sorted()
            result = .renewed(held: held, lapsed: lapsed, nodes: store.statuses(now: now), asked: sent)
        case .place(let room):
            result = .placed(room: room, lease: store.lease(of: room, now: now), nodes: store.statuses(now: now))
        case .claim(let room):
            let previous = store.leases[room]?.node
            result = .claimed(
                room: room, epoch: store.claim(room, node: name, incarnation: incarnation, now: now), previous: previous
            )
        case .append(let room, let client, let connection, let seqs, let epoch):
            let stored = store.append(
                room, origin: clients[client].peer, seqs: seqs, epoch: epoch, node: name, incarnation: incarnation)
            result = .appended(room: room, client: client, connection: connection, seqs: seqs, stored: stored)
        case .release(let room):
            if store.leases[room]?.incarnation == incarnation && store.leases[room]?.node == name {
                store.leases[room]?.expiresAt = now
            }
            result = .done
        }
        // The answer is lost if the node lost the store meanwhile.
        if nodes[node].partitioned {
            schedule(.storeTimeout(node: node, incarnation: incarnation, operation), at: now + Self.storeTimeout)
        } else {
            schedule(.storeAnswer(node: node, incarnation: incarnation, result, sent: sent), at: latency())
        }
    }

    // MARK: Clients

    private func send(_ client: Int, _ seqs: [UInt64]) {
        let arrival = max(latency(), clients[client].lastSendArrival + 1)
        clients[client].lastSendArrival = arrival
        schedule(
            .updates(
                client: client, connection: clients[client].connection, node: clients[client].node, seqs: seqs),
            at: arrival)
    }

    /// The client's link ended: to a redirect's node at once (a few in a
    /// row), else to the next node after a backoff.
    private func reconnect(_ client: Int, redirect: Int?) {
        clients[client].live = false
        clients[client].connection += 1
        var delay = UInt64.random(in: 50...300, using: &random)
        if let redirect, clients[client].redirectsInARow < 4 {
            clients[client].redirectsInARow += 1
            clients[client].node = redirect
            report.redirects += 1
            delay = 1
        } else if let redirect {
            clients[client].node = redirect
        } else {
            clients[client].node = (clients[client].node + 1) % nodes.count
        }
        schedule(
            .connect(client: client, connection: clients[client].connection, node: clients[client].node),
            at: now + delay)
    }

    // MARK: Faults

    private func fault(start: Bool) {
        let fault = report.fault
        if start {
            // The node of the first room's lease, so that the fault hits a busy room.
            let holder = store.leases[rooms[0]]?.node
            victim = holder.flatMap { name in nodes.firstIndex { $0.name == name } } ?? 0
            switch fault {
            case .crash:
                nodes[victim].state = .crashed
                for room in nodes[victim].rooms.keys.sorted() {
                    for client in (nodes[victim].rooms[room]?.sessions ?? []).sorted() {
                        schedule(
                            .closed(client: client, connection: clients[client].connection, redirect: nil),
                            at: latency())
                    }
                }
                nodes[victim].rooms = [:]
                nodes[victim].joining = [:]
            case .pause:
                nodes[victim].state = .paused
            case .partition:
                nodes[victim].partitioned = true
            }
            schedule(
                .fault(start: false), at: now + Self.leaseDuration * 2 + UInt64.random(in: 0...600, using: &random))
            return
        }
        switch fault {
        case .crash:
            // A new process: a new incarnation with nothing loaded.
            let incarnation = nodes[victim].incarnation + 1
            nodes[victim] = Node(name: nodes[victim].name)
            nodes[victim].incarnation = incarnation
            request(victim, .announce)
        case .pause:
            pausedWithWritesQueued = nodes[victim].inbox.contains {
                if case .updates = $0 { return true }
                return false
            }
            nodes[victim].state = .up
            let inbox = nodes[victim].inbox
            nodes[victim].inbox = []
            for kind in inbox { nodeHandles(victim, kind) }
        case .partition:
            nodes[victim].partitioned = false
        }
    }

    // MARK: Checks

    private func check() {
        report.fencedAppends = store.fencedAppends
        if !everythingAcknowledged {
            let missing = clients.map { Int($0.recorded) - $0.acknowledged.count }.reduce(0, +)
            report.failures.append("\(missing) updates were never acknowledged by \(now) ms")
        }
        for client in clients {
            let stored = store.log[client.room]?[client.peer] ?? []
            if !client.acknowledged.isSubset(of: Set(stored)) {
                report.failures.append(
                    "\(client.peer) in \(client.room): acknowledged updates missing from the store: "
                        + "\(client.acknowledged.subtracting(stored).sorted())")
            }
            if everythingAcknowledged && stored != (0..<client.recorded).map({ $0 + 1 }) {
                report.failures.append(
                    "\(client.peer) in \(client.room): the store holds \(stored.count) updates for \(client.recorded) recorded"
                )
            }
        }
        report.failures += store.writesByOthers.prefix(3)
        for (room, epochs) in store.writers.sorted(by: { $0.key < $1.key }) {
            for (epoch, writer) in epochs where writer == "CONFLICT" {
                report.failures.append("room \(room): two nodes wrote at epoch \(epoch)")
            }
        }
        if report.fault == .pause && pausedWithWritesQueued && store.fencedAppends == 0 {
            report.failures.append("the paused node resumed with writes queued, and none was refused by epoch")
        }
    }
}
