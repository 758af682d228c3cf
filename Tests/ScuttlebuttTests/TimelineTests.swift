import NetworkSimulator
import Testing

@testable import Scuttlebutt

@Suite struct TimelineTests {
    typealias Action = RegisterReducer.Action

    func timeline(
        _ reducer: CountingReducer = CountingReducer(), policy: SnapshotPolicy = .standard
    ) -> Timeline<CountingReducer> {
        Timeline(reducer: reducer, base: RegisterReducer.State(), snapshotPolicy: policy)
    }

    @Test func foldedTouchesAreForgottenAndLateUpdatesOnThemStillCommute() {
        var timeline = timeline(policy: .every(8))
        // Registers 0…199, then ten updates on register 255 only.
        let history = makeHistory(count: 4_110, register: { $0 < 4_100 ? UInt8($0 % 200) : 255 })
        for update in history { timeline.insert(update) }
        #expect(timeline.lastTouch.count == 201)
        timeline.fold(keepingAtMost: 10)
        #expect(timeline.count <= 10)
        #expect(timeline.lastTouch.count == 1, "only register 255 is touched above the horizon")
        // A late update on a register touched only below the horizon commutes.
        let late = Update<Action>(
            origin: PeerID(9), seq: 1, timestamp: Timestamp(history[4_107].timestamp.rawValue + 1),
            action: .mix(register: 7, value: 1))
        #expect(timeline.insert(late) == .commuted(depth: 2))
        #expect(timeline.auditInvariants().isEmpty)
        #expect(timeline.state == RegisterReducer().referenceState(of: history + [late]))
    }

