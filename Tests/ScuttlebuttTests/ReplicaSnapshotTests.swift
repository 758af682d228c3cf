import NetworkSimulator
import Testing

@testable import Scuttlebutt

@Suite struct ReplicaSnapshotTests {
    typealias Action = RegisterReducer.Action
    typealias Store = ReplicatedStore<RegisterReducer>
    typealias Session = GossipSession<RegisterReducer>

    let clock = ManualClock(milliseconds: 1_764_316_800_000)
    var now: UInt64 { clock.milliseconds() }

    func makeStore(_ peer: UInt64, authority: Bool = false) -> Store {
        var configuration = ReplicaConfiguration()
        configuration.isAuthority = authority
        configuration.historyLimit = .frontier
        configuration.snapshotPolicy = .every(4)
        if authority { configuration.logRetention = .aboveHorizon }
        return Store(
            peer: PeerID(peer), reducer: RegisterReducer(), initialState: .init(), configuration: configuration,
            wallClock: clock)
    }

    /// An authority holding `history`, folded through its first `folded` updates.
    func authority(holding history: [Update<Action>], folded: Int) -> Store {
        let store = makeStore(1_000, authority: true)
        for update in history { #expect(store.receive(update) == .applied(.appended)) }
        if folded > 0 { store.advanceFrontier(to: Timestamp(history[folded - 1].timestamp.rawValue + 1)) }
        return store
    }

    @Test(arguments: [0, 1, 7, 150, 299, 300])
    func aSnapshotPlusTheRestRebuildsTheReplica(folded: Int) {
        let history = makeHistory(count: 300, origins: 5, register: { UInt8($0 % 3) })
        let original = authority(holding: history, folded: folded)
        let snapshot = original.snapshot()
        // The timeline folds at snapshot boundaries (every 4), never past the frontier.
        let foldedCount = Int(snapshot.digest.totalCount)
        #expect(foldedCount <= folded && foldedCount > folded - 4)
        #expect(snapshot.horizon == (foldedCount > 0 ? history[foldedCount - 1].orderKey : nil))
        #expect(original.timeline.count == 300 - foldedCount)

        let joiner = Store(peer: PeerID(7), reducer: RegisterReducer(), snapshot: snapshot, wallClock: clock)
        #expect(joiner.digest == snapshot.digest)
        // The rest, origin by origin: out of total order, so it rewinds.
        let rest = history.filter { !snapshot.digest.contains($0.id) }.sorted {
            ($0.origin, $0.seq) < ($1.origin, $1.seq)
        }
        for update in rest { #expect(joiner.receive(update).isApplied) }
        #expect(joiner.state == original.state)
        #expect(joiner.digest == original.digest)
        for update in history.prefix(foldedCount) { #expect(joiner.receive(update) == .duplicate) }
    }

    @Test func installKeepsWhatLiesBeyondTheSnapshotAndRestampsOwnUpdatesBelowIt() throws {
        let client = makeStore(1)
        // Drawn offline: stamped before everything the authority will fold.
        let offline = try (0..<3).map { try client.record(.mix(register: 0, value: UInt64($0))) }
        clock.advance(by: 1_000)
        var factory = UpdateFactory()
        let base = now << 16
        let others = (0..<40).map { factory.make(PeerID(2), at: base + UInt64($0) * 10, .mix(register: 0, value: 5)) }
        let server = authority(holding: others, folded: 30)
        // The client already holds a few updates above the server's horizon.
        for update in others[32..<35] { _ = client.receive(update) }
        #expect(client.digest[PeerID(2)] == 0, "a seq gap: nothing before seq 31 yet")
        for update in others[0..<35] { _ = client.receive(update) }

        let restamped = client.install(server.snapshot())
        #expect(restamped.map(\.seq) == offline.map(\.seq))
        #expect(restamped.allSatisfy { $0.orderKey > server.snapshot().horizon! })
        #expect(client.digest[PeerID(2)] == 35, "kept: seqs 31…35 above the horizon")
        #expect(client.counters.rebased == 3)
        for update in others[35...] { _ = client.receive(update) }
        for update in restamped { #expect(server.receive(update).isApplied) }
        #expect(client.state == server.state)
    }

    @Test func aLateJoinerIsSentTheSnapshotThenTheRestAndConverges() throws {
        let history = makeHistory(count: 500, origins: 4, register: { UInt8($0 % 5) })
        let server = authority(holding: history, folded: 420)
        let client = makeStore(9)
        try client.record(.set(register: 7, value: 77))
        var serverSession = Session(
            configuration: {
                var configuration = GossipSessionConfiguration(name: "server", room: "room", role: .server)
                configuration.snapshotChunkBytes = 16
                return configuration
            }())
        var clientSession = Session(
            configuration: {
                var configuration = GossipSessionConfiguration(name: "client", room: "room", role: .editor)
                configuration.remoteIsAuthority = true
                return configuration
            }())
        var toClient = sent(serverSession.start(store: server, now: now))
        var toServer = sent(clientSession.start(store: client, now: now))
        var snapshotsSent = 0
        var chunks = 0
        var installed = false
        while !toClient.isEmpty || !toServer.isEmpty {
            for message in toServer {
                for output in serverSession.handle(message, store: server, now: now) {
                    if case .remoteNeedsSnapshot = output, !serverSession.remoteDigest.covers(server.snapshot().digest)
                    {
                        let snapshot = server.snapshot()
                        let bytes = encode(snapshot.state)
                        snapshotsSent += 1
                        toClient += sent(
                            serverSession.sendSnapshot(
                                SnapshotHeader(
                                    horizon: snapshot.horizon!, digest: snapshot.digest, byteCount: bytes.count),
                                state: bytes, from: server, store: server))
                    } else if case .send(let message) = output {
                        toClient.append(message)
                    }
                }
            }
            toServer = []
            for message in toClient {
                if case .snapshotChunk = message { chunks += 1 }
                for output in clientSession.handle(message, store: client, now: now) {
                    if case .snapshotReceived(let header, let bytes) = output {
                        let snapshot = ReplicaSnapshot(
                            state: decode(bytes), horizon: header.horizon, digest: header.digest)
                        #expect(snapshot == server.snapshot())
                        installed = true
                        toServer += sent(clientSession.installSnapshot(snapshot, store: client, source: client))
                    } else if case .send(let message) = output {
                        toServer.append(message)
                    }
                }
            }
            toClient = []
        }
        #expect(snapshotsSent == 1)
        #expect(chunks > 1, "the snapshot went out in 16-byte chunks")
        #expect(installed)
        #expect(client.state == server.state)
        #expect(client.digest == server.digest)
        #expect(client.state.registers[7] == 77, "the client's own update survived the install")
    }

    @Test func aSnapshotOnlyComesFromTheAuthorityInOnePieceOfTheAnnouncedLength() {
        let store = makeStore(1)
        let header = SnapshotHeader(
            horizon: OrderKey(timestamp: Timestamp(5), origin: PeerID(2)), digest: Digest(), byteCount: 4)
        func session(authority: Bool) -> Session {
            var configuration = GossipSessionConfiguration(name: "c", room: "room", role: .editor)
            configuration.remoteIsAuthority = authority
            configuration.maxSnapshotBytes = 100
            var session = Session(configuration: configuration)
            _ = session.start(store: store, now: now)
            _ = session.handle(
                .hello(
                    Hello(
                        protocolVersion: 1, peer: PeerID(2), name: "s", room: "room", role: .server, credentials: nil,
                        digest: Digest(), clock: .zero)), store: store, now: now)
            return session
        }
        var notAuthority = session(authority: false)
        #expect(closeReason(notAuthority.handle(.snapshot(header), store: store, now: now)) != nil)
        var orphan = session(authority: true)
        #expect(closeReason(orphan.handle(.snapshotChunk([1]), store: store, now: now)) != nil)
        var huge = session(authority: true)
        var oversized = header
        oversized.byteCount = 101
        #expect(
            closeReason(huge.handle(.snapshot(oversized), store: store, now: now))
                == .limitExceeded("snapshot of 101 bytes"))
        var overlong = session(authority: true)
        #expect(overlong.handle(.snapshot(header), store: store, now: now).isEmpty)
        #expect(overlong.handle(.snapshotChunk([1, 2]), store: store, now: now).isEmpty)
        #expect(closeReason(overlong.handle(.snapshotChunk([3, 4, 5]), store: store, now: now)) != nil)
        var exact = session(authority: true)
        _ = exact.handle(.snapshot(header), store: store, now: now)
        _ = exact.handle(.snapshotChunk([1, 2]), store: store, now: now)
        let done = exact.handle(.snapshotChunk([3, 4]), store: store, now: now)
        guard case .snapshotReceived(let received, let bytes) = done.first else {
            Issue.record("expected the assembled snapshot, got \(done)")
            return
        }
        #expect(received == header && bytes == [1, 2, 3, 4])
    }

    // MARK: Helpers

    func sent(_ outputs: [Session.Output]) -> [GossipMessage<Action>] { outputs.compactMap(\.message) }

    func closeReason(_ outputs: [Session.Output]) -> CloseReason? {
        outputs.lazy.compactMap { if case .close(let reason) = $0 { reason } else { nil } }.first
    }

    /// The registers as index · value (8 bytes, little-endian), then clears.
    func encode(_ state: RegisterReducer.State) -> [UInt8] {
        var bytes: [UInt8] = []
        for (register, value) in state.registers.sorted(by: { $0.key < $1.key }) {
            bytes.append(register)
            bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        return bytes + (0..<8).map { UInt8(truncatingIfNeeded: state.clears >> (8 * $0)) }
    }

    func decode(_ bytes: [UInt8]) -> RegisterReducer.State {
        func word(at offset: Int) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        var state = RegisterReducer.State()
        var offset = 0
        while offset + 9 <= bytes.count - 8 {
            state.registers[bytes[offset]] = word(at: offset + 1)
            offset += 9
        }
        state.clears = word(at: bytes.count - 8)
        return state
    }
}

extension ReceiveOutcome {
    fileprivate var isApplied: Bool {
        if case .applied = self { true } else { false }
    }
}
