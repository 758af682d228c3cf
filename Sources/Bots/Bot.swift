import Client
import Scuttlebutt
import Whiteboard

/// How fast a bot goes through its gestures.
public enum BotPacing: Sendable, Hashable {
    /// With the pauses its brain asks for, as a person would draw.
    case asDrawn
    /// With no pauses at all.
    case flatOut
    /// Flat out for `burst` milliseconds, then idle for `rest`, again and again.
    case bursty(burst: UInt64, rest: UInt64)
    /// This many actions per second on a fixed schedule, whatever pauses the
    /// brain asks for; a bot that falls behind goes on at once, so a slow
    /// server shows as latency, not as less load.
    case rate(actionsPerSecond: Double)
}

/// A bot peer: a ``BotBrain`` driving a ``BoardClient``, one gesture after
/// another, until its task is cancelled. Its cursor is shown to everyone
/// as presence. A tidy bot (``keepsAtMost``) deletes its oldest drawing
/// whenever it has more than that many, so a board it shares with people
/// stays legible.
public struct Bot: Sendable {
    /// What a bot did.
    public struct Statistics: Sendable, Hashable {
        /// Actions recorded.
        public var recorded = 0
        /// Actions the board refused (they are dropped).
        public var refused = 0
    }

    /// The client it draws through.
    public let client: BoardClient
    /// Its name, shown beside its cursor.
    public let name: String
    /// Its cursor colour.
    public let color: UInt8
    /// At most this many of its own drawings stay on the board; nil keeps all.
    public let keepsAtMost: Int?
    private let brain: BotBrain

    /// A bot that draws through `client` as `brain` decides.
    /// - Parameter keepsAtMost: When given, the bot deletes its oldest
    ///   drawing whenever it has more than this many on the board.
    public init(client: BoardClient, brain: BotBrain, name: String, color: UInt8, keepsAtMost: Int? = nil) {
        self.client = client
        self.brain = brain
        self.name = name
        self.color = color
        self.keepsAtMost = keepsAtMost.map { max(1, $0) }
    }

    /// Draws until the task is cancelled.
    /// - Returns: What it did.
    public func run(pacing: BotPacing = .asDrawn) async -> Statistics {
        let start = ContinuousClock.now
        var brain = self.brain
        var statistics = Statistics()
        var stroke: ElementID?
        var drawings: [ElementID] = []
        let tool = Self.tool(for: brain.behavior)
        var schedule = start
        while !Task.isCancelled {
            for step in brain.nextGesture() {
                guard !Task.isCancelled else { break }
                do {
                    if case .rate(let perSecond) = pacing, step.records {
                        schedule += .seconds(1 / perSecond)
                        if schedule > .now { try await Task.sleep(until: schedule, clock: .continuous) }
                    }
                    switch step {
                    case .record(let action):
                        let update = try await client.record(action)
                        statistics.recorded += 1
                        if case .addShape = action { drawings.append(update.id) }
                        if case .addText = action { drawings.append(update.id) }
                    case .beginStroke(let point, let style):
                        let id = try await client.record(.beginStroke(at: point, style: style)).id
                        stroke = id
                        drawings.append(id)
                        statistics.recorded += 1
                    case .extendStroke(let points):
                        guard let stroke else { continue }
                        try await client.record(.extendStroke(stroke, points: points))
                        statistics.recorded += 1
                    case .endStroke:
                        guard let open = stroke else { continue }
                        try await client.record(.endStroke(open))
                        statistics.recorded += 1
                        stroke = nil
                    case .erase(let area):
                        let ids = await client.board.erasable(in: area)
                        guard !ids.isEmpty else { continue }
                        try await client.record(.erase(ids))
                        statistics.recorded += 1
                    case .cursor(let point):
                        await client.setPresence(
                            BoardPresence(name: name, color: color, cursor: point, tool: tool, viewport: nil))
                    case .pause(let milliseconds):
                        switch pacing {
                        case .asDrawn:
                            try await Task.sleep(for: .milliseconds(milliseconds))
                        case .flatOut, .rate:
                            await Task.yield()
                        case .bursty(let burst, let rest):
                            let elapsed = (ContinuousClock.now - start).milliseconds
                            let phase = elapsed % (burst + rest)
                            if phase < burst {
                                await Task.yield()
                            } else {
                                try await Task.sleep(for: .milliseconds(burst + rest - phase))
                            }
                        }
                    }
                } catch is CancellationError {
                    break
                } catch {
                    // The board refused it (an undo with nothing to undo, say).
                    statistics.refused += 1
                }
            }
            // Between gestures, never inside a stroke.
            if let keepsAtMost, drawings.count > keepsAtMost, !Task.isCancelled {
                let oldest = drawings.removeFirst()
                if (try? await client.record(.delete(oldest))) != nil { statistics.recorded += 1 }
            }
        }
        return statistics
    }

    /// The tool a bot shows others.
    static func tool(for behavior: BotBehavior) -> DrawingTool {
        switch behavior {
        case .scribbler: .freehand
        case .shapes: .rectangle
        case .text: .text
        case .eraser: .eraser
        case .lurker: .select
        }
    }
}
