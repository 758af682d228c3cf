import NetworkSimulator
import Testing

@testable import Scuttlebutt

@Suite struct GossipSessionTests {
    typealias Action = RegisterReducer.Action
    typealias Session = GossipSession<RegisterReducer>
    typealias Store = ReplicatedStore<RegisterReducer>

    let clock = ManualClock(milliseconds: 1_764_316_800_000)
    var now: UInt64 { clock.milliseconds() }

    func makeStore(_ peer: UInt64, authority: Bool = false) -> Store {
        var configuration = ReplicaConfiguration()
        configuration.isAuthority = authority
        return Store(
            peer: PeerID(peer), reducer: RegisterReducer(), initialState: .init(), configuration: configuration,
            wallClock: clock)
    }

    func makeSession(
        role: PeerRole = .editor, _ configure: (inout GossipSessionConfiguration) -> Void = { _ in }
    ) -> Session {
        var configuration = GossipSessionConfiguration(name: "test", room: "room", role: role)
        configure(&configuration)
        return Session(configuration: configuration)
    }

    func hello(from peer: UInt64, digest: Digest = Digest(), version: UInt16 = 1, room: String = "room") -> Hello {
        Hello(
            protocolVersion: version, peer: PeerID(peer), name: "remote", room: room, role: .editor,
            credentials: nil, digest: digest, clock: .zero)
    }

    /// A session that has exchanged hellos with peer `remote`.
    func openSession(
        on store: Store, remote: UInt64 = 2, role: PeerRole = .editor,
        _ configure: (inout GossipSessionConfiguration) -> Void = { _ in }
    ) -> Session {
        var session = makeSession(role: role, configure)
        _ = session.start(store: store, now: now)
        _ = session.handle(.hello(hello(from: remote)), store: store, now: now)
        return session
    }

    /// An update of `origin` stamped now.
    func update(from origin: UInt64, seq: UInt64 = 1, _ action: Action = .set(register: 0, value: 1)) -> Update<Action>
    {
        Update(origin: PeerID(origin), seq: seq, timestamp: Timestamp(milliseconds: now, counter: 0), action: action)
    }

