import Scuttlebutt
import Whiteboard

/// What the replay wants after a key.
public enum ReplayEffect: Sendable, Hashable {
    /// Leave.
    case quit
}

/// Plays a room's history back: pause, step, seek and speed, as a pure
/// state machine over the log in total order.
///
/// Time follows the updates' own clocks, scaled by the speed; a quiet spell
/// longer than a second is cut to one second, so a replay never idles.
/// Seeking goes back to the nearest kept board (one every 512 updates;
/// boards are persistent, so keeping them is cheap) and replays from there.
public struct ReplayController: Sendable {
    /// Every update, in total order.
    public let updates: [Update<BoardAction>]
    /// How many updates the board shows.
    public private(set) var position = 0
    /// The board after `position` updates.
    public private(set) var board = Board(spatiallyIndexed: true)
    /// Whether time runs.
    public private(set) var isPlaying = true
    /// How many times faster than it happened.
    public private(set) var speed: Double
    /// The log time (milliseconds) the replay has reached.
    public private(set) var playhead: UInt64

    private static let keptEvery = 512
    private var kept: [Int: Board] = [0: Board(spatiallyIndexed: true)]
    private let reducer = BoardReducer()

    /// The speeds a replay takes: from an eighth to 1024 times real time.
    public static let speeds: ClosedRange<Double> = 0.125...1_024

    /// The replay's keys, for the help overlay.
    public static let helpLines = [
        "Space         play or pause",
        ". / ,         one update forward / back",
        "] / [         seek a tenth forward / back",
        "0 $ Home End  the start / the end of the history",
        "+ / -         twice / half as fast",
    ]

    /// A replay of `updates` (in total order) at `speed` (clamped to ``speeds``).
    public init(updates: [Update<BoardAction>], speed: Double = 1) {
        self.updates = updates
        self.speed = speed.isNaN ? 1 : min(Self.speeds.upperBound, max(Self.speeds.lowerBound, speed))
        playhead = updates.first?.timestamp.milliseconds ?? 0
    }

    /// Whether everything has been shown.
    public var isAtEnd: Bool { position == updates.count }

    /// The log time of the update shown last, if any.
    public var shownTime: UInt64? { position > 0 ? updates[position - 1].timestamp.milliseconds : nil }

    /// Lets `milliseconds` of real time pass.
    public mutating func advance(milliseconds: UInt64) {
        guard isPlaying, !isAtEnd else { return }
        playhead &+= UInt64((Double(milliseconds) * speed).rounded())
        let next = updates[position].timestamp.milliseconds
        if next > playhead &+ 1_000 { playhead = next - 1_000 }
        while position < updates.count, updates[position].timestamp.milliseconds <= playhead { step() }
        if isAtEnd { isPlaying = false }
    }

    /// Handles a key; keys it does not use return nil (the caller may pan).
    public mutating func handle(_ key: Key) -> [ReplayEffect]? {
        switch key {
        case .character("q"), .control("c"): return [.quit]
        case .character(" "):
            if isAtEnd { seek(to: 0) }
            isPlaying.toggle()
        case .character("."):
            isPlaying = false
            if !isAtEnd { step() }
        case .character(","):
            isPlaying = false
            seek(to: position - 1)
        case .character("]"): seek(to: position + max(1, updates.count / 10))
        case .character("["): seek(to: position - max(1, updates.count / 10))
        case .character("0"), .home: seek(to: 0)
        case .character("$"), .end: seek(to: updates.count)
        case .character("+"): speed = min(Self.speeds.upperBound, speed * 2)
        case .character("-"): speed = max(Self.speeds.lowerBound, speed / 2)
        default: return nil
        }
        return []
    }

    /// Shows the board after `target` updates.
    public mutating func seek(to target: Int) {
        let target = min(max(0, target), updates.count)
        if target < position {
            let base = (target / Self.keptEvery) * Self.keptEvery
            position = base
            board = kept[base] ?? Board(spatiallyIndexed: true)
        }
        while position < target { step() }
        if position > 0 { playhead = updates[position - 1].timestamp.milliseconds }
        if isAtEnd { isPlaying = false }
    }

    private mutating func step() {
        reducer.reduce(&board, updates[position])
        position += 1
        if position % Self.keptEvery == 0 { kept[position] = board }
    }

    /// What the status bar says: position, state, speed.
    public var summary: String {
        let percent = updates.isEmpty ? 100 : position * 100 / updates.count
        let state = isAtEnd ? "end" : (isPlaying ? "playing" : "paused")
        let speedText = speed >= 1 ? "×\(Int(speed))" : "×1/\(Int((1 / speed).rounded()))"
        return "\(position)/\(updates.count) (\(percent)%) \(state) \(speedText)"
    }
}
