import Scuttlebutt
import Whiteboard
import Workloads

/// How a bot draws.
public enum BotBehavior: String, Sendable, Hashable, CaseIterable {
    /// Freehand strokes, a frame's points per extend: stroke-extend storms.
    case scribbler
    /// Lines, rectangles and ellipses.
    case shapes
    /// Short lines of text.
    case text
    /// Erases small areas and undoes and redoes its own actions.
    case eraser
    /// Only looks: a viewer that moves its cursor.
    case lurker
}

/// One thing a bot does next.
public enum BotStep: Sendable, Hashable {
    /// Record a complete action.
    case record(BoardAction)
    /// Start a stroke; the following extends and end belong to it.
    case beginStroke(at: Point, style: Style)
    /// Add points to the current stroke.
    case extendStroke([Point])
    /// Finish the current stroke.
    case endStroke
    /// Erase what the bot sees in this area (as a person's eraser would).
    case erase(Rect)
    /// Show the cursor here (presence, never stored).
    case cursor(Point)
    /// Wait this long before the next step.
    case pause(milliseconds: UInt64)

    /// Whether the step records an action.
    public var records: Bool {
        switch self {
        case .record, .beginStroke, .extendStroke, .endStroke, .erase: true
        case .cursor, .pause: false
        }
    }
}

/// Decides what a bot draws, one gesture at a time: pure and seeded, so
/// the same seed gives the same drawing.
public struct BotBrain: Sendable {
    /// How this bot draws.
    public let behavior: BotBehavior
    /// Where it draws, in canvas pixels.
    public let area: Rect
    /// Milliseconds between the steps of a gesture (0: as fast as possible).
    public let stepDelay: UInt64
    private var random: SplitMix64
    private var position: Point

    /// A brain for `behavior`, drawing inside `area`.
    public init(behavior: BotBehavior, seed: UInt64, area: Rect, stepDelay: UInt64 = 15) {
        self.behavior = behavior
        self.area = area
        self.stepDelay = stepDelay
        random = SplitMix64(seed: seed)
        position = Point(
            (area.minX + area.maxX) / 2, (area.minY + area.maxY) / 2)
    }

    private static let phrases = [
        "hello", "ship it", "todo: tests", "looks good", "why?", "v2", "nice", "<3 this", "→ next", "done ■",
        "wip", "ideas", "meeting at 3", "scuttlebutt", "merge me",
    ]

    /// The steps of the next gesture.
    public mutating func nextGesture() -> [BotStep] {
        switch behavior {
        case .scribbler: scribble()
        case .shapes: shape()
        case .text: text()
        case .eraser: erase()
        case .lurker: wander()
        }
    }

    private mutating func randomPoint() -> Point {
        Point(
            Int32.random(in: area.minX...area.maxX, using: &random),
            Int32.random(in: area.minY...area.maxY, using: &random))
    }

    private mutating func randomStyle() -> Style {
        let brushes: [Brush] = [.solid, .solid, .solid, .glyph("*"), .glyph("#")]
        return Style(
            color: UInt8.random(in: 1...15, using: &random), brush: brushes.randomElement(using: &random)!)
    }

    private func pause() -> [BotStep] { pauses(1) }

    /// `count` step delays in a row (none when the bot draws flat out).
    private func pauses(_ count: Int) -> [BotStep] {
        stepDelay > 0 ? Array(repeating: .pause(milliseconds: stepDelay), count: count) : []
    }

    /// The most points a scribbler's pen moves through in one frame (a
    /// mouse reports a few motions per 16 ms frame); an extend carries up to 16.
    static let pointsPerFrame = 6

    private mutating func scribble() -> [BotStep] {
        var point = randomPoint()
        var steps: [BotStep] = [.cursor(point), .beginStroke(at: point, style: randomStyle())]
        var dx = Int32.random(in: -2...2, using: &random)
        var dy = Int32.random(in: -1...1, using: &random)
        var remaining = Int.random(in: 20...80, using: &random)
        while remaining > 0 {
            // What a pen moves through in one frame, sent as one extend, as
            // the terminal client sends it.
            var frame: [Point] = []
            for _ in 0..<min(remaining, Int.random(in: 1...Self.pointsPerFrame, using: &random)) {
                if Int.random(in: 0..<6, using: &random) == 0 {
                    dx = Int32.random(in: -2...2, using: &random)
                    dy = Int32.random(in: -2...2, using: &random)
                }
                point = Point(
                    min(max(point.x + dx, area.minX), area.maxX), min(max(point.y + dy, area.minY), area.maxY))
                frame.append(point)
            }
            remaining -= frame.count
            steps += pause() + [.extendStroke(frame), .cursor(point)]
        }
        position = point
        return steps + [.endStroke] + pauses(10)
    }

    private mutating func shape() -> [BotStep] {
        let from = randomPoint()
        let to = Point(
            min(area.maxX, from.x + Int32.random(in: 4...40, using: &random)),
            min(area.maxY, from.y + Int32.random(in: 4...24, using: &random)))
        let kind = [ShapeKind.line, .rectangle, .ellipse].randomElement(using: &random)!
        var steps: [BotStep] = [.cursor(from)]
        for step in 1...8 {
            let t = Int32(step)
            steps += pause() + [.cursor(Point(from.x + (to.x - from.x) * t / 8, from.y + (to.y - from.y) * t / 8))]
        }
        position = to
        return steps + [.record(.addShape(kind, from: from, to: to, style: randomStyle()))]
            + pauses(20)
    }

    private mutating func text() -> [BotStep] {
        let phrase = Self.phrases.randomElement(using: &random)!
        // The whole phrase inside the area (a character is one cell wide).
        let lastStart = max(area.minX, area.maxX - Int32(phrase.unicodeScalars.count) + 1)
        let at = Point(
            Int32.random(in: area.minX...lastStart, using: &random),
            Int32.random(in: area.minY...area.maxY, using: &random))
        position = at
        return [.cursor(at)] + pauses(10)
            + [.record(.addText(at: at, text: phrase, style: randomStyle()))]
            + pauses(30)
    }

    private mutating func erase() -> [BotStep] {
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            return [.record(.undo)] + pauses(10)
        case 1:
            return [.record(.redo)] + pauses(10)
        default:
            let corner = randomPoint()
            let area = Rect(corner: corner, Point(corner.x + 3, corner.y + 3))
            return [.cursor(corner), .erase(area)] + pauses(20)
        }
    }

    private mutating func wander() -> [BotStep] {
        let target = randomPoint()
        var steps: [BotStep] = []
        for step in 1...10 {
            let t = Int32(step)
            steps +=
                pause()
                + [
                    .cursor(
                        Point(
                            position.x + (target.x - position.x) * t / 10, position.y + (target.y - position.y) * t / 10
                        ))
                ]
        }
        position = target
        return steps
    }
}