    @Test func inOrderUpdatesAppendWithOneApplyEach() {
        let reducer = CountingReducer()
        var timeline = timeline(reducer)
        let history = makeHistory(count: 500)
        for update in history { #expect(timeline.insert(update) == .appended) }
        #expect(reducer.counter.value == 500)
        #expect(timeline.state == RegisterReducer().referenceState(of: history))
        #expect(timeline.auditInvariants().isEmpty)
    }

    /// A late update `depth` places from the end that conflicts with what
    /// follows it, in a history of `length` entries all on register 0.
    func conflictingLateInsertCost(depth: Int, length: Int, policy: SnapshotPolicy) -> (Insertion, Int, Bool) {
        let reducer = CountingReducer()
        var timeline = timeline(reducer, policy: policy)
        for update in makeHistory(count: length, register: { _ in 0 }) { timeline.insert(update) }
        reducer.counter.reset()
        let late = Update<Action>(
            origin: PeerID(99), seq: 1, timestamp: Timestamp(UInt64(length - depth) * 10 + 5),
            action: .mix(register: 0, value: 7))
        let insertion = timeline.insert(late)
        return (insertion, reducer.counter.value, timeline.auditInvariants().isEmpty)
    }

    @Test(arguments: [1, 2, 3, 10, 63, 64, 65, 100, 500])
    func conflictingLateInsertCostsAtMostTwiceItsDepth(depth: Int) {
        for length in [1_000, 4_000] {
            let (insertion, applies, consistent) = conflictingLateInsertCost(
                depth: depth, length: length, policy: .standard)
            guard case .replayed(let reportedDepth, let reportedApplies) = insertion else {
                Issue.record("expected a replay, got \(insertion)")
                return
            }
            #expect(reportedDepth == depth)
            #expect(reportedApplies == applies)
            #expect(applies <= 2 * depth, "depth \(depth), history \(length): \(applies) applies")
            #expect(consistent)
        }
    }

    @Test func rewindCostDoesNotDependOnHistoryLength() {
        // Same alignment to the snapshot interval, 20× the history.
        for depth in [5, 50, 300] {
            let short = conflictingLateInsertCost(depth: depth, length: 1_024, policy: .every(16)).1
            let long = conflictingLateInsertCost(depth: depth, length: 20_480, policy: .every(16)).1
            #expect(short == long, "depth \(depth): \(short) applies with 1k history, \(long) with 20k")
            #expect(long <= depth + 16)
        }
    }

    @Test(arguments: [1, 10, 1_000])
    func commutingLateInsertAppliesOnceWithoutReplay(depth: Int) {
        let reducer = CountingReducer()
        var timeline = timeline(reducer)
        let history = makeHistory(count: 2_000, register: { UInt8(1 + $0 % 7) })
        for update in history { timeline.insert(update) }
        reducer.counter.reset()
        let late = Update<Action>(
            origin: PeerID(99), seq: 1, timestamp: Timestamp(UInt64(2_000 - depth) * 10 + 5),
            action: .mix(register: 0, value: 7))
        #expect(timeline.insert(late) == .commuted(depth: depth))
        #expect(reducer.counter.value == 1)
        #expect(timeline.state == RegisterReducer().referenceState(of: history + [late]))
        #expect(timeline.auditInvariants().isEmpty)
    }

    /// Commuting inserts leave the snapshots after them stale; a count fold
    /// must not then run on to the end looking for a valid one (a swarm
    /// benchmark lost two thirds of its updates to that: everything folded,
    /// and every late update landed below the horizon).
    @Test func aCountFoldStopsNearItsLimitWhenSnapshotsAreStale() {
        var timeline = timeline(policy: .every(16))
        var all = makeHistory(count: 1_000, register: { UInt8(1 + $0 % 7) })
        for update in all { timeline.insert(update) }
        let commuting = Update<Action>(
            origin: PeerID(99), seq: 1, timestamp: Timestamp(1_005), action: .set(register: 0, value: 1))
        #expect(timeline.insert(commuting) == .commuted(depth: 900))
        all.append(commuting)
        timeline.fold(keepingAtMost: 500)
        #expect(timeline.count <= 500)
        #expect(timeline.count >= 500 - SnapshotPolicy.every(16).interval)
        #expect(timeline.state == RegisterReducer().referenceState(of: all))
        #expect(timeline.auditInvariants().isEmpty)
    }

    @Test func aConflictAfterACommuteNeverRestoresAStaleSnapshot() {
        var timeline = timeline(policy: .every(1))
        var all = makeHistory(count: 300, register: { UInt8(1 + $0 % 7) })
        for update in all { timeline.insert(update) }
        // Commutes at depth 100: every snapshot after it now lacks it.
        let commuting = Update<Action>(
            origin: PeerID(99), seq: 1, timestamp: Timestamp(2_005), action: .set(register: 0, value: 1))
        #expect(timeline.insert(commuting) == .commuted(depth: 100))
        // Conflicts at depth 10 (register 0 is touched by the commuting one
        // only, so use a clear, which conflicts with everything).
        let conflicting = Update<Action>(origin: PeerID(98), seq: 1, timestamp: Timestamp(2_905), action: .clear)
        guard case .replayed = timeline.insert(conflicting) else {
            Issue.record("a clear must replay")
            return
        }
        all += [commuting, conflicting]
        #expect(timeline.state == RegisterReducer().referenceState(of: all))
        #expect(timeline.auditInvariants().isEmpty)
    }

    @Test(arguments: [
        SnapshotPolicy.standard, .every(1), .every(7), SnapshotPolicy(denseTail: 2, interval: 9),
        SnapshotPolicy(denseTail: 2, interval: 3, deepBeyond: 20, deepInterval: 9),
    ])
    func anyDeliveryOrderGivesTheSortedReduce(policy: SnapshotPolicy) {
        for seed in UInt64(1)...40 {
            var random = SeededGenerator(seed: seed)
            var factory = UpdateFactory()
            let history = (0..<150).map { index in
                factory.make(
                    PeerID(UInt64.random(in: 1...5, using: &random)), at: UInt64(index + 1) * 3,
                    .random(using: &random, clearProbability: 0.05))
            }
            // Half the seeds fully shuffled, half only jittered (late by a few).
            let order =
                seed % 2 == 0
                ? history.shuffled(using: &random)
                : history.enumerated().sorted {
                    Double($0.offset) + Double.random(in: 0..<8, using: &random)
                        < Double($1.offset) + Double.random(in: 0..<8, using: &random)
                }.map(\.element)
            var timeline = timeline(policy: policy)
            for update in order {
                timeline.insert(update)
                let problems = timeline.auditInvariants()
                guard problems.isEmpty else {
                    Issue.record("seed \(seed): \(problems)")
                    return
                }
            }
            #expect(timeline.state == RegisterReducer().referenceState(of: history), "seed \(seed)")
        }
    }

    /// Jittered deliveries (some late, some commuting, some replaying) with a
    /// cutoff that follows the newest stamp: after every fold, at most one
    /// snapshot interval of entries lies below the cutoff, and the state is
    /// the sorted reduce.
    @Test(arguments: [
        SnapshotPolicy.every(4), SnapshotPolicy(denseTail: 0, interval: 3, deepBeyond: 12, deepInterval: 9),
    ])
    func foldingBeforeACutoffLeavesAtMostOneIntervalBelowIt(policy: SnapshotPolicy) {
        for seed in UInt64(1)...30 {
            var random = SeededGenerator(seed: seed)
            var factory = UpdateFactory()
            var arrival: [(Double, Update<Action>)] = []
            for index in 0..<300 {
                let register = UInt8.random(in: 0..<6, using: &random)
                let update = factory.make(
                    PeerID(UInt64(index % 3 + 1)), at: UInt64(index + 1) * 3,
                    .mix(register: register, value: UInt64(index)))
                arrival.append((Double(index) + Double.random(in: 0..<6, using: &random), update))
            }
            let order = arrival.sorted { $0.0 < $1.0 }.map(\.1)
            var timeline = timeline(policy: policy)
            var newest: UInt64 = 0
            var accepted: [Update<Action>] = []
            for update in order where timeline.accepts(update.orderKey) {
                timeline.insert(update)
                accepted.append(update)
                newest = max(newest, update.timestamp.rawValue)
                let cutoff = Timestamp(newest > 30 ? newest - 30 : 0)
                timeline.fold(before: cutoff)
                let below = timeline.updates.filter { $0.timestamp < cutoff }.count
                let spacing = max(policy.interval, policy.deepInterval)
                guard below <= spacing, timeline.auditInvariants().isEmpty else {
                    Issue.record("seed \(seed): \(below) entries below the cutoff, \(timeline.auditInvariants())")
                    return
                }
            }
            #expect(timeline.state == RegisterReducer().referenceState(of: accepted), "seed \(seed)")
        }
    }

    @Test func foldingByCountKeepsStateAndRefusesBelowTheHorizon() {
        var timeline = timeline(policy: SnapshotPolicy(denseTail: 8, interval: 8))
        let history = makeHistory(count: 1_000)
        for update in history {
            timeline.insert(update)
            timeline.fold(keepingAtMost: 100)
            #expect(timeline.count <= 100)
        }
        #expect(timeline.count > 100 - 8)
        #expect(timeline.state == RegisterReducer().referenceState(of: history))
        #expect(timeline.auditInvariants().isEmpty)
        let horizon = timeline.horizon!
        #expect(!timeline.accepts(horizon))
        #expect(timeline.accepts(OrderKey(timestamp: Timestamp(horizon.timestamp.rawValue + 1), origin: PeerID(0))))
        #expect(timeline.statistics.folded == 1_000 - timeline.count)
        #expect(timeline.statistics.foldApplies == 0)
    }

    @Test func foldingByTimeKeepsEverythingYoungerThanTheCutoff() {
        var timeline = timeline(policy: .every(4))
        let history = makeHistory(count: 200)
        for update in history { timeline.insert(update) }
        timeline.fold(before: Timestamp(1_000))
        // Entries stamped 10…990 may fold; 1000 and later must stay.
        #expect(timeline.updates.first!.timestamp <= Timestamp(1_000))
        #expect(timeline.updates.first!.timestamp > Timestamp(1_000 - 4 * 10))
        #expect(timeline.updates.filter { $0.timestamp >= Timestamp(1_000) }.count == 101)
        #expect(timeline.auditInvariants().isEmpty)
    }

    @Test func foldingByTimeWaitsForASnapshotThenFoldsWithoutApplies() {
        var sparse = timeline(policy: .every(1_000))
        let history = makeHistory(count: 100)
        for update in history { sparse.insert(update) }
        sparse.fold(before: Timestamp(505))
        #expect(sparse.count == 100, "no snapshot before the cutoff yet: the 50 older entries wait")
        var aged = timeline(policy: .every(10))
        for update in history { aged.insert(update) }
        aged.fold(before: Timestamp(455))
        #expect(aged.count == 60, "folded through the snapshot on the 40th entry, not the 45 older ones")
        #expect(aged.statistics.foldApplies == 0)
        #expect(aged.auditInvariants().isEmpty)
    }

    @Test func foldingByTimePastStaleSnapshotsStillBuildsTheRightBase() {
        var stale = timeline(policy: .every(10))
        let history = makeHistory(count: 100, register: { _ in 1 })
        for update in history.dropFirst() { stale.insert(update) }
        // The first update arrives last and commutes (another register):
        // every snapshot after it is stale.
        let late = Update<RegisterReducer.Action>(
            origin: PeerID(77), seq: 1, timestamp: Timestamp(5), action: .set(register: 9, value: 9))
        guard case .commuted = stale.insert(late) else {
            Issue.record("the late update must commute")
            return
        }
        stale.fold(before: Timestamp(505))
        #expect(stale.updates.first!.timestamp == Timestamp(510), "everything older folded")
        #expect(stale.statistics.foldApplies > 0)
        #expect(stale.state == RegisterReducer().referenceState(of: Array(history.dropFirst()) + [late]))
        #expect(stale.auditInvariants().isEmpty)
    }

    @Test func removingAnEntryReplaysWhatFollowed() {
        var timeline = timeline()
        let history = makeHistory(count: 100, register: { _ in 3 })
        for update in history { timeline.insert(update) }
        let removed = timeline.remove(history[90].orderKey)
        #expect(removed?.id == history[90].id)
        #expect(timeline.remove(history[90].orderKey) == nil)
        var remaining = history
        remaining.remove(at: 90)
        #expect(timeline.state == RegisterReducer().referenceState(of: remaining))
        #expect(timeline.auditInvariants().isEmpty)
    }

    /// Removing a backlog at once (a rebase) leaves what removing it entry
    /// by entry would, with one replay instead of one per entry.
    @Test(arguments: [SnapshotPolicy.standard, .every(8), SnapshotPolicy(denseTail: 0, interval: 64)])
    func removingManyEntriesReplaysOnceAndAgreesWithRemovingThemOneByOne(policy: SnapshotPolicy) {
        let history = makeHistory(count: 600, register: { UInt8($0 % 7) })
        let doomed = stride(from: 150, to: 600, by: 3).map { history[$0].orderKey } + [history[0].orderKey]
        let oneByOneReducer = CountingReducer()
        var oneByOne = timeline(oneByOneReducer, policy: policy)
        let atOnceReducer = CountingReducer()
        var atOnce = timeline(atOnceReducer, policy: policy)
        for update in history {
            oneByOne.insert(update)
            atOnce.insert(update)
        }
        let (before, beforeAtOnce) = (oneByOneReducer.counter.value, atOnceReducer.counter.value)
        for key in doomed { oneByOne.remove(key) }
        let absent = OrderKey(timestamp: Timestamp(1), origin: PeerID(99))
        #expect(atOnce.remove(doomed + [absent]) == doomed.count, "an absent key is skipped")
        let kept = history.filter { update in !doomed.contains(update.orderKey) }
        #expect(atOnce.state == RegisterReducer().referenceState(of: kept))
        #expect(atOnce.state == oneByOne.state)
        #expect(atOnce.count == kept.count)
        #expect(atOnce.auditInvariants().isEmpty)
        #expect(
            atOnceReducer.counter.value - beforeAtOnce < (oneByOneReducer.counter.value - before) / 10,
            "one replay, not one per removed entry")
    }

