import Client
import Foundation
import Scuttlebutt
import Terminal
import Whiteboard

/// The interactive board in a terminal, for `draw`, `view` and `demo`: the
/// terminal's input goes through the ``DrawingController``, what it records
/// goes to the ``BoardClient``, and the screen is drawn from the client's
/// latest ``ClientView`` by the ``ScreenComposer``.
///
/// Input first, frames paced: every turn handles all the input that has
/// arrived before drawing anything, and draws at most one frame per
/// ``frameInterval``, from the latest board, however many updates arrived
/// since the last one. Nothing queues between the network and the screen:
/// the client's changes are a doorbell and a view, not a stream of events.
struct BoardScreen {
    /// How the viewer frames the board.
    enum Framing: Equatable {
        /// Wherever the person pans (draw).
        case free
        /// The whole board, centred (view --fit).
        case fit
        /// Centred on someone's cursor (view --follow).
        case follow(String)
    }

    /// How a session at the board ended.
    enum Ending: Equatable {
        /// The person quit, or a signal asked us to.
        case quit
        /// The server refused this client before it ever got in.
        case refused(String)
    }

    /// At most one frame per this interval (about 60 a second).
    static let frameInterval: Duration = .milliseconds(16)
    /// When set, the file where the input-to-screen time of every input
    /// event (in microseconds, one per line) is written at the end.
    static let latencyLogVariable = "SCUTTLEBOARD_LATENCY_LOG"

    let client: BoardClient
    let name: String
    let color: UInt8
    let isReadOnly: Bool
    var framing = Framing.free
    /// The command's own keys, for the help overlay.
    var modeHelp: [String] = []
    /// Shown in the status bar until the person does something (the demo's
    /// browser address).
    var openingNotice: String?

    /// Takes over the terminal until the person quits; the terminal is
    /// restored whatever happens.
    func run() async throws -> Ending {
        let latencyLog = ProcessInfo.processInfo.environment[Self.latencyLogVariable]
        let device = try TerminalDevice(measuringLatency: latencyLog != nil)
        let inbox = ScreenInbox()
        let changes = client.changes()
        let feeders = [
            Task {
                for await event in device.events { inbox.post(event) }
            },
            Task {
                for await _ in changes { inbox.markChanged() }
            },
        ]
        let connection = Task { await client.run() }
        defer {
            for feeder in feeders { feeder.cancel() }
            connection.cancel()
            device.stop()
            if let latencyLog {
                let lines = device.inputLatencies.map(String.init).joined(separator: "\n")
                _ = FileManager.default.createFile(atPath: latencyLog, contents: Data((lines + "\n").utf8))
            }
        }
        return await loop(inbox, device: device)
    }

    /// What the loop carries from turn to turn.
    private struct Turn {
        var controller: DrawingController
        var composer: ScreenComposer
        var framing: Framing
        var lastPresence: BoardPresence?
        var everLive = false
        /// Input events handled (or dropped) so far, for the device's latency.
        var inputsHandled = 0
    }

    private func loop(_ inbox: ScreenInbox, device: TerminalDevice) async -> Ending {
        let size = device.initialSize
        var controller = DrawingController(
            viewport: Viewport(origin: .zero, columns: size.columns, rows: size.rows - 1), color: color,
            isReadOnly: isReadOnly, colorCount: device.colorCount)
        controller.modeHelp = modeHelp
        controller.notice = openingNotice
        var turn = Turn(
            controller: controller, composer: ScreenComposer(columns: size.columns, rows: size.rows),
            framing: framing)
        if !isReadOnly {
            // Others see us in the room at once, before we touch anything.
            let presence = BoardPresence(
                name: name, color: color, cursor: nil, tool: controller.tool, viewport: controller.viewport.canvasRect)
            turn.lastPresence = presence
            await client.setPresence(presence)
        }
        var lastFrame: ContinuousClock.Instant?
        while true {
            var batch = await inbox.next()
            if let ending = await handle(batch, &turn) { return ending }
            // Pace the frames; input that arrives meanwhile still goes first.
            if let lastFrame, ContinuousClock.now < lastFrame + Self.frameInterval {
                try? await Task.sleep(until: lastFrame + Self.frameInterval, clock: .continuous)
                batch = inbox.take()
                if let ending = await handle(batch, &turn) { return ending }
            }
            // The stroke's points dragged through this frame, as one extend.
            _ = await perform(turn.controller.endOfFrame(), &turn)
            let view = client.view
            if case .live = view.connection { turn.everLive = true }
            if case .refused(let reason) = view.connection, !turn.everLive { return .refused(reason) }
            device.show(frame(view, &turn), inputsHandled: turn.inputsHandled)
            lastFrame = .now
        }
    }

