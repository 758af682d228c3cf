import HashTreeCollections
import Scuttlebutt

/// A key-value board of `keyCount` keys: big enough that copying a whole
/// state costs something, as a real board's does.
struct KeyValueReducer: Reducer {
    typealias State = TreeDictionary<UInt32, UInt64>
    typealias Action = KeyValueAction

    func reduce(_ state: inout State, _ update: Update<Action>) {
        state[update.action.key] = (state[update.action.key] ?? 0) &* 31 &+ update.action.value
    }

    func footprint(of update: Update<Action>) -> Footprint<UInt32> { .one(update.action.key) }
}

/// Fold `value` into the entry at `key` (order-sensitive).
struct KeyValueAction: Sendable, Hashable {
    let key: UInt32
    let value: UInt64
}

/// A log that takes updates in any order; the naive reference strategies.
protocol NaiveLog {
    mutating func insert(_ update: Update<KeyValueAction>)
}

/// Reference point: what the JavaScript original does — keep a full state
/// after every entry — with a plain `Dictionary`, so each kept state is a
/// full copy.
struct FullStatePerEntryLog: NaiveLog {
    private var entries: [(key: OrderKey, update: Update<KeyValueAction>, state: [UInt32: UInt64])] = []

    mutating func insert(_ update: Update<KeyValueAction>) {
        let key = update.orderKey
        var position = entries.count
        while position > 0 && entries[position - 1].key > key { position -= 1 }
        var state = position > 0 ? entries[position - 1].state : [:]
        Self.apply(update, to: &state)
        entries.insert((key, update, state), at: position)
        for index in (position + 1)..<entries.count {
            Self.apply(entries[index].update, to: &state)
            entries[index].state = state
        }
    }

    static func apply(_ update: Update<KeyValueAction>, to state: inout [UInt32: UInt64]) {
        state[update.action.key] = (state[update.action.key] ?? 0) &* 31 &+ update.action.value
    }
}

/// Reference point: keep only the log and replay it all from the initial
/// state whenever an update arrives out of order.
struct ReplayFromScratchLog: NaiveLog {
    private var entries: [Update<KeyValueAction>] = []
    private var state: [UInt32: UInt64] = [:]

    mutating func insert(_ update: Update<KeyValueAction>) {
        if let last = entries.last, update.orderKey < last.orderKey {
            var position = entries.count
            while position > 0 && entries[position - 1].orderKey > update.orderKey { position -= 1 }
            entries.insert(update, at: position)
            state = [:]
            for entry in entries { FullStatePerEntryLog.apply(entry, to: &state) }
        } else {
            entries.append(update)
            FullStatePerEntryLog.apply(update, to: &state)
        }
    }
}

/// The timeline, behind the same interface, for a like-for-like comparison.
struct TimelineLog: NaiveLog {
    var timeline = Timeline(reducer: KeyValueReducer(), base: [:])

    mutating func insert(_ update: Update<KeyValueAction>) { timeline.insert(update) }
}

/// Mutable state of a reference-point benchmark, built once in `setup`.
final class ReferenceBox<Log: NaiveLog>: @unchecked Sendable {
    var log: Log
    let anchorStamp: UInt64
    let anchorKey: UInt32
    var next: UInt64 = 1

    /// `log` filled with `history` updates over `keyCount` keys; late updates
    /// will land `depth` places from the end.
    init(log: Log, history: Int, keyCount: Int, depth: Int) {
        self.log = log
        for index in 0..<history { self.log.insert(keyValueUpdate(index, keyCount: keyCount)) }
        self.anchorStamp = UInt64(history - depth + 1) * spacing
        // The anchor's own key: every late update conflicts with what follows.
        self.anchorKey = UInt32((history - depth) % keyCount)
    }

    func insertLate() {
        log.insert(
            Update(
                origin: PeerID(next), seq: 1, timestamp: Timestamp(anchorStamp - 1),
                action: KeyValueAction(key: anchorKey, value: next)))
        next += 1
    }
}

func keyValueUpdate(_ index: Int, keyCount: Int) -> Update<KeyValueAction> {
    Update(
        origin: PeerID(UInt64(index % historyOrigins + 1_000)), seq: UInt64(index / historyOrigins + 1),
        timestamp: Timestamp(UInt64(index + 1) * spacing),
        action: KeyValueAction(key: UInt32(index % keyCount), value: UInt64(index)))
}
