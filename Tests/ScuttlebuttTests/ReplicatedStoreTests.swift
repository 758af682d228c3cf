import NetworkSimulator
import Testing

@testable import Scuttlebutt

@Suite struct ReplicatedStoreTests {
    typealias Action = RegisterReducer.Action
    typealias Store = ReplicatedStore<RegisterReducer>

    let clock = ManualClock(milliseconds: 1_764_316_800_000)
    let remote = PeerID(0xBEEF)

    func makeStore(_ configure: (inout ReplicaConfiguration) -> Void = { _ in }) -> Store {
        var configuration = ReplicaConfiguration()
        configuration.maxClockSkew = 1_000
        configure(&configuration)
        return Store(
            peer: PeerID(1), reducer: RegisterReducer(), initialState: .init(), configuration: configuration,
            wallClock: clock)
    }

    func remoteUpdate(seq: UInt64, offset: Int64 = 0, _ action: Action = .set(register: 1, value: 5)) -> Update<
        Action
    > {
        let milliseconds = UInt64(Int64(clock.milliseconds()) + offset)
        return Update(
            origin: remote, seq: seq, timestamp: Timestamp(milliseconds: milliseconds, counter: 0), action: action)
    }

    /// Everything that must not change when an update is refused.
    func fingerprint(_ store: Store) -> String {
        "\(store.digest) \(store.clock.latest) \(store.state) \(store.timeline.count) \(store.dump().count)"
    }

    @Test func recordingNumbersUpdatesWithoutGapsAndStampsThemInOrder() throws {
        let store = makeStore()
        let first = try store.record(.set(register: 0, value: 1))
        let second = try store.record(.set(register: 0, value: 2))
        #expect(first.seq == 1 && second.seq == 2)
        #expect(first.timestamp < second.timestamp)
        #expect(store.digest[store.peer] == 2)
        #expect(store.state.registers[0] == 2)
        #expect(store.counters.recorded == 2)
    }

    @Test func anInvalidLocalActionIsRefusedBeforeItEntersTheLog() {
        let store = makeStore()
        let before = fingerprint(store)
        #expect(throws: RegisterReducer.ValidationError.self) { try store.record(.set(register: 200, value: 1)) }
        #expect(fingerprint(store) == before)
    }

    @Test func duplicatesAreDroppedWithoutEffect() {
        let store = makeStore()
        let update = remoteUpdate(seq: 1)
        #expect(store.receive(update) == .applied(.appended))
        let before = fingerprint(store)
        #expect(store.receive(update) == .duplicate)
        #expect(fingerprint(store) == before)
        #expect(store.counters.duplicates == 1)
    }

    @Test func aSequenceGapIsRefusedAndLeavesNoTrace() {
        let store = makeStore()
        let before = fingerprint(store)
        let outcome = store.receive(remoteUpdate(seq: 2))
        #expect(outcome == .rejected(.sequenceGap(origin: remote, expected: 1, received: 2)))
        #expect(fingerprint(store) == before)
        #expect(store.counters.rejected["sequence_gap"] == 1)
    }

    @Test func anOriginReusingOrRewindingItsClockIsRefused() {
        let store = makeStore()
        #expect(store.receive(remoteUpdate(seq: 1, offset: 5)) == .applied(.appended))
        let before = fingerprint(store)
        for offset: Int64 in [5, 4] {
            guard case .rejected(.nonMonotonicTimestamp) = store.receive(remoteUpdate(seq: 2, offset: offset)) else {
                Issue.record("a stamp not after the previous one was accepted")
                return
            }
        }
        #expect(fingerprint(store) == before)
        #expect(store.receive(remoteUpdate(seq: 2, offset: 6)) == .applied(.appended))
    }

    @Test func aFarFutureStampIsRefusedAndDoesNotPoisonTheClock() throws {
        let store = makeStore()
        let before = fingerprint(store)
        let poisoned = remoteUpdate(seq: 1, offset: 3_600_000)
        guard case .rejected(.farFuture(let id, _)) = store.receive(poisoned) else {
            Issue.record("far-future update was not refused")
            return
        }
        #expect(id == poisoned.id)
        #expect(fingerprint(store) == before)
        // The next local stamp is still "now", not an hour ahead.
        let local = try store.record(.set(register: 0, value: 1))
        #expect(local.timestamp.milliseconds == clock.milliseconds())
        // Within the skew is fine.
        #expect(store.receive(remoteUpdate(seq: 1, offset: 900)) == .applied(.appended))
    }

