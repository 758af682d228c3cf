import CNCursesW
import Dispatch
import Foundation
import Synchronization
import Whiteboard

/// What the terminal reports to the app.
public enum TerminalEvent: Sendable, Hashable {
    /// Decoded input.
    case input(InputEvent)
    /// The terminal now has this many columns and rows.
    case resized(columns: Int, rows: Int)
    /// SIGTERM or SIGHUP arrived: leave now.
    case terminated
}

/// The real terminal, through ncursesw, driven from one thread of its own:
/// every curses call (setup, drawing, teardown) and every read of the
/// keyboard happens there. The app posts whole frames with ``show(_:)`` and
/// reads ``events``; the device draws only the cells that changed.
///
/// The terminal is restored when ``stop()`` is called, when the process
/// exits, and on SIGTERM or SIGHUP (reported as ``TerminalEvent/terminated``
/// so the app can stop cleanly).
public final class TerminalDevice: Sendable {
    /// Input, resizes and termination, in order.
    public let events: AsyncStream<TerminalEvent>
    /// How many colours the terminal shows.
    public var colorCount: Int { state.withLock { $0.colorCount } }
    /// The size when the device started.
    public let initialSize: (columns: Int, rows: Int)

    private struct State {
        var pendingFrame: CellGrid?
        var running = true
        var colorCount = 8
    }

    private let continuation: AsyncStream<TerminalEvent>.Continuation
    private let state = Mutex(State())
    private let resized: ResizeFlag
    private let finished = DispatchSemaphore(value: 0)
    private let signalSources: Mutex<[any DispatchSourceSignal]>

    /// Takes over the terminal: raw mode, the alternate screen, mouse
    /// reporting (SGR 1006 with 1003 any-motion).
    /// - Throws: ``TerminalError`` when standard input or output is not a terminal.
    public init() throws(TerminalError) {
        guard isatty(0) == 1, isatty(1) == 1 else { throw .notATerminal }
        var columns: Int32 = 0
        var rows: Int32 = 0
        scuttleboard_window_size(1, &columns, &rows)
        guard columns > 0, rows > 1 else { throw .notATerminal }
        initialSize = (Int(columns), Int(rows))
        let (events, continuation) = AsyncStream.makeStream(of: TerminalEvent.self)
        self.events = events
        self.continuation = continuation
        let ready = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "scuttleboard.terminal.signals")
        let resized = ResizeFlag()
        self.resized = resized
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGWINCH, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if number == SIGWINCH {
                    resized.raise()
                } else {
                    continuation.yield(.terminated)
                }
            }
            source.resume()
            sources.append(source)
        }
        signalSources = Mutex(sources)
        let thread = Thread { [self] in
            setUp()
            ready.signal()
            runLoop()
            tearDown()
            finished.signal()
        }
        thread.name = "scuttleboard.terminal"
        thread.start()
        ready.wait()
    }

    /// The size of the terminal on standard output, if it is one.
    public static func currentSize() -> (columns: Int, rows: Int)? {
        var columns: Int32 = 0
        var rows: Int32 = 0
        scuttleboard_window_size(1, &columns, &rows)
        return columns > 0 && rows > 0 ? (Int(columns), Int(rows)) : nil
    }

    /// Draws `frame` (the whole screen) as soon as the terminal thread can;
    /// a newer frame replaces one not yet drawn.
    public func show(_ frame: CellGrid) {
        state.withLock { $0.pendingFrame = frame }
    }

    /// Restores the terminal (idempotent) and waits until it is restored.
    public func stop() {
        let wasRunning = state.withLock { state in
            defer { state.running = false }
            return state.running
        }
        guard wasRunning else { return }
        finished.wait()
        signalSources.withLock { sources in for source in sources { source.cancel() } }
        continuation.finish()
    }

    deinit { stop() }

    // MARK: The terminal thread

    private static let mouseOn = "\u{1B}[?1003h\u{1B}[?1006h"
    private static let mouseOff = "\u{1B}[?1003l\u{1B}[?1006l"

    private func setUp() {
        setlocale(LC_ALL, "")
        initscr()
        raw()
        noecho()
        nonl()
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
        }
        let colors = Int(scuttleboard_colors())
        state.withLock { $0.colorCount = colors >= 256 ? 256 : (colors >= 16 ? 16 : 8) }
        TerminalRestorer.activate()
        writeRaw(Self.mouseOn)
    }

    private func tearDown() {
        writeRaw(Self.mouseOff)
        endwin()
        TerminalRestorer.deactivate()
    }

    private func runLoop() {
        var parser = InputParser()
        var screen = CursesScreen()
        var buffer = [UInt8](repeating: 0, count: 4_096)
        var escapeSince: UInt64?
        while state.withLock({ $0.running }) {
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 15) > 0, descriptor.revents & Int16(POLLIN) != 0 {
                let count = read(0, &buffer, buffer.count)
                if count > 0 {
                    for event in parser.feed(buffer[0..<count]) { continuation.yield(.input(event)) }
                    escapeSince = parser.hasPending ? DispatchTime.now().uptimeNanoseconds : nil
                } else if count == 0 {
                    // The terminal went away.
                    continuation.yield(.terminated)
                }
            }
            if let since = escapeSince, DispatchTime.now().uptimeNanoseconds - since > 40_000_000 {
                for event in parser.flushPendingEscape() { continuation.yield(.input(event)) }
                escapeSince = nil
            }
            if resized.take() {
                var columns: Int32 = 0
                var rows: Int32 = 0
                scuttleboard_window_size(1, &columns, &rows)
                if columns > 0, rows > 1 {
                    resizeterm(rows, columns)
                    screen.invalidate()
                    continuation.yield(.resized(columns: Int(columns), rows: Int(rows)))
                }
            }
            if let frame = state.withLock({ state -> CellGrid? in
                defer { state.pendingFrame = nil }
                return state.pendingFrame
            }) {
                screen.draw(frame, colorCount: colorCount)
            }
        }
    }

    private func writeRaw(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}

