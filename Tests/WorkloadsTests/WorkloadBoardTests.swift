import BoardWorkloads
import Foundation
import Scuttlebutt
import Testing
import Whiteboard
import Wire
import Workloads

/// The shared workloads recorded and received by real board replicas: the
/// boards they reduce to must carry the reference reducer's board digests,
/// so the benchmarks that time them measure a faithful reduction. At the
/// spec's sizes (its vectors, ~2 min in a debug build) with
/// `SCUTTLEBOARD_FULL_WORKLOADS=1`; a tenth of them otherwise. The
/// benchmarks check the spec's digests at full size on every run.
struct WorkloadBoardTests {
    /// The spec's sizes, or a tenth of them.
    static let full = ProcessInfo.processInfo.environment["SCUTTLEBOARD_FULL_WORKLOADS"] == "1"

    /// Records every action of `replay` on a fresh replica of its peer.
    func record(_ replay: WorkloadReplay) throws -> (
        store: ReplicatedStore<BoardReducer>, updates: [Update<BoardAction>]
    ) {
        let clock = ManualClock(milliseconds: WorkloadReplay.milliseconds(atAction: 0))
        let store = ReplicatedStore(
            peer: replay.peer, reducer: BoardReducer(), initialState: Board(), wallClock: clock)
        return (store, try replay.record(on: store, clock: clock))
    }

    @Test func w1RecordedAndReceivedInOrderReducesToTheSpecBoard() throws {
        let stream = WorkloadStream(seed: 1, origin: "o0", count: Self.full ? 200_000 : 20_000)
        let replay = WorkloadReplay(stream, peer: PeerID(100))
        let (local, updates) = try record(replay)
        var reference = WorkloadBoard()
        reference.apply(stream)
        #expect(WorkloadReplay.digest(of: local.state, replays: [replay]) == reference.digest)
        if Self.full {
            #expect(reference.digest == "bd435fcc33391cc22cc3a6ee0b9f8fff946e90d827760e54bfe015dc3126f18c")
        }
        let remote = ReplicatedStore(
            peer: PeerID(999), reducer: BoardReducer(), initialState: Board(),
            wallClock: ManualClock(milliseconds: updates.last!.timestamp.milliseconds))
        for update in updates {
            let decoded = try WireDecoder<BoardActionCodec>.decodeUpdate(
                WireEncoder<BoardActionCodec>.encode(update: update))
            guard case .applied = remote.receive(decoded) else {
                Issue.record("update \(update.id) was not applied")
                return
            }
        }
        #expect(remote.state.stateHash == local.state.stateHash)
        #expect(remote.timeline.statistics.rewinds == 0)
    }

    @Test func w2ShuffledReducesToTheSpecBoardWithoutOneReplay() throws {
        let perOrigin = Self.full ? 50_000 : 5_000
        let replays = WorkloadReplay.w2Origins(count: perOrigin)
        let recorded = try replays.map { try record($0).updates.map(WireEncoder<BoardActionCodec>.encode(update:)) }
        // Round r: origin 1's update r, then origin 2's, …
        var reference = WorkloadBoard()
        for replay in replays { reference.apply(replay.stream) }
        if Self.full {
            #expect(reference.digest == "6adfd8f2e88e762d1f35a162c623635097227f6925db674cc46f6a2caecfe1d8")
        }
        let inOrder = (0..<perOrigin).flatMap { round in recorded.map { $0[round] } }
        let delivery = workloadDeliveryOrder(count: inOrder.count, window: 64, seed: 1_001)
        var boards: [Board] = []
        for order in [Array(inOrder.indices), delivery] {
            var receiver = WorkloadReceiver(
                store: ReplicatedStore(
                    peer: PeerID(999), reducer: BoardReducer(), initialState: Board(),
                    wallClock: ManualClock(milliseconds: WorkloadReplay.milliseconds(atAction: perOrigin))))
            for index in order { receiver.receive(try WireDecoder<BoardActionCodec>.decodeUpdate(inOrder[index])) }
            #expect(receiver.refused == 0 && receiver.pending == 0)
            #expect((receiver.early > 0) == (order == delivery))
            #expect(WorkloadReplay.digest(of: receiver.store.state, replays: replays) == reference.digest)
            // Four origins on disjoint elements: every late update commutes.
            #expect(receiver.store.timeline.statistics.rewinds == 0)
            boards.append(receiver.store.state)
        }
        #expect(boards[0] == boards[1])
    }

    @Test func aMoveIsTheDifferenceFromTheElementsLastPlace() {
        let stream = WorkloadStream(seed: 1, origin: "o0", count: 2_000)
        let replay = WorkloadReplay(stream, peer: PeerID(7))
        var reference = WorkloadBoard()
        var board = Board()
        for (index, action) in replay.actions.enumerated() {
            reference.apply(stream.actions[index], of: stream)
            BoardReducer().reduce(
                &board,
                Update(
                    origin: PeerID(7), seq: UInt64(index + 1), timestamp: Timestamp(UInt64(index + 1)), action: action))
        }
        #expect(replay.actions.contains { if case .move = $0 { true } else { false } })
        #expect(WorkloadReplay.digest(of: board, replays: [replay]) == reference.digest)
        // A board missing an element is not the workload's board.
        #expect(WorkloadReplay.digest(of: Board(), replays: [replay]) == nil)
    }
}
