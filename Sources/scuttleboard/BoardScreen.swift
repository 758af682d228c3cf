import Client
import Foundation
import Scuttlebutt
import Terminal
import Whiteboard

/// The interactive board in a terminal, for `draw`, `view` and `demo`: the
/// terminal's input goes through the ``DrawingController``, what it records
/// goes to the ``BoardClient``, and every change redraws the screen from the
/// ``ScreenComposer``.
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

    let client: BoardClient
    let name: String
    let color: UInt8
    let isReadOnly: Bool
    var framing = Framing.free

    private enum Event {
        case terminal(TerminalEvent)
        case client(ClientEvent)
        case tick
    }

    /// Takes over the terminal until the person quits; the terminal is
    /// restored whatever happens.
    func run() async throws {
        let device = try TerminalDevice()
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let clientEvents = await client.events()
        let feeders = [
            Task {
                for await event in device.events { sink.yield(.terminal(event)) }
            },
            Task {
                for await event in clientEvents { sink.yield(.client(event)) }
            },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    sink.yield(.tick)
                }
            },
        ]
        let connection = Task { await client.run() }
        defer {
            for feeder in feeders { feeder.cancel() }
            connection.cancel()
            device.stop()
        }
        await loop(events, device: device)
    }

    private func loop(_ events: AsyncStream<Event>, device: TerminalDevice) async {
        let size = device.initialSize
        var controller = DrawingController(
            viewport: Viewport(origin: .zero, columns: size.columns, rows: size.rows - 1), color: color,
            isReadOnly: isReadOnly, colorCount: device.colorCount)
        var composer = ScreenComposer(columns: size.columns, rows: size.rows)
        var framing = self.framing
        var latency: UInt64?
        var connection = ConnectionState.connecting
        var lastPresence: BoardPresence?
        if !isReadOnly {
            // Others see us in the room at once, before we touch anything.
            let presence = BoardPresence(
                name: name, color: color, cursor: nil, tool: controller.tool, viewport: controller.viewport.canvasRect)
            lastPresence = presence
            await client.setPresence(presence)
        }
        await redraw(&composer, controller: &controller, framing: framing, latency: latency, connection: connection)
            .map(device.show)
        for await event in events {
            switch event {
            case .terminal(.input(let input)):
                if isReadOnly, case .key(let key) = input, let changed = await viewerKey(key, framing: framing) {
                    framing = changed
                    break
                }
                if case .mouse(let mouse) = input, mouse.button == .left || mouse.button.isWheel, framing != .free,
                    mouse.action == .press
                {
                    // Panning by hand leaves fit and follow.
                    framing = .free
                }
                let board = await client.board
                for effect in controller.handle(input, board: board) {
                    switch effect {
                    case .quit:
                        return
                    case .record(let action):
                        do {
                            let update = try await client.record(action)
                            if case .beginStroke = action { controller.strokeBegan(update.id) }
                        } catch {
                            controller.notice = "\(error)"
                        }
                    }
                }
                if !isReadOnly {
                    let presence = BoardPresence(
                        name: name, color: controller.color, cursor: controller.pointer, tool: controller.tool,
                        viewport: controller.viewport.canvasRect)
                    if presence != lastPresence {
                        lastPresence = presence
                        await client.setPresence(presence)
                    }
                }
            case .terminal(.resized(let columns, let rows)):
                controller.resize(columns: columns, rows: rows - 1)
                composer = ScreenComposer(columns: columns, rows: rows)
            case .terminal(.terminated):
                return
            case .client(.roundTrip(let milliseconds)):
                latency = milliseconds
            case .client(.state(let state)):
                connection = state
            case .client(.received):
                // boardChanged follows and redraws.
                continue
            case .client(.boardChanged), .client(.presence), .tick:
                break
            }
            if let frame = await redraw(
                &composer, controller: &controller, framing: framing, latency: latency, connection: connection)
            {
                device.show(frame)
            }
        }
    }

    /// `view`'s own keys: f fits the board, n follows the next person, Esc
    /// stops following.
    private func viewerKey(_ key: Key, framing: Framing) async -> Framing? {
        switch key {
        case .character("f"):
            return framing == .fit ? .free : .fit
        case .character("n"):
            let names = await client.others.values.map(\.name).sorted()
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

    private func redraw(
        _ composer: inout ScreenComposer, controller: inout DrawingController, framing: Framing, latency: UInt64?,
        connection: ConnectionState
    ) async -> CellGrid? {
        let board = await client.board
        let others = await client.others
        let viewport = controller.viewport
        var following: String?
        switch framing {
        case .free:
            break
        case .fit:
            let fitted = ViewerFraming.fitting(board.visibleBounds, columns: viewport.columns, rows: viewport.rows)
            controller.show(origin: fitted.origin, mode: fitted.mode)
        case .follow(let person):
            following = person
            if let cursor = others.values.first(where: { $0.name == person })?.cursor {
                controller.show(
                    origin: ViewerFraming.centered(
                        on: cursor, columns: viewport.columns, rows: viewport.rows, mode: viewport.mode),
                    mode: viewport.mode)
            }
        }
        let status = StatusLine(
            room: client.configuration.room, online: others.count + 1, latency: latency,
            pending: await client.pendingCount, connection: Self.describe(connection),
            isLive: connection == .live, following: following)
        return composer.compose(
            board: board, controller: controller, others: Array(others.values), status: status)
    }

    /// The status bar's words for a connection state.
    static func describe(_ state: ConnectionState) -> String {
        switch state {
        case .live: "live"
        case .syncing: "syncing…"
        case .connecting: "connecting…"
        case .offline(let reason):
            "offline (\(reason ?? "not connected")): drawing continues, syncs when back"
        }
    }
}

extension MouseEvent.Button {
    /// Whether this is the wheel.
    var isWheel: Bool { self == .wheelUp || self == .wheelDown }
}
