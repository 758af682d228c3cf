import Scuttlebutt
import Whiteboard
import Workloads

/// One workload stream as a Scuttleboard peer records it: one board action
/// per workload action, recorded as the origin's updates 1, 2, 3… in order.
///
/// The mapping (`WHITEBOARD-SPEC.md`, section 4 leaves it to each port):
/// - `ADD(id, color, x0, y0)` is a `beginStroke` at `(x0, y0)` in the
///   palette colour's ``styles`` entry; the element's id is the update's,
///   so element `k` of the stream is the update that added it.
/// - `EXTEND(id, points)` is an `extendStroke` of those points. The strokes
///   are never ended, as in the spec.
/// - `MOVE(id, x, y)` sets an absolute offset in the spec; a board move adds
///   an offset (so that concurrent moves and their undos compose), so the
///   peer moves by the difference from the element's offset, which an app
///   holds anyway. The sum of an element's moves is then the spec's last
///   `x, y`.
///
/// The translation is done once, before any timing, like the spec's stream
/// generation.
public struct WorkloadReplay: Sendable {
    /// The stream replayed.
    public let stream: WorkloadStream
    /// The peer that records it.
    public let peer: PeerID
    /// The board action for each workload action, in order: update `i + 1`.
    public let actions: [BoardAction]
    /// The board id of each workload element, by its number.
    public let elementIDs: [ElementID]

    /// The board style of each palette colour: xterm-256 colours near the
    /// spec's hex values.
    public static let styles: [Style] = [16, 160, 34, 26, 208, 98, 30, 102].map { Style(color: $0) }

    /// The wall clock, in ms since the epoch, while a peer records action
    /// `index` of a stream: eight actions a millisecond from 2025-11-28, so
    /// that every run stamps the same updates.
    public static func milliseconds(atAction index: Int) -> UInt64 {
        1_764_316_800_000 + UInt64(index / 8)
    }

    /// Translates `stream` for `peer`.
    public init(_ stream: WorkloadStream, peer: PeerID) {
        self.stream = stream
        self.peer = peer
        var actions: [BoardAction] = []
        actions.reserveCapacity(stream.actions.count)
        var elementIDs: [ElementID] = []
        var offsets: [Point] = []
        for (index, action) in stream.actions.enumerated() {
            switch action {
            case .add(_, let color, let x, let y):
                elementIDs.append(ElementID(origin: peer, seq: UInt64(index + 1)))
                offsets.append(.zero)
                actions.append(.beginStroke(at: Point(Int32(x), Int32(y)), style: Self.styles[color]))
            case .extend(let element, let flat):
                let points = stride(from: 0, to: flat.count, by: 2).map { Point(Int32(flat[$0]), Int32(flat[$0 + 1])) }
                actions.append(.extendStroke(elementIDs[element], points: points))
            case .move(let element, let x, let y):
                let target = Point(Int32(x), Int32(y))
                let by = Point(target.x - offsets[element].x, target.y - offsets[element].y)
                offsets[element] = target
                actions.append(.move(elementIDs[element], by: by))
            }
        }
        self.actions = actions
        self.elementIDs = elementIDs
    }

    /// Records every action on `store` (a fresh replica of ``peer``), the
    /// clock following ``milliseconds(atAction:)``.
    /// - Returns: The updates, one per action.
    @discardableResult
    public func record(on store: ReplicatedStore<BoardReducer>, clock: ManualClock) throws -> [Update<BoardAction>] {
        var updates: [Update<BoardAction>] = []
        updates.reserveCapacity(actions.count)
        for (index, action) in actions.enumerated() {
            clock.set(milliseconds: Self.milliseconds(atAction: index))
            updates.append(try store.record(action))
        }
        return updates
    }

    /// W2's four origins (`o1` … `o4`, seeds 2 … 5, as the spec's section 3
    /// table gives them for seed 1), each recording `count` actions as
    /// peer 101 … 104.
    public static func w2Origins(count: Int) -> [WorkloadReplay] {
        (1...4).map { k in
            WorkloadReplay(
                WorkloadStream(seed: 1 + UInt64(k), origin: "o\(k)", count: count), peer: PeerID(100 + UInt64(k)))
        }
    }

    /// The spec's board digest of `board`, which must hold what `replays`
    /// recorded (and nothing else): equal to ``WorkloadBoard/digest`` of the
    /// same streams when the board reduced them faithfully.
    /// - Returns: nil when an element of the streams is missing from the
    ///   board or is not a stroke in a workload colour.
    public static func digest(of board: Board, replays: [WorkloadReplay]) -> String? {
        var elements: [String: WorkloadBoard.Element] = [:]
        for replay in replays {
            for (number, elementID) in replay.elementIDs.enumerated() {
                guard let element = board.elements[elementID], case .stroke(let points) = element.shape,
                    let color = styles.firstIndex(of: element.style)
                else { return nil }
                elements[replay.stream.id(of: number)] = WorkloadBoard.Element(
                    color: color, x: Int(element.offset.x), y: Int(element.offset.y),
                    points: points.flatMap { [Int($0.x), Int($0.y)] })
            }
        }
        guard elements.count == board.elements.count else { return nil }
        return WorkloadBoard(elements: elements).digest
    }
}

/// A board replica receiving a workload's updates in any order, as W2
/// delivers them: an update that arrives before its origin's previous one
/// (which the store refuses as a sequence gap; links never deliver so) is
/// held until that one arrives, as Yrs keeps such updates pending.
public struct WorkloadReceiver {
    /// The replica.
    public let store: ReplicatedStore<BoardReducer>
    /// Updates that arrived early, by origin and seq.
    private var held: [PeerID: [UInt64: Update<BoardAction>]] = [:]
    /// How many updates arrived early and were held.
    public private(set) var early = 0
    /// How many updates the store refused (zero for a faithful delivery).
    public private(set) var refused = 0

    /// A receiver for `store`.
    public init(store: ReplicatedStore<BoardReducer>) {
        self.store = store
    }

    /// Receives `update`, or holds it until its origin's previous update
    /// has been received; then receives what it held after it.
    public mutating func receive(_ update: Update<BoardAction>) {
        guard update.seq == store.digest[update.origin] + 1 else {
            early += 1
            held[update.origin, default: [:]][update.seq] = update
            return
        }
        var next: Update<BoardAction>? = update
        while let current = next {
            guard case .applied = store.receive(current) else {
                refused += 1
                return
            }
            // An empty dictionary still hashes the key it is asked about.
            next = held.isEmpty ? nil : held[current.origin]?.removeValue(forKey: current.seq + 1)
        }
    }

    /// Updates still held: their origin's previous update never came.
    public var pending: Int { held.values.reduce(0) { $0 + $1.count } }
}
