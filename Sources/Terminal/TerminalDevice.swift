import CNCursesW
import CTerminalGuard
import Dispatch
import Foundation
import Glibc
import NIOConcurrencyHelpers
import Whiteboard

/// What the terminal reports to the app.
public enum TerminalEvent: Sendable, Hashable {
    /// Decoded input.
    case input(InputEvent)
    /// The terminal now has this many columns and rows.
    case resized(columns: Int, rows: Int)
    /// Leave now: SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived (`signal`), or
    /// the terminal went away (`signal` is nil).
    case terminated(signal: Int32?)
}

/// The real terminal, through ncursesw, driven from one thread of its own:
/// every curses call (setup, drawing, teardown) and every read of the
/// keyboard happens there. The app posts whole frames with ``show(_:)`` and
/// reads ``events``; the device draws only the cells that changed.
///
/// Input is never held up by drawing: a posted frame wakes the thread at
/// once, a newer frame replaces one not yet drawn, and the thread reads the
/// keyboard between frames.
///
/// The terminal is given back in every case:
/// - when ``stop()`` is called (or the device is released);
/// - on SIGINT, SIGTERM, SIGHUP and SIGQUIT, which are reported as
///   ``TerminalEvent/terminated(signal:)`` so that the app can stop cleanly;
///   if it has not stopped the device ``stopGracePeriod`` later, the device
///   restores the terminal and ends the process itself;
/// - on a crash (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE): a
///   handler restores it with async-signal-safe calls before the crash is
///   reported (`CTerminalGuard`);
/// - on `kill -9`, which no handler sees: ``TerminalSupervisor`` runs the
///   app as a child and restores the terminal when the child dies.
public final class TerminalDevice: Sendable {
    /// Input, resizes and termination, in order.
    public let events: AsyncStream<TerminalEvent>
    /// How many colours the terminal shows.
    public var colorCount: Int { state.withLockedValue { $0.colorCount } }
    /// The size when the device started.
    public let initialSize: (columns: Int, rows: Int)
    /// How long the app has to stop after a termination signal before the
    /// device restores the terminal and ends the process.
    public static let stopGracePeriod: Duration = .seconds(2)

    private struct State {
        var pendingFrame: CellGrid?
        /// How many input events the app had handled when it posted the
        /// pending frame (counted from the start).
        var inputsHandledByFrame = 0
        var running = true
        var colorCount = 8
        /// Input-to-screen times, in microseconds, when measured.
        var latencies: [UInt64] = []
    }

    private let continuation: AsyncStream<TerminalEvent>.Continuation
    private let state = NIOLockedValueBox(State())
    /// Written to wake the terminal thread (a frame, or stop); read by it.
    private let wakePipe: WakePipe
    /// The signal handlers write signal numbers here; the thread reads them.
    private let signalPipe: WakePipe
    private let finished = DispatchSemaphore(value: 0)
    private let measuresLatency: Bool

    /// Input-to-screen times measured so far, in microseconds, oldest first
    /// (when measuring): from reading an input event to the end of drawing
    /// the first frame the app posted after handling it.
    public var inputLatencies: [UInt64] { state.withLockedValue { $0.latencies } }

