import ArgumentParser
import Foundation
import Scuttlebutt
import Storage
import Terminal
import Whiteboard

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a room's history back in the terminal (the database is only read).",
        discussion: """
            Keys: Space plays or pauses, . and , step one update forward and back, ] and [ seek by a tenth, \
            0 and $ (Home, End) go to the start and the end, + and - change the speed, arrows pan, \
            m switches to braille pixels, ? shows the keys, q quits.
            """)

    @OptionGroup var database: StoredDatabaseOptions

    @Option(help: "The room to replay.", transform: ArgumentParsing.room)
    var room: String

    @Option(
        parsing: .unconditional,
        help: "How many times faster than it happened, 0.125 to 1024 (quiet spells are cut to a second).",
        transform: { try ArgumentParsing.number($0, in: ReplayController.speeds) })
    var speed: Double = 1

    func run() async throws {
        let updates = try await database.read { log in
            let updates = try await log.history(room: room).map { stored in
                guard let update = stored.decoded(with: BoardActionCodec.decode) else {
                    throw CommandFailure(message: "update \(stored.origin)#\(stored.seq) does not decode")
                }
                return update
            }
            guard !updates.isEmpty else {
                let names = (try? await log.rooms().map(\.name)) ?? []
                let others = names.isEmpty ? "it holds no rooms" : "rooms there: \(names.joined(separator: ", "))"
                throw CommandFailure(
                    message: "room \"\(room)\" has nothing stored in \(database.location); \(others)")
            }
            return updates
        }
        try superviseTerminal()
        do {
            try await play(updates)
        } catch {
            throw CommandFailure(error)
        }
    }

    private func play(_ updates: [Update<BoardAction>]) async throws {
        let device = try TerminalDevice()
        defer { device.stop() }
        var replay = ReplayController(updates: updates, speed: speed)
        let size = device.initialSize
        var controller = DrawingController(
            viewport: Viewport(origin: .zero, columns: size.columns, rows: size.rows - 1), isReadOnly: true,
            colorCount: device.colorCount)
        controller.modeHelp = ReplayController.helpLines
        // Start framed on everything the room ever drew.
        var whole = ReplayController(updates: updates)
        whole.seek(to: updates.count)
        let framed = ViewerFraming.fitting(whole.board.visibleBounds, columns: size.columns, rows: size.rows - 1)
        controller.show(origin: framed.origin, mode: framed.mode)
        var composer = ScreenComposer(columns: size.columns, rows: size.rows)
        let (ticks, tickSink) = AsyncStream.makeStream(of: TerminalEvent?.self)
        let feeders = [
            Task { for await event in device.events { tickSink.yield(event) } },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(33))
                    tickSink.yield(nil)
                }
            },
        ]
        defer { feeders.forEach { $0.cancel() } }
        var last = ContinuousClock.now
        for await event in ticks {
            switch event {
            case .input(.key(let key)):
                if controller.showsHelp {
                    _ = controller.handle(.key(key), board: replay.board)
                } else if let effects = replay.handle(key) {
                    if effects.contains(.quit) { return }
                } else if controller.handle(.key(key), board: replay.board).contains(.quit) {
                    return
                }
            case .input(let input):
                _ = controller.handle(input, board: replay.board)
            case .resized(let columns, let rows):
                controller.resize(columns: columns, rows: rows - 1)
                composer = ScreenComposer(columns: columns, rows: rows)
            case .terminated:
                return
            case nil:
                let now = ContinuousClock.now
                let elapsed = now - last
                last = now
                replay.advance(
                    milliseconds: UInt64(
                        elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
            }
            let time = replay.shownTime.map { Self.clock($0) } ?? "start"
            let status = StatusLine(
                room: "replay \(room)", connection: "\(replay.summary) \(time)", isLive: replay.isPlaying)
            device.show(composer.compose(board: replay.board, controller: controller, others: [], status: status))
        }
    }

    /// A log time as UTC hours, minutes and seconds.
    static func clock(_ milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1_000
        func two(_ value: UInt64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(seconds / 3_600 % 24)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) UTC"
    }
}
