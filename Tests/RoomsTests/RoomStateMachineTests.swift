import NetworkSimulator
import Rooms
import Scuttlebutt
import Testing

/// A room driven by hand: every effect is recorded, appends complete only
/// when a test says so.
struct RoomBench {
    typealias Machine = RoomStateMachine<RegisterReducer>
    typealias Message = GossipMessage<RegisterReducer.Action>

    var room: Machine
    var now: UInt64 = 1_764_316_800_000
    /// Everything written to each session, in order.
    var written: [SessionID: [Message]] = [:]
    /// Why each finished session ended.
    var finished: [SessionID: CloseReason] = [:]
    /// Appends asked for and not yet completed or failed, in order.
    var appends: [(id: AppendID, updates: [Update<RegisterReducer.Action>])] = []
    var frontiers: [Timestamp] = []
    var checkpoints: [RoomCheckpoint] = []

    init(configure: (inout RoomConfiguration<RegisterReducer>) -> Void = { _ in }) {
        var replica = ReplicaConfiguration()
        replica.historyLimit = .frontier
        var configuration = RoomConfiguration<RegisterReducer>(
            name: "room", replica: replica, encodeState: { $0.encoded() })
        configuration.frontierGrace = 100
        configure(&configuration)
        room = Machine(
            configuration: configuration, reducer: RegisterReducer(), initialState: RegisterReducer.State(),
            checkpoint: nil, updates: [], frontier: .zero, now: now)
    }

    mutating func take(_ effects: [Machine.Effect]) {
        for effect in effects {
            switch effect {
            case .append(let id, let updates): appends.append((id, updates))
            case .write(let session, let messages): written[session, default: []] += messages
            case .finish(let session, let reason): finished[session] = reason
            case .saveCheckpoint(let checkpoint): checkpoints.append(checkpoint)
            case .saveFrontier(let frontier): frontiers.append(frontier)
            }
        }
    }

    mutating func flush() { take(room.flush()) }

    /// Completes the oldest append.
    mutating func completeAppend() {
        let append = appends.removeFirst()
        take(room.appendCompleted(append.id, now: now))
        flush()
    }

    func updatesWritten(to session: SessionID) -> [UpdateID] {
        (written[session] ?? []).flatMap { message -> [UpdateID] in
            if case .updates(let batch) = message { batch.map(\.id) } else { [] }
        }
    }

    func acks(to session: SessionID) -> Int {
        (written[session] ?? []).filter { if case .ack(let batches, _) = $0 { batches > 0 } else { false } }.count
    }
}

/// A client: its own replica and session, talking to a ``RoomBench``.
final class BenchPeer {
    let store: ReplicatedStore<RegisterReducer>
    var session: GossipSession<RegisterReducer>
    var id = SessionID(rawValue: 0)
    let clock = ManualClock(milliseconds: 1_764_316_800_000)
    /// How many messages of the room's writes this peer has read.
    var read = 0

    init(_ peer: UInt64, role: PeerRole = .editor, credentials: String? = nil) {
        var replica = ReplicaConfiguration()
        replica.historyLimit = .frontier
        store = ReplicatedStore(
            peer: PeerID(peer), reducer: RegisterReducer(), initialState: RegisterReducer.State(),
            configuration: replica, wallClock: clock)
        var configuration = GossipSessionConfiguration(name: "peer\(peer)", room: "room", role: role)
        configuration.credentials = credentials
        configuration.remoteIsAuthority = true
        session = GossipSession(configuration: configuration)
    }

    /// Joins the room: our hello in, the room's answer back.
    func join(_ bench: inout RoomBench) {
        let outputs = session.start(store: store, now: bench.now)
        guard case .hello(let hello)? = outputs.compactMap(\.message).first else {
            Issue.record("the session did not start with a hello")
            return
        }
        let (id, effects) = bench.room.join(hello, now: bench.now)
        self.id = id
        bench.take(effects)
        bench.flush()
        exchange(&bench)
    }

    /// Reads what the room wrote and answers, until neither side has more.
    func exchange(_ bench: inout RoomBench) {
        var rounds = 0
        while rounds < 100 {
            rounds += 1
            let pending = Array((bench.written[id] ?? []).dropFirst(read))
            guard !pending.isEmpty else { return }
            read += pending.count
            for message in pending {
                clock.set(milliseconds: bench.now)
                let outputs = session.handle(message, store: store, now: bench.now)
                send(outputs.compactMap(\.message), to: &bench)
            }
            bench.flush()
        }
    }