/// Set by SIGWINCH, taken by the terminal thread.
private final class ResizeFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func raise() { flag.store(true, ordering: .releasing) }

    func take() -> Bool { flag.exchange(false, ordering: .acquiring) }
}

/// Why the terminal could not be used.
public enum TerminalError: Error, CustomStringConvertible, Sendable {
    /// Standard input or output is not a terminal.
    case notATerminal

    /// A sentence for people.
    public var description: String {
        "this command needs a terminal (standard input and output must be a TTY); try --headless"
    }
}

/// Restores the terminal if the process exits while curses is active.
private enum TerminalRestorer {
    nonisolated(unsafe) static var registered = false
    static let active = Atomic<Bool>(false)

    static func activate() {
        active.store(true, ordering: .releasing)
        guard !registered else { return }
        registered = true
        atexit {
            guard TerminalRestorer.active.exchange(false, ordering: .acquiringAndReleasing) else { return }
            let off = Array("\u{1B}[?1003l\u{1B}[?1006l".utf8)
            _ = off.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            endwin()
        }
    }

    static func deactivate() { active.store(false, ordering: .releasing) }
}

/// The cells curses shows, and colour pairs allocated on demand. Used only
/// on the terminal thread.
private struct CursesScreen {
    private var shown: CellGrid?
    private var pairs: [UInt32: Int32] = [:]

    /// Forgets what is shown (after a resize): the next frame is drawn whole.
    mutating func invalidate() {
        shown = nil
        clear()
    }

    mutating func draw(_ frame: CellGrid, colorCount: Int) {
        let previous = shown.flatMap { $0.columns == frame.columns && $0.rows == frame.rows ? $0 : nil }
        let rows = min(frame.rows, Int(scuttleboard_lines()))
        let columns = min(frame.columns, Int(scuttleboard_cols()))
        for row in 0..<rows {
            for column in 0..<columns {
                let cell = frame[column, row]
                if let previous, previous[column, row] == cell { continue }
                put(cell, column: column, row: row, colorCount: colorCount)
            }
        }
        shown = frame
        refresh()
    }

    private mutating func put(_ cell: Cell, column: Int, row: Int, colorCount: Int) {
        var wide: [wchar_t] = [wchar_t(bitPattern: cell.character.value), 0]
        var character = cchar_t()
        let pair = self.pair(
            foreground: cell.foreground.map { Self.fit($0, colorCount) },
            background: cell.background.map { Self.fit($0, colorCount) })
        setcchar(&character, &wide, 0, Int16(truncatingIfNeeded: pair), nil)
        if row == Int(scuttleboard_lines()) - 1 && column == Int(scuttleboard_cols()) - 1 {
            // Writing the bottom-right cell would scroll; insert it instead.
            mvins_wch(Int32(row), Int32(column), &character)
        } else {
            mvadd_wch(Int32(row), Int32(column), &character)
        }
    }

    private mutating func pair(foreground: UInt8?, background: UInt8?) -> Int32 {
        guard has_colors(), foreground != nil || background != nil else { return 0 }
        let key = UInt32(foreground.map { UInt16($0) } ?? 256) << 16 | UInt32(background.map { UInt16($0) } ?? 256)
        if let pair = pairs[key] { return pair }
        let next = Int32(pairs.count + 1)
        guard next < min(scuttleboard_color_pairs(), 32_767) else { return 0 }
        init_pair(
            Int16(next), foreground.map { Int16($0) } ?? -1, background.map { Int16($0) } ?? -1)
        pairs[key] = next
        return next
    }

    /// A palette index the terminal can show: the nearest of its colours.
    static func fit(_ index: UInt8, _ colorCount: Int) -> UInt8 {
        guard Int(index) >= colorCount else { return index }
        let (red, green, blue) = Palette.rgb(index)
        var best: UInt8 = 0
        var bestDistance = Int.max
        for candidate in 0..<UInt8(min(colorCount, 16)) {
            let (r, g, b) = Palette.rgb(candidate)
            let distance =
                (Int(r) - Int(red)) * (Int(r) - Int(red)) + (Int(g) - Int(green)) * (Int(g) - Int(green))
                + (Int(b) - Int(blue)) * (Int(b) - Int(blue))
            if distance < bestDistance {
                bestDistance = distance
                best = candidate
            }
        }
        return best
    }
}
