import NetworkSimulator
import Synchronization

@testable import Scuttlebutt

/// A register reducer that also counts how often it applies, so that tests
/// can check rewind costs independently of the timeline's own statistics.
struct CountingReducer: Reducer {
    typealias State = RegisterReducer.State
    typealias Action = RegisterReducer.Action

    final class Counter: Sendable {
        let applies = Atomic<Int>(0)
        var value: Int { applies.load(ordering: .relaxed) }
        func reset() { applies.store(0, ordering: .relaxed) }
    }

    let inner = RegisterReducer()
    let counter = Counter()

    func reduce(_ state: inout State, _ update: Update<Action>) {
        counter.applies.add(1, ordering: .relaxed)
        inner.reduce(&state, update)
    }

    func footprint(of update: Update<Action>) -> Footprint<UInt8> { inner.footprint(of: update) }
    func validate(_ action: Action, by origin: PeerID) throws { try inner.validate(action, by: origin) }
}

/// Builds updates by hand: `origin` and a timestamp per update, seqs counted.
struct UpdateFactory {
    private var seqs: [PeerID: UInt64] = [:]

    mutating func make(
        _ origin: PeerID, at timestamp: UInt64, _ action: RegisterReducer.Action
    ) -> Update<RegisterReducer.Action> {
        let seq = (seqs[origin] ?? 0) + 1
        seqs[origin] = seq
        return Update(origin: origin, seq: seq, timestamp: Timestamp(timestamp), action: action)
    }
}

/// `count` updates from `origins` peers at increasing timestamps, each on a
/// register of its own unless `conflicting`.
func makeHistory(count: Int, origins: Int = 4, register: (Int) -> UInt8 = { UInt8($0 % 8) })
    -> [Update<RegisterReducer.Action>]
{
    var factory = UpdateFactory()
    return (0..<count).map { index in
        factory.make(
            PeerID(UInt64(index % origins + 1)), at: UInt64(index + 1) * 10,
            .mix(register: register(index), value: UInt64(index)))
    }
}