    func send(_ messages: [GossipMessage<RegisterReducer.Action>], to bench: inout RoomBench) {
        for message in messages where bench.room.isOpen(id) {
            bench.take(bench.room.receive(message, from: id, now: bench.now))
        }
    }

    /// Time passed: the session reports its clock, pings, and so on.
    func tick(_ bench: inout RoomBench) {
        clock.set(milliseconds: bench.now)
        send(session.tick(store: store, now: bench.now).compactMap(\.message), to: &bench)
        bench.flush()
        exchange(&bench)
    }

    /// Records `count` actions and sends them as the session batches them.
    func record(_ count: Int, to bench: inout RoomBench) throws {
        clock.set(milliseconds: bench.now)
        for index in 0..<count { _ = try store.record(.set(register: UInt8(index % 8), value: UInt64(index))) }
        send(session.pump(store: store).compactMap(\.message), to: &bench)
        bench.flush()
    }
}

@Suite struct RoomStateMachineTests {
    @Test func anUpdateIsAcknowledgedAndRelayedOnlyOnceItsAppendCompletes() throws {
        var bench = RoomBench()
        let (writer, reader) = (BenchPeer(1), BenchPeer(2))
        writer.join(&bench)
        reader.join(&bench)
        try writer.record(3, to: &bench)
        #expect(bench.appends.count == 1)
        #expect(bench.appends.first?.updates.count == 3)
        #expect(bench.acks(to: writer.id) == 0)
        #expect(bench.updatesWritten(to: reader.id).isEmpty)
        #expect(bench.room.store.digest[writer.store.peer] == 0, "nothing enters the replica before it is durable")
        bench.completeAppend()
        #expect(bench.acks(to: writer.id) == 1)
        #expect(bench.updatesWritten(to: reader.id).map(\.seq) == [1, 2, 3])
        #expect(bench.updatesWritten(to: writer.id).isEmpty, "never echoed to its author")
        reader.exchange(&bench)
        #expect(reader.store.state == writer.store.state)
    }

    @Test func aFailedAppendLeavesNoTraceAndEndsOnlyItsSession() throws {
        var bench = RoomBench()
        let (writer, reader) = (BenchPeer(1), BenchPeer(2))
        writer.join(&bench)
        reader.join(&bench)
        try writer.record(2, to: &bench)
        let append = bench.appends.removeFirst()
        bench.take(bench.room.appendFailed(append.id, reason: "disk full", now: bench.now))
        bench.flush()
        #expect(bench.finished[writer.id] == .storageUnavailable("disk full"))
        guard case .goodbye(.storageUnavailable)? = bench.written[writer.id]?.last else {
            Issue.record("the writer was not told why: \(bench.written[writer.id] ?? [])")
            return
        }
        #expect(bench.room.store.digest[writer.store.peer] == 0)
        #expect(bench.updatesWritten(to: reader.id).isEmpty)
        #expect(bench.room.isOpen(reader.id))
        #expect(bench.finished[reader.id] == nil)
    }

    @Test func whatArrivesWhileABatchIsStoredWaitsForItInOrder() throws {
        var bench = RoomBench()
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(1, to: &bench)
        // The peer's window lets a second batch out before the first is acknowledged.
        try writer.record(1, to: &bench)
        #expect(bench.appends.count == 1, "one batch at a time per session")
        bench.completeAppend()
        #expect(bench.appends.count == 1, "the held batch is handled once the first is durable")
        #expect(bench.appends.first?.updates.map(\.seq) == [2])
        bench.completeAppend()
        #expect(bench.acks(to: writer.id) == 2)
        #expect(bench.room.store.digest[writer.store.peer] == 2)
    }

    @Test func aPeerIgnoringItsWindowIsCutOffOnceTooMuchIsHeld() throws {
        var bench = RoomBench { $0.maxHeldMessages = 4 }
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(1, to: &bench)
        for nonce in 0..<5 { writer.send([.ping(UInt64(nonce))], to: &bench) }
        #expect(bench.finished[writer.id] == .limitExceeded("more than 4 messages while a batch is stored"))
    }

