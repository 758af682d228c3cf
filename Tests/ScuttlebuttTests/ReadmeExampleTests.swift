import Foundation
import Scuttlebutt
import Testing

// The example from README.md, kept compiling and passing here.

/// A shared tally: each peer adds to named counters.
struct TallyReducer: Reducer {
    typealias State = [String: Int]

    enum Action: Sendable {
        case add(String, Int)
        case reset
    }

    func reduce(_ state: inout State, _ update: Update<Action>) {
        switch update.action {
        case .add(let name, let amount): state[name, default: 0] += amount
        case .reset: state = [:]
        }
    }

    /// Additions commute, even to one name (they only add up); a reset
    /// conflicts with everything.
    func footprint(of update: Update<Action>) -> Footprint<String> {
        switch update.action {
        case .add(let name, _): .accesses([(name, .commutingWrite)])
        case .reset: .everything
        }
    }
}

/// Apps inject real time; the core never reads the clock itself.
struct SystemClock: WallClock {
    func milliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

@Suite struct ReadmeExampleTests {
    @Test func twoPeersWiredTogetherConverge() throws {
        let alice = ReplicatedStore(
            peer: .random(), reducer: TallyReducer(), initialState: [:], wallClock: SystemClock())
        let bob = ReplicatedStore(peer: .random(), reducer: TallyReducer(), initialState: [:], wallClock: SystemClock())
        try alice.record(.add("apples", 3))
        try bob.record(.add("pears", 2))
        try bob.record(.add("apples", 1))

        // One session per side of the link; carry messages until both are quiet.
        var aliceSide = GossipSession<TallyReducer>(configuration: .init(name: "alice", room: "demo", role: .editor))
        var bobSide = GossipSession<TallyReducer>(configuration: .init(name: "bob", room: "demo", role: .editor))
        var toBob = aliceSide.start(store: alice, now: 0).compactMap(\.message)
        var toAlice = bobSide.start(store: bob, now: 0).compactMap(\.message)
        while !toBob.isEmpty || !toAlice.isEmpty {
            let (forBob, forAlice) = (toBob, toAlice)
            toBob = forAlice.flatMap { aliceSide.handle($0, store: alice, now: 0).compactMap(\.message) }
            toAlice = forBob.flatMap { bobSide.handle($0, store: bob, now: 0).compactMap(\.message) }
        }

        #expect(alice.state == ["apples": 4, "pears": 2])
        #expect(bob.state == alice.state)
    }

    @Test func threePeersThroughAHubStayInSyncLive() throws {
        typealias Session = GossipSession<TallyReducer>
        typealias Store = ReplicatedStore<TallyReducer>

        /// One link: a peer and the hub, each with its session.
        struct Link {
            let peer: Store
            var peerSide: Session
            var hubSide: Session
        }

        func makeStore() -> Store {
            ReplicatedStore(peer: .random(), reducer: TallyReducer(), initialState: [:], wallClock: SystemClock())
        }
        let hub = makeStore()
        var links = ["alice", "bob", "carol"].map { name in
            Link(
                peer: makeStore(),
                peerSide: Session(configuration: .init(name: name, room: "demo", role: .editor)),
                hubSide: Session(configuration: .init(name: "hub", room: "demo", role: .server)))
        }

        /// Delivers messages both ways on every link until all are quiet.
        /// What the hub takes on one link, it pumps to the others.
        func settle(_ pending: [(link: Int, toHub: Bool, message: GossipMessage<TallyReducer.Action>)]) {
            var pending = pending
            while !pending.isEmpty {
                let (index, toHub, message) = pending.removeFirst()
                if toHub {
                    let outputs = links[index].hubSide.handle(message, store: hub, now: 0)
                    pending += outputs.compactMap(\.message).map { (index, false, $0) }
                    if outputs.contains(where: { if case .applied = $0 { true } else { false } }) {
                        for other in links.indices where other != index {
                            pending += links[other].hubSide.pump(store: hub).compactMap(\.message).map {
                                (other, false, $0)
                            }
                        }
                    }
                } else {
                    let outputs = links[index].peerSide.handle(message, store: links[index].peer, now: 0)
                    pending += outputs.compactMap(\.message).map { (index, true, $0) }
                }
            }
        }

        // Handshakes.
        var pending: [(link: Int, toHub: Bool, message: GossipMessage<TallyReducer.Action>)] = []
        for index in links.indices {
            pending += links[index].peerSide.start(store: links[index].peer, now: 0).compactMap(\.message)
                .map { (index, true, $0) }
            pending += links[index].hubSide.start(store: hub, now: 0).compactMap(\.message).map { (index, false, $0) }
        }
        settle(pending)

        // Live: each peer records, then pumps its session.
        for (index, amount) in [(0, 3), (1, 2), (2, 1), (0, 4)] {
            try links[index].peer.record(.add("apples", amount))
            settle(links[index].peerSide.pump(store: links[index].peer).compactMap(\.message).map { (index, true, $0) })
        }

        #expect(hub.state == ["apples": 10])
        for link in links { #expect(link.peer.state == hub.state) }
    }
}