    @Test func anInvalidRemoteActionIsRefusedWithTheReducersReason() {
        let store = makeStore()
        let before = fingerprint(store)
        let outcome = store.receive(remoteUpdate(seq: 1, .mix(register: 1, value: .max)))
        guard case .rejected(.invalid(_, let reason)) = outcome else {
            Issue.record("expected invalid, got \(outcome)")
            return
        }
        #expect(reason.contains("reserved"))
        #expect(fingerprint(store) == before)
    }

    @Test func anAuthorityRefusesStaleUpdatesAndEverythingAfterThemUntilRebased() {
        let store = makeStore { $0.isAuthority = true }
        store.advanceFrontier(to: Timestamp(milliseconds: clock.milliseconds() - 100, counter: 0))
        let stale = remoteUpdate(seq: 1, offset: -500)
        guard case .rejected(.stale(let id, let timestamp, _)) = store.receive(stale) else {
            Issue.record("stale update was accepted")
            return
        }
        #expect(id == stale.id && timestamp == stale.timestamp)
        // The next seq is stale too (pending rebase), not a gap.
        guard case .rejected(.stale) = store.receive(remoteUpdate(seq: 2)) else {
            Issue.record("update after a stale one was not refused as stale")
            return
        }
        // The re-stamped seq 1 is accepted, and then seq 2.
        #expect(store.receive(remoteUpdate(seq: 1)) == .applied(.appended))
        #expect(store.receive(remoteUpdate(seq: 2, offset: 1)) == .applied(.appended))
        #expect(store.counters.rejected["stale"] == 2)
    }

    @Test func rebaseRestampsUnconfirmedOwnUpdatesAboveTheFrontier() throws {
        let store = makeStore { $0.historyLimit = .frontier }
        let first = try store.record(.mix(register: 0, value: 1))
        let second = try store.record(.mix(register: 0, value: 2))
        clock.advance(by: 10)
        #expect(store.receive(remoteUpdate(seq: 1, .mix(register: 0, value: 3))) == .applied(.appended))
        // The frontier is adopted but own unconfirmed updates are not folded.
        store.advanceFrontier(to: Timestamp(milliseconds: clock.milliseconds(), counter: 5))
        #expect(store.timeline.count == 3)
        let frontier = Timestamp(milliseconds: clock.milliseconds(), counter: 9)
        let rebased = store.rebase(from: 1, above: frontier)
        #expect(rebased.map(\.seq) == [1, 2])
        #expect(rebased.allSatisfy { $0.timestamp > frontier })
        #expect(rebased[0].timestamp < rebased[1].timestamp)
        #expect(store.ownTimestamp(seq: 1) == rebased[0].timestamp)
        #expect(store.ownTimestamp(seq: 2) != second.timestamp && first.id == rebased[0].id)
        // Now they sort after the remote update.
        let reference = RegisterReducer().referenceState(of: store.dump())
        #expect(store.state == reference)
        #expect(store.timeline.auditInvariants().isEmpty)
        #expect(store.counters.rebased == 2)
        // Once confirmed they fold like anything else.
        store.confirmOwn(through: 2)
        store.advanceFrontier(to: Timestamp(rebased[1].timestamp.rawValue + 1))
        #expect(store.timeline.count == 0)
        #expect(store.state == reference)
    }

    @Test func aCountLimitKeepsHistoryBoundedAndTheStateExact() throws {
        let store = makeStore {
            $0.historyLimit = .count(50)
            $0.snapshotPolicy = SnapshotPolicy(denseTail: 10, interval: 10)
        }
        for index in 0..<1_000 {
            try store.record(.mix(register: UInt8(index % 8), value: UInt64(index)))
            #expect(store.timeline.count <= 50)
        }
        #expect(store.state == RegisterReducer().referenceState(of: store.dump()))
    }