    /// Handles a batch's terminal events in order.
    /// - Returns: How the session ends, if one of them ends it.
    private func handle(_ batch: ScreenInbox.Batch, _ turn: inout Turn) async -> Ending? {
        turn.inputsHandled += batch.droppedMotions
        for event in batch.events {
            switch event {
            case .input(let input):
                turn.inputsHandled += 1
                if await handle(input, &turn) { return .quit }
            case .resized(let columns, let rows):
                turn.controller.resize(columns: columns, rows: rows - 1)
                turn.composer = ScreenComposer(columns: columns, rows: rows)
            case .terminated:
                return .quit
            }
        }
        return nil
    }

    /// Handles one input event.
    /// - Returns: Whether the person quit.
    private func handle(_ input: InputEvent, _ turn: inout Turn) async -> Bool {
        if isReadOnly, case .key(let key) = input, let changed = viewerKey(key, framing: turn.framing) {
            turn.framing = changed
            return false
        }
        if case .mouse(let mouse) = input, mouse.button == .left || mouse.button.isWheel, turn.framing != .free,
            mouse.action == .press
        {
            // Panning by hand leaves fit and follow.
            turn.framing = .free
        }
        if await perform(turn.controller.handle(input, board: client.view.board), &turn) { return true }
        if !isReadOnly {
            let controller = turn.controller
            let presence = BoardPresence(
                name: name, color: controller.color, cursor: controller.pointer, tool: controller.tool,
                viewport: controller.viewport.canvasRect)
            if presence != turn.lastPresence {
                turn.lastPresence = presence
                await client.setPresence(presence)
            }
        }
        return false
    }

    /// Records what the controller asked for.
    /// - Returns: Whether the person quit.
    private func perform(_ effects: [DrawingEffect], _ turn: inout Turn) async -> Bool {
        for effect in effects {
            switch effect {
            case .quit:
                return true
            case .record(let action):
                do {
                    let update = try await client.record(action)
                    switch action {
                    case .beginStroke, .erase: turn.controller.gestureBegan(update.id)
                    default: break
                    }
                } catch {
                    turn.controller.notice = "\(error)"
                }
            }
        }
        return false
    }

    /// `view`'s own keys: f fits the board, n follows the next person, Esc
    /// stops following.
    private func viewerKey(_ key: Key, framing: Framing) -> Framing? {
        switch key {
        case .character("f"):
            return framing == .fit ? .free : .fit
        case .character("n"):
            let names = client.view.others.values.map(\.name).sorted()
            guard !names.isEmpty else { return framing }
            if case .follow(let current) = framing, let index = names.firstIndex(of: current) {
                return .follow(names[(index + 1) % names.count])
            }
            return .follow(names[0])
        case .escape:
            return .free
        default:
            return nil
        }
    }

    /// The keys `view` adds, for the help overlay.
    static let viewerHelp = [
        "f             fit the whole board to the screen (again: free)",
        "n             follow the next person's cursor; Esc: stop",
    ]

    /// The screen for `view` as it is now.
    private func frame(_ view: ClientView, _ turn: inout Turn) -> CellGrid {
        let viewport = turn.controller.viewport
        var following: String?
        switch turn.framing {
        case .free:
            break
        case .fit:
            let fitted = ViewerFraming.fitting(view.board.visibleBounds, columns: viewport.columns, rows: viewport.rows)
            turn.controller.show(origin: fitted.origin, mode: fitted.mode)
        case .follow(let person):
            following = person
            if let cursor = view.others.values.first(where: { $0.name == person })?.cursor {
                turn.controller.show(
                    origin: ViewerFraming.centered(
                        on: cursor, columns: viewport.columns, rows: viewport.rows, mode: viewport.mode),
                    mode: viewport.mode)
            }
        }
        return turn.composer.compose(
            board: view.board, controller: turn.controller, others: Array(view.others.values),
            status: Self.status(of: view, room: client.configuration.room, following: following))
    }

    /// The status bar's facts for a client's view.
    static func status(of view: ClientView, room: String, following: String? = nil) -> StatusLine {
        let connected: Bool
        var status: StatusLine
        switch view.connection {
        case .live:
            status = StatusLine(room: room, connection: "live", isLive: true)
            connected = true
        case .syncing:
            status = StatusLine(room: room, connection: "syncing…", isLive: false)
            connected = true
        case .connecting:
            status = StatusLine(room: room, connection: "connecting…", isLive: false)
            connected = false
        case .offline(let reason):
            status = StatusLine(
                room: room, connection: "offline", detail: reason.map { "\($0); drawing goes on" }, isLive: false)
            connected = false
        case .refused(let reason):
            status = StatusLine(room: room, connection: "refused", detail: reason, isLive: false)
            connected = false
        }
        if connected {
            status.online = view.others.count + 1
            status.latency = view.roundTrip
        }
        status.pending = view.pending
        status.following = following
        return status
    }
}

extension MouseEvent.Button {
    /// Whether this is the wheel.
    var isWheel: Bool { self == .wheelUp || self == .wheelDown }
}