    @Test func denseTailAndSparseKeepersBoundSnapshotCount() {
        var timeline = timeline(policy: SnapshotPolicy(denseTail: 10, interval: 50))
        for update in makeHistory(count: 1_000) { timeline.insert(update) }
        // 10 dense plus one in 50 of the rest.
        #expect(timeline.snapshotCount <= 10 + 1_000 / 50)
        #expect(timeline.snapshotCount >= 10 + 990 / 50 - 1)
    }

    @Test func deepHistoryKeepsFewSnapshots() {
        var timeline = timeline(policy: SnapshotPolicy(denseTail: 0, interval: 16, deepBeyond: 256, deepInterval: 128))
        let history = makeHistory(count: 2_048)
        for update in history { timeline.insert(update) }
        // One in 16 of the newest 256, then one in 128: 16 + 14, give or take one at each boundary.
        #expect((29...32).contains(timeline.snapshotCount), "\(timeline.snapshotCount) snapshots")
        #expect(timeline.auditInvariants().isEmpty)
        // A fold deep in history lands on a deep snapshot: no applies.
        timeline.fold(keepingAtMost: 1_000)
        #expect(timeline.statistics.foldApplies == 0)
        #expect((1_000 - 128...1_000).contains(timeline.count))
        #expect(timeline.state == RegisterReducer().referenceState(of: history))
        #expect(timeline.auditInvariants().isEmpty)
    }
}
