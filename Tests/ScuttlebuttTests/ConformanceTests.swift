import NetworkSimulator
import Scuttlebutt
import Testing

/// The classic scuttlebutt behaviours, each on its own, over real sessions
/// and stores wired by ``ManualNetwork``.
@Suite struct ConformanceTests {
    typealias Action = RegisterReducer.Action
    typealias Network = ManualNetwork<RegisterReducer>

    func makeNetwork() -> Network {
        Network(reducer: RegisterReducer(), initialState: .init())
    }

    func expectConverged(_ network: Network, _ peers: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
        let reference = RegisterReducer().referenceState(of: network.store(peers[0]).dump())
        for peer in peers {
            #expect(network.store(peer).digest == network.store(peers[0]).digest, sourceLocation: sourceLocation)
            #expect(network.store(peer).state == reference, "peer \(peer)", sourceLocation: sourceLocation)
        }
    }

    @Test func twoPeersConvergeAfterConcurrentOfflineWrites() throws {
        let network = makeNetwork()
        let a = network.addPeer()
        let b = network.addPeer()
        for index in 0..<20 {
            try network.record(.mix(register: 0, value: UInt64(index)), at: a)
            try network.record(.mix(register: 0, value: UInt64(100 + index)), at: b)
            network.clock.advance(by: 3)
        }
        #expect(network.store(a).state != network.store(b).state)
        network.connect(a, b)
        network.settle()
        expectConverged(network, [a, b])
        #expect(network.store(a).digest.totalCount == 40)
        #expect(network.closes.isEmpty)
    }

    @Test func aLateJoinerGetsTheFullHistoryThenSynced() throws {
        let network = makeNetwork()
        let a = network.addPeer()
        let b = network.addPeer()
        network.connect(a, b)
        for index in 0..<300 { try network.record(.mix(register: UInt8(index % 5), value: UInt64(index)), at: a) }
        network.settle()
        let joiner = network.addPeer()
        network.connect(b, joiner) { configuration, _ in configuration.maxBatchUpdates = 16 }
        network.settle()
        expectConverged(network, [a, b, joiner])
        let caughtUp = network.events.filter {
            if $0.peer == joiner, case .caughtUp = $0.output { true } else { false }
        }
        #expect(caughtUp.count == 1)
    }

    @Test func aChainConvergesWithPerLinkDelay() throws {
        let network = makeNetwork()
        let peers = (0..<3).map { _ in network.addPeer() }
        network.connect(peers[0], peers[1], delay: 7)
        network.connect(peers[1], peers[2], delay: 2)
        for index in 0..<30 {
            try network.record(.mix(register: 1, value: UInt64(index)), at: peers[index % 3])
            if index % 4 == 0 { network.settle() }
        }
        network.settle()
        expectConverged(network, peers)
        #expect(network.store(peers[0]).digest.totalCount == 30)
    }

    @Test func aTriangleConvergesWithPerLinkDelayAndNoEcho() throws {
        let network = makeNetwork()
        let peers = (0..<3).map { _ in network.addPeer() }
        network.connect(peers[0], peers[1], delay: 1)
        network.connect(peers[1], peers[2], delay: 5)
        network.connect(peers[0], peers[2], delay: 11)
        for index in 0..<30 { try network.record(.mix(register: 2, value: UInt64(index)), at: peers[index % 3]) }
        network.settle()
        expectConverged(network, peers)
        // Each update reaches each of the two other peers; with the remote
        // digest advanced on receive, at most one extra copy races per link.
        #expect(network.updatesSent <= 30 * 2 * 2)
    }

    /// A hello from the raw end of a link, as peer `id`.
    func rawHello(_ id: PeerID, digest: Digest = Digest()) -> GossipMessage<Action> {
        .hello(
            Hello(
                protocolVersion: 1, peer: id, name: "raw", room: "test", role: .editor, credentials: nil,
                digest: digest, clock: .zero))
    }

