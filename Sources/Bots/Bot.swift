import Client
import Scuttlebutt
import Whiteboard

/// A bot peer: a ``BotBrain`` driving a ``BoardClient``, one gesture after
/// another, until its task is cancelled. Its cursor is shown to everyone
/// as presence.
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
    private let brain: BotBrain

    /// A bot that draws through `client` as `brain` decides.
    public init(client: BoardClient, brain: BotBrain, name: String, color: UInt8) {
        self.client = client
        self.brain = brain
        self.name = name
        self.color = color
    }

    /// Draws until the task is cancelled.
    /// - Returns: What it did.
    public func run() async -> Statistics {
        var brain = self.brain
        var statistics = Statistics()
        var stroke: ElementID?
        let tool = Self.tool(for: brain.behavior)
        while !Task.isCancelled {
            for step in brain.nextGesture() {
                guard !Task.isCancelled else { break }
                do {
                    switch step {
                    case .record(let action):
                        try await client.record(action)
                        statistics.recorded += 1
                    case .beginStroke(let point, let style):
                        stroke = try await client.record(.beginStroke(at: point, style: style)).id
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
                    case .cursor(let point):
                        await client.setPresence(
                            BoardPresence(name: name, color: color, cursor: point, tool: tool, viewport: nil))
                    case .pause(let milliseconds):
                        try await Task.sleep(for: .milliseconds(milliseconds))
                    }
                } catch is CancellationError {
                    break
                } catch {
                    // The board refused it (an undo with nothing to undo, say).
                    statistics.refused += 1
                }
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
