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
}
