import Testing

@testable import Scuttlebutt

/// Counters that updates add to, and reads that note a counter's value.
struct TotalsReducer: Reducer {
    enum Action: Sendable {
        case add(String, Int)
        case read(String)
    }

    struct State: Sendable, Equatable {
        var totals: [String: Int] = [:]
        /// What each read saw, by the reading update.
        var seen: [UpdateID: Int] = [:]
    }

    func reduce(_ state: inout State, _ update: Update<Action>) {
        switch update.action {
        case .add(let name, let amount): state.totals[name, default: 0] += amount
        case .read(let name): state.seen[update.id] = state.totals[name, default: 0]
        }
    }

    func footprint(of update: Update<Action>) -> Footprint<String> {
        switch update.action {
        case .add(let name, _): .accesses([(name, .commutingWrite)])
        case .read(let name): .accesses([(name, .read)])
        }
    }
}

@Suite struct KeyAccessTests {
    @Test func onlyReadsWithReadsAndCommutingWritesWithCommutingWritesCommute() {
        let commuting = KeyAccess.allCases.flatMap { a in KeyAccess.allCases.map { b in (a, b) } }
            .filter { $0.0.commutes(with: $0.1) }
        #expect(commuting.map { "\($0.0)-\($0.1)" } == ["read-read", "commutingWrite-commutingWrite"])
        let read = Footprint<String>.accesses([("a", .read)])
        #expect(!read.conflicts(with: .accesses([("a", .read)])))
        #expect(read.conflicts(with: .accesses([("a", .commutingWrite)])))
        #expect(read.conflicts(with: .one("a")))
        #expect(!read.conflicts(with: .one("b")))
        #expect(read.conflicts(with: .everything))
    }

    func update(_ seq: UInt64, at time: UInt64, _ action: TotalsReducer.Action) -> Update<TotalsReducer.Action> {
        Update(origin: PeerID(seq), seq: 1, timestamp: Timestamp(time), action: action)
    }

    @Test func aLateCommutingWriteSkipsReplayBehindOtherWrites() {
        var timeline = Timeline(reducer: TotalsReducer(), base: TotalsReducer.State())
        timeline.insert(update(1, at: 10, .add("a", 1)))
        timeline.insert(update(2, at: 30, .add("a", 10)))
        timeline.insert(update(3, at: 40, .read("b")))
        #expect(timeline.insert(update(4, at: 20, .add("a", 100))) == .commuted(depth: 2))
        #expect(timeline.state.totals["a"] == 111)
    }

    @Test func aLateCommutingWriteReplaysBehindALaterRead() {
        var timeline = Timeline(reducer: TotalsReducer(), base: TotalsReducer.State())
        timeline.insert(update(1, at: 10, .add("a", 1)))
        let read = update(2, at: 30, .read("a"))
        timeline.insert(read)
        guard case .replayed = timeline.insert(update(3, at: 20, .add("a", 100))) else {
            Issue.record("a late write before a read must replay the read")
            return
        }
        #expect(timeline.state.seen[read.id] == 101)
    }

    @Test func aLateReadSkipsReplayBehindOtherReads() {
        var timeline = Timeline(reducer: TotalsReducer(), base: TotalsReducer.State())
        timeline.insert(update(1, at: 10, .add("a", 1)))
        timeline.insert(update(2, at: 30, .read("a")))
        let late = update(3, at: 20, .read("a"))
        #expect(timeline.insert(late) == .commuted(depth: 1))
        #expect(timeline.state.seen[late.id] == 1)
    }
}

@Suite struct ReplayDepthHistogramTests {
    @Test func replaysFallIntoPowerOfTwoBuckets() {
        var histogram = ReplayDepthHistogram()
        for applies in [0, 1, 2, 3, 4, 5, 100] { histogram.record(applies) }
        #expect(histogram.buckets.map(\.atMost) == [1, 2, 4, 8, 128])
        #expect(histogram.buckets.map(\.count) == [2, 1, 2, 1, 1])
        var other = ReplayDepthHistogram()
        other.record(1_000)
        other.record(2)
        histogram.merge(other)
        #expect(histogram.buckets.map(\.atMost) == [1, 2, 4, 8, 128, 1_024])
        #expect(histogram.buckets.map(\.count) == [2, 2, 2, 1, 1, 1])
    }
}