    @Test func theFrontierNeverPassesABatchOnItsWayToDisk() throws {
        var bench = RoomBench()
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(1, to: &bench)
        let earliest = try #require(bench.appends.first?.updates.first?.timestamp)
        writer.session.connectionLost()
        bench.take(bench.room.disconnected(writer.id))
        bench.now += 60_000
        bench.take(bench.room.tick(now: bench.now))
        #expect(bench.room.store.frontier < earliest)
        // Stored after its connection went, it still enters the room.
        bench.completeAppend()
        #expect(bench.room.store.digest[writer.store.peer] == 1)
        bench.now += 1_000
        bench.take(bench.room.tick(now: bench.now))
        #expect(bench.room.store.frontier > earliest)
        #expect(bench.frontiers.last == bench.room.store.frontier, "the frontier is saved as it moves")
    }

    @Test func accessRulesAndRolesAreTheRoomsToDecide() throws {
        var bench = RoomBench { $0.access = RoomAccess(editor: "pen", viewer: "eye") }
        let stranger = BenchPeer(1)
        stranger.join(&bench)
        #expect(bench.finished[stranger.id] == .unauthorized("room \"room\" needs an editor token"))
        guard case .goodbye? = bench.written[stranger.id]?.first else {
            Issue.record("a refusal starts with a goodbye, not our hello")
            return
        }
        let server = BenchPeer(2, role: .server, credentials: "pen")
        server.join(&bench)
        #expect(bench.finished[server.id] == .unauthorized("peers may not join as a server"))
        let viewer = BenchPeer(3, role: .viewer, credentials: "eye")
        viewer.join(&bench)
        #expect(bench.room.isOpen(viewer.id))
        viewer.send(
            [
                .updates([
                    Update(
                        origin: viewer.store.peer, seq: 1, timestamp: Timestamp(milliseconds: bench.now, counter: 0),
                        action: .clear)
                ])
            ], to: &bench)
        #expect(bench.finished[viewer.id] == .unauthorized("this link does not accept updates"))
        #expect(bench.appends.isEmpty)
    }

    @Test func aSessionOverItsRateIsCutOff() throws {
        var bench = RoomBench { $0.maxUpdatesPerSecond = 5 }
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(11, to: &bench)
        #expect(bench.finished[writer.id] == .limitExceeded("more than 5 updates per second"))
    }

    /// A flood of tiny messages (pings here) is cut off at the message
    /// rate, after at most the burst, and the rest of it is not handled;
    /// the same number spread over time is not.
    @Test func aFloodOfMessagesIsCutOffAtTheMessageRate() throws {
        var bench = RoomBench { $0.maxMessagesPerSecond = 100 }
        let (flooder, steady) = (BenchPeer(1), BenchPeer(2))
        flooder.join(&bench)
        steady.join(&bench)
        var handled = 0
        for nonce in 0..<1_000 where bench.finished[flooder.id] == nil {
            bench.take(bench.room.receive(.ping(UInt64(nonce)), from: flooder.id, now: bench.now))
            handled += 1
        }
        #expect(bench.finished[flooder.id] == .limitExceeded("more than 100 messages per second"))
        #expect(handled <= 201, "at most the burst (twice the rate) is taken: \(handled)")
        for nonce in 0..<1_000 {
            bench.now += 20
            bench.take(bench.room.receive(.ping(UInt64(nonce)), from: steady.id, now: bench.now))
        }
        #expect(bench.finished[steady.id] == nil, "50 messages a second is within the rate")
        // Unset, the message rate follows the update rate.
        var configuration = RoomConfiguration<RegisterReducer>(
            name: "room", replica: ReplicaConfiguration(), encodeState: { $0.encoded() })
        #expect(configuration.messagesPerSecond == 10_000)
        configuration.maxUpdatesPerSecond = 100_000
        #expect(configuration.messagesPerSecond == 400_000)
    }

    @Test func aReaderThatCannotKeepUpIsCutOffAndTheOthersCarryOn() throws {
        var bench = RoomBench()
        let (writer, slow) = (BenchPeer(1), BenchPeer(2))
        writer.join(&bench)
        slow.join(&bench)
        bench.take(bench.room.writeRefused(slow.id))
        #expect(bench.finished[slow.id] == .slowConsumer)
        let before = bench.written[slow.id]?.count ?? 0
        try writer.record(2, to: &bench)
        bench.completeAppend()
        #expect(bench.written[slow.id]?.count ?? 0 == before)
        #expect(bench.acks(to: writer.id) == 1)
    }