    func sentMessages(_ outputs: [Session.Output]) -> [GossipMessage<Action>] {
        outputs.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    func batches(_ outputs: [Session.Output]) -> [[Update<Action>]] {
        sentMessages(outputs).compactMap { if case .updates(let batch) = $0 { batch } else { nil } }
    }

    func closeReason(_ outputs: [Session.Output]) -> CloseReason? {
        outputs.lazy.compactMap { if case .close(let reason) = $0 { reason } else { nil } }.first
    }

    @Test func startSendsHelloWithTheDigest() throws {
        let store = makeStore(1)
        try store.record(.set(register: 0, value: 1))
        var session = makeSession { $0.credentials = "secret" }
        let messages = sentMessages(session.start(store: store, now: now))
        guard case .hello(let hello) = messages.first, messages.count == 1 else {
            Issue.record("expected one hello, got \(messages)")
            return
        }
        #expect(hello.peer == PeerID(1) && hello.room == "room" && hello.credentials == "secret")
        #expect(hello.digest == store.digest)
        #expect(session.phase == .awaitingHello)
    }

    @Test func anythingBeforeHelloIsAProtocolViolation() {
        let store = makeStore(1)
        var session = makeSession()
        _ = session.start(store: store, now: now)
        let outputs = session.handle(.synced, store: store, now: now)
        #expect(closeReason(outputs) == .protocolViolation("expected hello first"))
        #expect(sentMessages(outputs).contains { if case .goodbye = $0 { true } else { false } })
    }

    @Test func aGoodbyeInsteadOfHelloEndsTheSessionWithTheRemotesReason() {
        let store = makeStore(1)
        var session = makeSession()
        _ = session.start(store: store, now: now)
        let reason = CloseReason.unauthorized("room \"design\" needs an editor token")
        let outputs = session.handle(.goodbye(reason), store: store, now: now)
        #expect(closeReason(outputs) == reason, "the server's own words, not a protocol violation")
        #expect(sentMessages(outputs).isEmpty, "nothing is said back to a peer that hung up")
        #expect(session.phase == .closed(reason))
    }

    @Test func aDifferentProtocolVersionIsRefused() {
        let store = makeStore(1)
        var session = makeSession()
        _ = session.start(store: store, now: now)
        let outputs = session.handle(.hello(hello(from: 2, version: 9)), store: store, now: now)
        #expect(closeReason(outputs) == .versionMismatch(local: 1, remote: 9))
    }

    @Test func deltasGoScuttleDepthFirstInBoundedBatchesWithinTheWindow() throws {
        let store = makeStore(1)
        // Origin 1 has 6 updates; origin 3 has 2; the remote holds 1 of origin 1's.
        for index in 0..<6 { try store.record(.set(register: 0, value: UInt64(index))) }
        let other = PeerID(3)
        for seq in UInt64(1)...2 {
            _ = store.receive(
                Update(origin: other, seq: seq, timestamp: Timestamp(seq), action: .set(register: 1, value: seq)))
        }
        var session = makeSession {
            $0.maxBatchUpdates = 2
            $0.window = 2
        }
        _ = session.start(store: store, now: now)
        let outputs = session.handle(.hello(hello(from: 2, digest: Digest([PeerID(1): 1]))), store: store, now: now)
        let sent = batches(outputs)
        // Origin 1 lags by 5, origin 3 by 2: origin 1 first. Window of 2.
        #expect(
            sent.map { $0.map(\.id) } == [
                [UpdateID(origin: PeerID(1), seq: 2), UpdateID(origin: PeerID(1), seq: 3)],
                [UpdateID(origin: PeerID(1), seq: 4), UpdateID(origin: PeerID(1), seq: 5)],
            ])
        #expect(session.unacknowledgedBatches == 2)
        #expect(!session.hasSentSynced)
        // One ack opens the window by one: origin 3 now lags more (2 vs 1).
        let next = session.handle(.ack(batches: 1, clock: .zero), store: store, now: now)
        #expect(
            batches(next).map { $0.map(\.id) } == [
                [UpdateID(origin: other, seq: 1), UpdateID(origin: other, seq: 2)]
            ])
        let last = session.handle(.ack(batches: 1, clock: .zero), store: store, now: now)
        #expect(batches(last).map { $0.map(\.seq) } == [[6]])
        #expect(sentMessages(last).last.map { if case .synced = $0 { true } else { false } } == true)
        #expect(session.hasSentSynced)
    }

    @Test func aBatchRespectsTheByteBudget() throws {
        let store = makeStore(1)
        for index in 0..<10 { try store.record(.set(register: 0, value: UInt64(index))) }
        var configuration = GossipSessionConfiguration(name: "t", room: "room", role: .editor)
        configuration.maxBatchBytes = 100
        configuration.window = 1
        var session = Session(configuration: configuration, estimatedSize: { _ in 30 })
        _ = session.start(store: store, now: now)
        let outputs = session.handle(.hello(hello(from: 2)), store: store, now: now)
        #expect(batches(outputs).map(\.count) == [3])
    }

    @Test func receivedUpdatesAreAppliedAckedAndNeverEchoed() throws {
        let store = makeStore(1)
        var session = openSession(on: store)
        let update = update(from: 2, .set(register: 4, value: 4))
        let outputs = session.handle(.updates([update]), store: store, now: now)
        guard case .applied(let applied) = outputs.first else {
            Issue.record("expected applied first, got \(outputs)")
            return
        }
        #expect(applied == [update])
        #expect(sentMessages(outputs).contains { if case .ack(1, _) = $0 { true } else { false } })
        #expect(store.state.registers[4] == 4)
        // Nothing to send back: the remote digest advanced on receive.
        #expect(batches(session.pump(from: store, store: store)).isEmpty)
        #expect(session.remoteDigest[PeerID(2)] == 1)
    }

    @Test func aBoundSessionRefusesAnotherOriginsUpdateOnceByNameAndStaysOpen() {
        let server = makeStore(100, authority: true)
        // Bound by default: a server written from the docs is secure.
        var session = openSession(on: server, role: .server)
        #expect(!GossipSessionConfiguration(name: "c", room: "r", role: .editor).bindsRemoteOrigin)
        let first = session.handle(.updates([update(from: 3), update(from: 2)]), store: server, now: now)
        #expect(closeReason(first) == nil)
        let refusals = sentMessages(first).filter { if case .reject = $0 { true } else { false } }
        #expect(refusals == [.reject(.notAuthor(UpdateID(origin: PeerID(3), seq: 1)))])
        #expect(server.digest[PeerID(3)] == 0)
        // The remote's own update in the same batch is taken.
        #expect(server.digest[PeerID(2)] == 1)
        // Offered again, it is dropped without another word: no loop.
        let again = session.handle(.updates([update(from: 3, seq: 2)]), store: server, now: now)
        #expect(closeReason(again) == nil)
        #expect(!sentMessages(again).contains { if case .reject = $0 { true } else { false } })
        #expect(server.digest[PeerID(3)] == 0)
    }

    @Test func aClientStopsOfferingAnOriginTheAuthorityWillNotTakeFromIt() throws {
        let client = makeStore(1)
        _ = client.receive(update(from: 3))
        var session = makeSession { $0.remoteIsAuthority = true }
        _ = session.start(store: client, now: now)
        let opened = session.handle(.hello(hello(from: 2)), store: client, now: now)
        #expect(batches(opened).flatMap { $0 }.map(\.origin) == [PeerID(3)])
        _ = session.handle(.ack(batches: 1, clock: .zero), store: client, now: now)
        _ = session.handle(.reject(.notAuthor(UpdateID(origin: PeerID(3), seq: 1))), store: client, now: now)
        _ = client.receive(update(from: 3, seq: 2))
        try client.record(.set(register: 1, value: 1))
        let next = batches(session.pump(from: client, store: client)).flatMap { $0 }
        #expect(next.map(\.origin) == [PeerID(1)])
        #expect(session.phase == .open)
    }

    @Test func aPersistingSessionAppliesAndAcksOnlyOnceTheBatchIsDurable() {
        let server = makeStore(100, authority: true)
        var session = openSession(on: server, role: .server) {
            $0.bindsRemoteOrigin = true
            $0.persistsBeforeApplying = true
        }
        let second = Update<Action>(
            origin: PeerID(2), seq: 2, timestamp: Timestamp(milliseconds: now, counter: 1),
            action: .set(register: 1, value: 2))
        let batch = [update(from: 2), second]
        let outputs = session.handle(.updates(batch), store: server, now: now)
        guard case .persist(let toStore) = outputs.last else {
            Issue.record("expected persist, got \(outputs)")
            return
        }
        #expect(toStore == batch)
        #expect(!sentMessages(outputs).contains { if case .ack = $0 { true } else { false } })
        #expect(server.digest[PeerID(2)] == 0)
        let done = session.persisted(store: server, source: server)
        guard case .applied(let applied) = done.first else {
            Issue.record("expected applied, got \(done)")
            return
        }
        #expect(applied == batch)
        #expect(sentMessages(done).contains { if case .ack(1, _) = $0 { true } else { false } })
        #expect(server.digest[PeerID(2)] == 2)
    }

    @Test func aBatchThatCouldNotBeStoredLeavesNoTraceAndClosesByName() {
        let server = makeStore(100, authority: true)
        var session = openSession(on: server, role: .server) {
            $0.bindsRemoteOrigin = true
            $0.persistsBeforeApplying = true
        }
        _ = session.handle(.updates([update(from: 2)]), store: server, now: now)
        let outputs = session.persistenceFailed("database or disk is full")
        #expect(closeReason(outputs) == .storageUnavailable("database or disk is full"))
        #expect(!sentMessages(outputs).contains { if case .ack = $0 { true } else { false } })
        #expect(server.digest[PeerID(2)] == 0)
        #expect(server.state.registers.isEmpty)
    }

    @Test func aPersistingSessionStoresNothingOfABatchThatStopsShort() {
        let server = makeStore(100, authority: true)
        var session = openSession(on: server, role: .server) {
            $0.bindsRemoteOrigin = true
            $0.persistsBeforeApplying = true
        }
        // The second update leaves a gap: the batch is refused and nothing of it is handed out to store.
        let outputs = session.handle(.updates([update(from: 2), update(from: 2, seq: 3)]), store: server, now: now)
        #expect(!outputs.contains { if case .persist = $0 { true } else { false } })
        #expect(closeReason(outputs) == .updateRejected(.sequenceGap(origin: PeerID(2), expected: 2, received: 3)))
        #expect(server.digest[PeerID(2)] == 0)
    }

    @Test func aViewerLinkRefusesUpdates() {
        let server = makeStore(100, authority: true)
        var session = openSession(on: server, role: .server) { $0.acceptsUpdates = false }
        let outputs = session.handle(.updates([update(from: 2)]), store: server, now: now)
        #expect(closeReason(outputs) == .unauthorized("this link does not accept updates"))
        #expect(server.digest.seqs.isEmpty)
    }

    @Test func anInvalidUpdateIsRejectedWithAReasonAndTheLinkClosed() {
        let store = makeStore(1)
        var session = openSession(on: store)
        let outputs = session.handle(.updates([update(from: 2, seq: 2)]), store: store, now: now)
        let rejection = UpdateRejection.sequenceGap(origin: PeerID(2), expected: 1, received: 2)
        #expect(sentMessages(outputs).contains { if case .reject(rejection) = $0 { true } else { false } })
        #expect(closeReason(outputs) == .updateRejected(rejection))
    }

    @Test func aStaleRefusalFromTheAuthorityRebasesAndResends() throws {
        let client = makeStore(1)
        let first = try client.record(.set(register: 0, value: 1))
        var session = makeSession { $0.remoteIsAuthority = true }
        _ = session.start(store: client, now: now)
        _ = session.handle(.hello(hello(from: 100)), store: client, now: now)
        let frontier = Timestamp(milliseconds: now + 5, counter: 0)
        let stale = UpdateRejection.stale(first.id, timestamp: first.timestamp, frontier: frontier)
        // The authority sends the refusal before it acknowledges the batch.
        let outputs = session.handle(.reject(stale), store: client, now: now)
        guard case .rebased(let rebased) = outputs.first else {
            Issue.record("expected a rebase, got \(outputs)")
            return
        }
        #expect(rebased.map(\.id) == [first.id])
        #expect(rebased[0].timestamp > frontier)
        #expect(batches(outputs).flatMap { $0 } == rebased, "the re-stamped update is resent at once")
        _ = session.handle(.ack(batches: 1, clock: .zero), store: client, now: now)
        #expect(client.confirmedOwnSeq == 0, "the ack of the refused batch confirms nothing")
        _ = session.handle(.ack(batches: 1, clock: .zero), store: client, now: now)
        #expect(client.confirmedOwnSeq == 1, "the ack of the resent batch confirms it")
        // A second refusal of the old stamp is old news.
        #expect(session.handle(.reject(stale), store: client, now: now).isEmpty)
    }

    @Test func aFrontierFromANonAuthorityIsAViolation() {
        let store = makeStore(1)
        var session = makeSession()
        _ = session.start(store: store, now: now)
        _ = session.handle(.hello(hello(from: 2)), store: store, now: now)
        let outputs = session.handle(.frontier(Timestamp(5)), store: store, now: now)
        #expect(closeReason(outputs) != nil)
        #expect(store.frontier == .zero)
    }

    @Test func aFrontierIsAnnouncedOnlyOnceEverythingBelowItWasSent() throws {
        let server = makeStore(100, authority: true)
        let origin = PeerID(7)
        for seq in UInt64(1)...4 {
            _ = server.receive(
                Update(origin: origin, seq: seq, timestamp: Timestamp(seq * 10), action: .set(register: 0, value: seq)))
        }
        var session = makeSession(role: .server) {
            $0.maxBatchUpdates = 1
            $0.window = 1
        }
        _ = session.start(store: server, now: now)
        _ = session.handle(.hello(hello(from: 2)), store: server, now: now)
        // Seq 1 is in flight; seqs 2–4 wait. A frontier above seq 2 must wait.
        let held = session.announce(frontier: Timestamp(25), from: server, store: server)
        #expect(!sentMessages(held).contains { if case .frontier = $0 { true } else { false } })
        // The ack lets seq 2 (stamped 20) go; seq 3 (stamped 30) is next, so
        // everything below 25 has gone out, and the frontier follows it.
        let afterOne = sentMessages(session.handle(.ack(batches: 1, clock: .zero), store: server, now: now))
        let frontierIndex = afterOne.firstIndex { if case .frontier(Timestamp(25)) = $0 { true } else { false } }
        let seqTwoIndex = afterOne.firstIndex {
            if case .updates(let batch) = $0 { batch.first?.seq == 2 } else { false }
        }
        #expect(frontierIndex != nil && seqTwoIndex != nil && seqTwoIndex! < frontierIndex!)
    }

    @Test func presenceIsThrottledLatestWins() {
        let store = makeStore(1)
        var session = makeSession { $0.presenceInterval = 100 }
        _ = session.start(store: store, now: now)
        _ = session.handle(.hello(hello(from: 2)), store: store, now: now)
        let me = PeerID(1)
        #expect(sentMessages(session.send(presence: Presence(origin: me, payload: [1]), now: now)).count == 1)
        #expect(session.send(presence: Presence(origin: me, payload: [2]), now: now + 10).isEmpty)
        #expect(session.send(presence: Presence(origin: me, payload: [3]), now: now + 20).isEmpty)
        #expect(
            session.tick(store: store, now: now + 50).allSatisfy {
                if case .send(.presence) = $0 { false } else { true }
            })
        let flushed = sentMessages(session.tick(store: store, now: now + 100))
        #expect(flushed.contains(.presence(Presence(origin: me, payload: [3]))))
        #expect(!flushed.contains(.presence(Presence(origin: me, payload: [2]))))
    }

    @Test func pingsMeasureRoundTripAndSilenceTimesOut() {
        let store = makeStore(1)
        var session = makeSession {
            $0.pingInterval = 1_000
            $0.livenessTimeout = 5_000
        }
        let start = now
        _ = session.start(store: store, now: start)
        _ = session.handle(.hello(hello(from: 2)), store: store, now: start)
        let pings = sentMessages(session.tick(store: store, now: start + 1_000)).compactMap {
            if case .ping(let nonce) = $0 { nonce } else { nil }
        }
        #expect(pings.count == 1)
        let outputs = session.handle(.pong(pings[0]), store: store, now: start + 1_042)
        #expect(outputs.contains { if case .roundTrip(42) = $0 { true } else { false } })
        #expect(sentMessages(session.handle(.ping(9), store: store, now: start + 1_100)) == [.pong(9)])
        #expect(closeReason(session.tick(store: store, now: start + 6_100)) == .timeout)
        #expect(session.phase == .closed(.timeout))
    }

    @Test func presenceTableExpiresAndForgetsTheDeparted() {
        var table = PresenceTable(timeToLive: 1_000)
        table.update(Presence(origin: PeerID(1), payload: [1]), now: 0)
        table.update(Presence(origin: PeerID(2), payload: [1]), now: 500)
        table.update(Presence(origin: PeerID(1), payload: [2]), now: 600)
        #expect(table.current[PeerID(1)]?.payload == [2])
        table.remove(PeerID(2))
        #expect(table.current[PeerID(2)] == nil)
        #expect(table.expire(now: 1_599).isEmpty)
        #expect(table.expire(now: 1_600) == [PeerID(1)])
        #expect(table.current.isEmpty)
    }

    @Test func aPeerIsNeverSentItsOwnUpdatesUnlessItLostThem() throws {
        // Node 1 holds peer 2's updates 1…3 (relayed by someone else in a mesh).
        let store = makeStore(1)
        for seq in 1...3 as ClosedRange<UInt64> {
            let update = Update<Action>(
                origin: PeerID(2), seq: seq, timestamp: Timestamp(milliseconds: now, counter: UInt16(seq)),
                action: .set(register: 1, value: seq))
            _ = store.receive(update)
        }
        // Peer 2 says hello holding all three: nothing of its own comes back.
        var session = makeSession()
        _ = session.start(store: store, now: now)
        let caughtUp = session.handle(
            .hello(hello(from: 2, digest: Digest([PeerID(2): 3]))), store: store, now: now)
        #expect(batches(caughtUp).isEmpty)
        #expect(sentMessages(caughtUp).contains(.synced))
        // Peer 2 writes #4 and #5; node 1 gets them through a third peer first.
        for seq in 4...5 as ClosedRange<UInt64> {
            _ = store.receive(
                Update(
                    origin: PeerID(2), seq: seq, timestamp: Timestamp(milliseconds: now + 1, counter: UInt16(seq)),
                    action: .set(register: 1, value: seq)))
        }
        #expect(batches(session.pump(from: store, store: store)).isEmpty, "never echoed back to their author")

        // A peer 2 that lost #2 and #3 (its hello says 1) gets exactly those back.
        var recovering = makeSession()
        _ = recovering.start(store: store, now: now)
        let outputs = recovering.handle(
            .hello(hello(from: 2, digest: Digest([PeerID(2): 1]))), store: store, now: now)
        #expect(batches(outputs).flatMap { $0 }.map(\.seq) == [2, 3, 4, 5])
    }

    @Test func aLinkThatSendsNothingNeverHoldsTheClockBack() throws {
        let store = makeStore(1)
        var viewer = makeSession(role: .viewer) {
            $0.sendsUpdates = false
            $0.remoteIsAuthority = true
        }
        _ = viewer.start(store: store, now: now)
        _ = viewer.handle(.hello(hello(from: 2)), store: store, now: now)
        // An own update this link will never send (a viewer's).
        let stuck = try store.record(.set(register: 0, value: 1))
        clock.advance(by: 5_000)
        let reports = sentMessages(viewer.tick(store: store, now: now)).compactMap { message -> Timestamp? in
            if case .ack(0, let clock) = message { clock } else { nil }
        }
        #expect(reports.count == 1)
        #expect(reports.allSatisfy { $0 > stuck.timestamp }, "the report is not held below \(stuck.timestamp)")
    }

    @Test func theLargestTimeoutsNeverOverflow() {
        let store = makeStore(1)
        var session = openSession(on: store) {
            $0.livenessTimeout = .max
            $0.pingInterval = .max
            $0.clockReportInterval = .max
        }
        clock.advance(by: 60_000)
        let outputs = session.tick(store: store, now: now)
        #expect(closeReason(outputs) == nil, "no timeout")
        #expect(sentMessages(outputs).isEmpty, "no ping, no clock report")
        #expect(session.phase == .open)
    }
}
