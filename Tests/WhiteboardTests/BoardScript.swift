import Scuttlebutt
import Whiteboard

/// Writes board updates by hand: each call stamps the next update of an
/// origin at a global, increasing timestamp (or one given explicitly).
struct BoardScript {
    private(set) var updates: [Update<BoardAction>] = []
    private var seqs: [PeerID: UInt64] = [:]
    private var clock: UInt64 = 1_000

    @discardableResult
    mutating func record(_ origin: PeerID, _ action: BoardAction, at timestamp: UInt64? = nil) -> Update<BoardAction> {
        let seq = (seqs[origin] ?? 0) + 1
        seqs[origin] = seq
        clock += 10
        let update = Update(origin: origin, seq: seq, timestamp: Timestamp(timestamp ?? clock), action: action)
        updates.append(update)
        return update
    }

    /// The board the sorted reduce of every update gives.
    var board: Board {
        var board = Board()
        let reducer = BoardReducer()
        for update in updates.sorted(by: { $0.orderKey < $1.orderKey }) { reducer.reduce(&board, update) }
        return board
    }
}

let alice = PeerID(0xA11CE)
let bob = PeerID(0xB0B)
let carol = PeerID(0xCA201)
let red = Style(color: 196)
let blue = Style(color: 21)
let green = Style(color: 46)

/// A board reducer whose origins can undo only their latest `undoDepth`
/// actions, so that hidden elements leave undo's reach (and are pruned) soon.
func boardReducer(undoingAtMost undoDepth: Int) -> BoardReducer {
    var limits = BoardLimits()
    limits.undoDepth = undoDepth
    return BoardReducer(limits: limits)
}