    @Test func aLateJoinerReceivesTheFoldedBaseAsASnapshotThenTheRest() throws {
        var bench = RoomBench()
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(8, to: &bench)
        bench.completeAppend()
        writer.exchange(&bench)
        bench.now += 5_000
        writer.tick(&bench)
        bench.take(bench.room.tick(now: bench.now))
        bench.flush()
        writer.exchange(&bench)
        #expect(bench.room.store.timeline.horizon != nil, "the room folded what everyone holds")
        #expect(bench.room.store.dump().count < 8, "and keeps only what lies above its horizon")
        let late = BenchPeer(2)
        late.join(&bench)
        let snapshots = (bench.written[late.id] ?? []).filter { if case .snapshot = $0 { true } else { false } }
        #expect(snapshots.count == 1)
        #expect(bench.room.statistics.snapshotsSent == 1)
    }

    @Test func aCheckpointWaitsForAppendsAndIsTakenOncePerFold() throws {
        var bench = RoomBench { $0.checkpointInterval = 1 }
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(4, to: &bench)
        bench.completeAppend()
        writer.exchange(&bench)
        try writer.record(1, to: &bench)
        bench.now += 5_000
        writer.tick(&bench)
        bench.take(bench.room.tick(now: bench.now))
        #expect(bench.checkpoints.isEmpty, "no checkpoint while an append is on its way")
        #expect(bench.room.checkpoint() == nil)
        bench.completeAppend()
        bench.now += 5_000
        writer.tick(&bench)
        bench.take(bench.room.tick(now: bench.now))
        let checkpoint = try #require(bench.checkpoints.first)
        #expect(bench.room.checkpoint() == nil, "one save at a time")
        bench.room.checkpointSaved(checkpoint)
        #expect(try RegisterReducer.State(decoding: checkpoint.state).registers.isEmpty == false)
        #expect(bench.room.checkpoint() == nil, "nothing new folded")
    }

    @Test func aRestartedRoomHoldsItsCheckpointAndTheSuffix() throws {
        var bench = RoomBench { $0.checkpointInterval = 1 }
        let writer = BenchPeer(1)
        writer.join(&bench)
        try writer.record(6, to: &bench)
        let stored = bench.appends.first!.updates
        bench.completeAppend()
        writer.exchange(&bench)
        bench.now += 5_000
        writer.tick(&bench)
        bench.take(bench.room.tick(now: bench.now))
        let checkpoint = try #require(bench.checkpoints.first)
        let suffix = stored.filter { !checkpoint.digest.contains($0.id) }
        let restarted = RoomStateMachine<RegisterReducer>(
            configuration: bench.room.configuration, reducer: RegisterReducer(), initialState: RegisterReducer.State(),
            checkpoint: ReplicaSnapshot(
                state: try RegisterReducer.State(decoding: checkpoint.state), horizon: checkpoint.horizon,
                digest: checkpoint.digest),
            updates: suffix, frontier: bench.frontiers.last ?? .zero, now: bench.now)
        #expect(restarted.store.state == bench.room.store.state)
        #expect(restarted.store.digest == bench.room.store.digest)
        #expect(restarted.loadGaps.isEmpty)
    }

    @Test func aGapInTheLoadedLogIsReportedAndWhatFollowsItHeldBack() throws {
        let origin = PeerID(7)
        let updates = [1, 2, 4, 5].map {
            Update<RegisterReducer.Action>(
                origin: origin, seq: UInt64($0), timestamp: Timestamp(milliseconds: 1_000 + UInt64($0), counter: 0),
                action: .set(register: 1, value: UInt64($0)))
        }
        let room = RoomStateMachine<RegisterReducer>(
            configuration: RoomConfiguration(
                name: "holey", replica: ReplicaConfiguration(), encodeState: { $0.encoded() }),
            reducer: RegisterReducer(), initialState: RegisterReducer.State(), checkpoint: nil, updates: updates,
            frontier: .zero, now: 2_000)
        let gap = try #require(room.loadGaps[origin])
        #expect([gap.expected, gap.received, UInt64(gap.skipped)] == [3, 4, 2])
        #expect(room.store.digest[origin] == 2)
    }
}