    @Test func anAgeLimitFoldsOldEntries() throws {
        let store = makeStore {
            $0.historyLimit = .age(milliseconds: 1_000)
            $0.snapshotPolicy = .every(1)
        }
        for _ in 0..<30 {
            try store.record(.mix(register: 0, value: 1))
            clock.advance(by: 100)
        }
        // Entries younger than a second (10 of them at 100 ms apart) remain.
        #expect(store.timeline.count == 10)
        #expect(store.state == RegisterReducer().referenceState(of: store.dump()))
    }

    @Test func anUpdateBelowTheHorizonIsNeverAppliedOutOfOrder() throws {
        let store = makeStore {
            $0.historyLimit = .count(5)
            $0.snapshotPolicy = .every(1)
        }
        let late = remoteUpdate(seq: 1)
        clock.advance(by: 10)
        for _ in 0..<20 { try store.record(.mix(register: 1, value: 3)) }
        let before = fingerprint(store)
        #expect(store.receive(late) == .belowHorizon(late.id))
        #expect(fingerprint(store) == before)
        #expect(store.counters.belowHorizon == 1)
    }

    @Test func retainingOnlyAboveTheHorizonSaysWhenAPeerNeedsASnapshot() throws {
        let store = makeStore {
            $0.historyLimit = .count(5)
            $0.snapshotPolicy = .every(1)
            $0.logRetention = .aboveHorizon
        }
        for _ in 0..<20 { try store.record(.mix(register: 1, value: 3)) }
        #expect(store.updates(of: store.peer, after: 0, limit: 10) == nil)
        #expect(store.updates(of: store.peer, after: 15, limit: 10)?.map(\.seq) == [16, 17, 18, 19, 20])
        #expect(store.updates(of: remote, after: 0, limit: 10) == [])
    }

    @Test func retainingEverythingServesUpdatesFromBelowAndAboveTheHorizon() throws {
        let store = makeStore {
            $0.historyLimit = .count(5)
            $0.snapshotPolicy = .every(1)
        }
        var recorded: [Update<RegisterReducer.Action>] = []
        for index in 0..<20 { recorded.append(try store.record(.mix(register: 1, value: UInt64(index)))) }
        let later = remoteUpdate(seq: 1, offset: 1, .mix(register: 2, value: 7))
        #expect(store.receive(later) == .applied(.appended))
        #expect(store.timeline.count <= 6, "most updates are folded")
        #expect(store.updates(of: store.peer, after: 0, limit: 100) == recorded)
        #expect(store.updates(of: store.peer, after: 13, limit: 3) == Array(recorded[13..<16]))
        #expect(store.updates(of: remote, after: 0, limit: 10) == [later])
        #expect(store.dump().count == 21)
    }

    @Test func aDumpRestoresIntoAnEqualReplica() throws {
        let store = makeStore()
        for index in 0..<50 { try store.record(.mix(register: UInt8(index % 3), value: UInt64(index))) }
        for seq in 1...20 {
            _ = store.receive(remoteUpdate(seq: UInt64(seq), offset: Int64(seq) - 40, .mix(register: 1, value: 9)))
        }
        let dump = store.dump()
        #expect(dump.count == 70)
        let restored = Store(
            peer: PeerID(2), reducer: RegisterReducer(), initialState: .init(), wallClock: clock)
        for update in dump { #expect(restored.receive(update) == .applied(.appended)) }
        #expect(restored.state == store.state)
        #expect(restored.digest == store.digest)
    }

    @Test func observersSeeEveryChange() async throws {
        let store = makeStore()
        var seen: [ReplicaEvent] = []
        let token = store.observe { seen.append($0) }
        let events = store.events()
        let update = try store.record(.set(register: 0, value: 1))
        _ = store.receive(remoteUpdate(seq: 1, offset: -1))
        store.removeObserver(token)
        try store.record(.set(register: 0, value: 2))
        #expect(seen.count == 2)
        #expect(seen.first == .applied(update.id, .appended))
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .applied(update.id, .appended))
        #expect(await iterator.next() == .applied(remoteUpdate(seq: 1).id, .commuted(depth: 1)))
    }
}