    /// Takes over the terminal: raw mode, the alternate screen, mouse
    /// reporting (SGR 1006 with 1003 any-motion).
    /// - Parameter measuringLatency: Whether to measure how long each input
    ///   event takes to reach the screen (``inputLatencies``); the app then
    ///   says, with each frame, how many input events it has handled.
    /// - Throws: ``TerminalError`` when standard input or output is not a terminal.
    public init(measuringLatency: Bool = false) throws(TerminalError) {
        measuresLatency = measuringLatency
        guard isatty(0) == 1, isatty(1) == 1 else { throw .notATerminal }
        var columns: Int32 = 0
        var rows: Int32 = 0
        scuttleboard_window_size(1, &columns, &rows)
        guard columns > 0, rows > 1 else { throw .notATerminal }
        guard let wakePipe = WakePipe(), let signalPipe = WakePipe() else { throw .notATerminal }
        initialSize = (Int(columns), Int(rows))
        let (events, continuation) = AsyncStream.makeStream(of: TerminalEvent.self)
        self.events = events
        self.continuation = continuation
        self.wakePipe = wakePipe
        self.signalPipe = signalPipe
        let ready = DispatchSemaphore(value: 0)
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
    /// - Parameter inputsHandled: How many input events the app has handled
    ///   since the device started, this frame included (for latency).
    public func show(_ frame: CellGrid, inputsHandled: Int = 0) {
        state.withLockedValue {
            $0.pendingFrame = frame
            $0.inputsHandledByFrame = max($0.inputsHandledByFrame, inputsHandled)
        }
        wakePipe.ring()
    }

    /// Restores the terminal (idempotent) and waits until it is restored.
    public func stop() {
        let wasRunning = state.withLockedValue { state in
            defer { state.running = false }
            return state.running
        }
        guard wasRunning else { return }
        wakePipe.ring()
        finished.wait()
        continuation.finish()
        wakePipe.close()
        signalPipe.close()
    }

    deinit { stop() }

    // MARK: The terminal thread

    private static let mouseOn = "\u{1B}[?1003h\u{1B}[?1006h"
    private static let mouseOff = "\u{1B}[?1003l\u{1B}[?1006l"

    private func setUp() {
        setlocale(LC_ALL, "")
        // Remember the modes before curses changes them, for the crash path.
        scuttleboard_guard_arm(0)
        scuttleboard_signals_to_pipe(signalPipe.writeEnd)
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
        state.withLockedValue { $0.colorCount = colors >= 256 ? 256 : (colors >= 16 ? 16 : 8) }
        // What undoes the above on this terminal: mouse off, attributes off,
        // the cursor back, the normal screen.
        let undo = Self.mouseOff + ["sgr0", "cnorm", "rmcup"].compactMap(Self.capability).joined()
        undo.withCString { scuttleboard_guard_set_undo($0, strlen($0)) }
        writeRaw(Self.mouseOn)
    }

    private func tearDown() {
        writeRaw(Self.mouseOff)
        endwin()
        scuttleboard_guard_disarm()
        scuttleboard_signals_restore()
    }

    /// A terminfo string capability, if the terminal has it.
    private static func capability(_ name: String) -> String? {
        guard let value = name.withCString({ tigetstr($0) }), Int(bitPattern: value) != -1 else { return nil }
        return String(cString: value)
    }

    private func runLoop() {
        var parser = InputParser()
        var screen = CursesScreen()
        var buffer = [UInt8](repeating: 0, count: 4_096)
        var escapeSince: UInt64?
        var stopDeadline: (at: UInt64, signal: Int32?)?
        // When each input event not yet on screen was read, oldest first.
        var readTimes: [UInt64] = []
        var inputsOnScreen = 0
        while state.withLockedValue({ $0.running }) {
            var descriptors = [
                pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: signalPipe.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            // Wake for a pending lone Escape and for the stop deadline.
            let timeout: Int32 = escapeSince != nil || stopDeadline != nil ? 10 : 1_000
            let ready = poll(&descriptors, 3, timeout)
            if ready > 0, descriptors[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let count = read(0, &buffer, buffer.count)
                if count > 0 {
                    let readAt = DispatchTime.now().uptimeNanoseconds
                    for event in parser.feed(buffer[0..<count]) {
                        if measuresLatency { readTimes.append(readAt) }
                        continuation.yield(.input(event))
                    }
                    escapeSince = parser.hasPending ? DispatchTime.now().uptimeNanoseconds : nil
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    // The terminal went away.
                    terminate(signal: nil, deadline: &stopDeadline)
                }
            }
            if ready > 0, descriptors[2].revents & Int16(POLLIN) != 0 {
                for signal in signalPipe.drain() {
                    if Int32(signal) == SIGWINCH {
                        resize(&screen)
                    } else {
                        terminate(signal: Int32(signal), deadline: &stopDeadline)
                    }
                }
            }
            if ready > 0, descriptors[1].revents & Int16(POLLIN) != 0 { _ = wakePipe.drain() }
            if let since = escapeSince, DispatchTime.now().uptimeNanoseconds - since > 40_000_000 {
                for event in parser.flushPendingEscape() {
                    if measuresLatency { readTimes.append(since) }
                    continuation.yield(.input(event))
                }
                escapeSince = nil
            }
            if let (frame, handled) = state.withLockedValue({ state -> (CellGrid, Int)? in
                defer { state.pendingFrame = nil }
                return state.pendingFrame.map { ($0, state.inputsHandledByFrame) }
            }), scuttleboard_guard_is_armed() != 0 {
                screen.draw(frame, colorCount: colorCount)
                if measuresLatency, handled > inputsOnScreen {
                    let drawnAt = DispatchTime.now().uptimeNanoseconds
                    let shown = min(handled - inputsOnScreen, readTimes.count)
                    let latencies = readTimes.prefix(shown).map { (drawnAt - $0) / 1_000 }
                    readTimes.removeFirst(shown)
                    inputsOnScreen = handled
                    state.withLockedValue { $0.latencies += latencies }
                }
            }
            if let deadline = stopDeadline, DispatchTime.now().uptimeNanoseconds > deadline.at {
                giveUpWaitingForTheApp(signal: deadline.signal)
            }
        }
    }

    /// Tells the app to stop, and starts the clock on it.
    private func terminate(signal: Int32?, deadline: inout (at: UInt64, signal: Int32?)?) {
        continuation.yield(.terminated(signal: signal))
        guard deadline == nil else { return }
        let grace = UInt64(Self.stopGracePeriod.components.seconds) * 1_000_000_000
        deadline = (DispatchTime.now().uptimeNanoseconds + grace, signal)
    }

    /// The app did not stop in time after a termination signal: give the
    /// terminal back and end the process with the signal's status.
    private func giveUpWaitingForTheApp(signal: Int32?) -> Never {
        writeRaw(Self.mouseOff)
        endwin()
        scuttleboard_guard_disarm()
        let name = signal.map { "signal \($0)" } ?? "the terminal closing"
        let message = "scuttleboard: still running \(Self.stopGracePeriod) after \(name); exiting\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        _exit(128 + (signal ?? SIGHUP))
    }

    private func resize(_ screen: inout CursesScreen) {
        var columns: Int32 = 0
        var rows: Int32 = 0
        scuttleboard_window_size(1, &columns, &rows)
        guard columns > 0, rows > 1 else { return }
        resizeterm(rows, columns)
        screen.invalidate()
        continuation.yield(.resized(columns: Int(columns), rows: Int(rows)))
    }

    private func writeRaw(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}

/// A non-blocking pipe that wakes a `poll`: one byte per ring.
private final class WakePipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init?() {
        var ends: [Int32] = [-1, -1]
        guard scuttleboard_pipe(&ends, 1) == 0 else { return nil }
        (readEnd, writeEnd) = (ends[0], ends[1])
    }

    /// Wakes the reader; a full pipe is already ringing.
    func ring() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Everything written so far.
    func drain() -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(readEnd, &buffer, buffer.count)
            guard count > 0 else { return bytes }
            bytes += buffer[0..<count]
        }
    }

    func close() {
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }
}

/// Why the terminal could not be used.
public enum TerminalError: Error, CustomStringConvertible, Sendable {
    /// Standard input or output is not a terminal.
    case notATerminal

    /// A sentence for people.
    public var description: String {
        "this command needs a terminal: standard input and output must be a TTY"
    }
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