    @Test func staleAndDuplicateUpdatesAreRejectedWithNoSideEffect() throws {
        let network = makeNetwork()
        var authority = ReplicaConfiguration()
        authority.isAuthority = true
        let server = network.addPeer(configuration: authority)
        let raw = network.connectRaw(to: server)
        let client = PeerID(0xC11E)
        network.inject(rawHello(client), on: raw)
        let now = network.clock.milliseconds()
        let update = Update<Action>(
            origin: client, seq: 1, timestamp: Timestamp(milliseconds: now, counter: 0),
            action: .set(register: 3, value: 3))
        network.inject(.updates([update]), on: raw)
        network.settle()
        let before = network.store(server).state
        // The same update again: dropped, state unchanged, link stays up.
        network.inject(.updates([update]), on: raw)
        network.settle()
        #expect(network.store(server).counters.duplicates == 1)
        #expect(network.store(server).state == before)
        #expect(network.closes.isEmpty)
        // An update stamped below the frontier: refused as stale, state unchanged.
        network.store(server).advanceFrontier(to: Timestamp(milliseconds: now + 1, counter: 0))
        let stale = Update<Action>(
            origin: client, seq: 2, timestamp: Timestamp(milliseconds: now, counter: 1),
            action: .set(register: 3, value: 4))
        network.inject(.updates([stale]), on: raw)
        network.settle()
        #expect(network.store(server).counters.rejected["stale"] == 1)
        #expect(network.store(server).state == before)
        #expect(network.store(server).digest[client] == 1)
        #expect(
            network.rawInbox(raw).contains {
                if case .reject(.stale(stale.id, _, _)) = $0 { true } else { false }
            })
        #expect(network.closes.isEmpty, "a stale update is not a reason to close")
    }

    @Test func theDigestBoundarySendsOnlyWhatFollowsTheHeldSeq() throws {
        let network = makeNetwork()
        let a = network.addPeer()
        let b = network.addPeer()
        var updates: [Update<Action>] = []
        for index in 0..<5 { updates.append(try network.record(.mix(register: 0, value: UInt64(index)), at: a)) }
        for update in updates.prefix(3) { _ = network.store(b).receive(update) }
        network.connect(a, b)
        network.settle()
        // b held seq 3 (equal seq excluded), lacked 4 (one more included).
        #expect(network.updatesSent == 2)
        expectConverged(network, [a, b])
    }

    @Test func aDumpRestoresIntoANewReplicaThatJoinsSeamlessly() throws {
        let network = makeNetwork()
        let a = network.addPeer()
        let b = network.addPeer()
        network.connect(a, b)
        for index in 0..<50 { try network.record(.mix(register: UInt8(index % 3), value: UInt64(index)), at: a) }
        network.settle()
        let restored = network.addPeer()
        for update in network.store(a).dump() { _ = network.store(restored).receive(update) }
        #expect(network.store(restored).state == network.store(a).state)
        let before = network.updatesSent
        network.connect(restored, b)
        network.settle()
        #expect(network.updatesSent == before, "a restored replica needs nothing resent")
    }

    @Test func oneWayReplicationNeverFlowsBack() throws {
        let network = makeNetwork()
        let source = network.addPeer()
        let sink = network.addPeer()
        network.connect(source, sink) { configuration, end in
            if end.peer == source { configuration.acceptsUpdates = false } else { configuration.sendsUpdates = false }
        }
        try network.record(.set(register: 0, value: 1), at: source)
        try network.record(.set(register: 1, value: 2), at: sink)
        network.settle()
        #expect(network.store(sink).digest[network.store(source).peer] == 1)
        #expect(network.store(source).digest[network.store(sink).peer] == 0)
        #expect(network.closes.isEmpty)
    }

    @Test func aReconnectSendsOnlyWhatIsMissing() throws {
        let network = makeNetwork()
        let a = network.addPeer()
        let b = network.addPeer()
        let first = network.connect(a, b)
        for index in 0..<100 { try network.record(.mix(register: 0, value: UInt64(index)), at: a) }
        network.settle()
        network.disconnect(first)
        for index in 0..<7 { try network.record(.mix(register: 0, value: UInt64(index)), at: a) }
        for index in 0..<3 { try network.record(.mix(register: 1, value: UInt64(index)), at: b) }
        let before = network.updatesSent
        network.connect(a, b)
        network.settle()
        #expect(network.updatesSent - before == 10)
        expectConverged(network, [a, b])
    }

    @Test func anInvalidOrFarFutureUpdateNeitherPoisonsTheClockNorIsRelayed() throws {
        let network = makeNetwork()
        let peers = (0..<3).map { _ in network.addPeer() }
        network.connect(peers[0], peers[1])
        network.connect(peers[1], peers[2])
        network.settle()
        let raw = network.connectRaw(to: peers[1])
        let liar = PeerID(0x11A2)
        network.inject(rawHello(liar), on: raw)
        let future = Update<Action>(
            origin: liar, seq: 1,
            timestamp: Timestamp(milliseconds: network.clock.milliseconds() + 86_400_000, counter: 0),
            action: .set(register: 0, value: 1))
        network.inject(.updates([future]), on: raw)
        network.settle()
        #expect(network.store(peers[1]).digest[liar] == 0)
        #expect(network.store(peers[2]).digest[liar] == 0)
        #expect(network.store(peers[0]).digest[liar] == 0)
        #expect(network.store(peers[1]).clock.latest.milliseconds <= network.clock.milliseconds())
        #expect(network.closes.contains { $0.peer == peers[1] })
        #expect(network.rawInbox(raw).contains { if case .reject(.farFuture) = $0 { true } else { false } })
        let local = try network.store(peers[1]).record(.set(register: 5, value: 5))
        #expect(local.timestamp.milliseconds == network.clock.milliseconds())
        // An invalid action likewise.
        let other = network.connectRaw(to: peers[2])
        network.inject(rawHello(liar), on: other)
        let invalid = Update<Action>(
            origin: liar, seq: 1, timestamp: Timestamp(milliseconds: network.clock.milliseconds(), counter: 0),
            action: .set(register: 99, value: 1))
        network.inject(.updates([invalid]), on: other)
        network.settle()
        #expect(network.store(peers[2]).digest[liar] == 0)
        #expect(network.store(peers[2]).counters.rejected["invalid"] == 1)
    }
}
