import CTerminalGuard
import Foundation
import Glibc

/// Runs an interactive command as a child of itself, so that the terminal
/// is given back however the child ends: even `kill -9`, which no handler
/// in the child can see.
///
/// The parent saves the terminal's modes, starts the same program again
/// with the same arguments (marked by ``childMarker`` in its environment),
/// passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to it, and keeps what it
/// writes to standard error. When the child has ended, the parent restores
/// the terminal if the child died of a signal, then prints the child's
/// standard error (a crash report, a one-line error), readable on the
/// normal screen, and exits with the child's status (128 + the signal when
/// it was killed, as a shell reports it). Unless `SWIFT_BACKTRACE` says
/// otherwise, the Swift runtime's crash report is part of that standard
/// error (`interactive=no,output-to=stderr,preset=friendly`).
public enum TerminalSupervisor {
    /// The environment variable that marks the supervised child.
    public static let childMarker = "SCUTTLEBOARD_SUPERVISED"
    /// The Swift runtime's crash report settings.
    static let backtraceVariable = "SWIFT_BACKTRACE"
    /// At most this much of the child's standard error is kept (the end).
    static let keptErrorBytes = 256 * 1024

    /// Whether this process is the supervised child.
    public static var isChild: Bool { ProcessInfo.processInfo.environment[childMarker] != nil }

    /// In an interactive command on a terminal, runs the command as a
    /// supervised child and returns the status to exit with; returns nil in
    /// the child itself, or when there is no terminal to guard (the command
    /// then runs here, as usual).
    /// - Parameter environment: Extra variables for the child.
    public static func superviseIfNeeded(environment: [String: String] = [:]) -> Int32? {
        guard !isChild, isatty(0) == 1, isatty(1) == 1 else { return nil }
        return supervise(environment: environment)
    }

    private static func supervise(environment extra: [String: String]) -> Int32? {
        var errorPipe: [Int32] = [-1, -1]
        guard scuttleboard_pipe(&errorPipe, 0) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        var variables = ProcessInfo.processInfo.environment
        variables[childMarker] = "1"
        // The Swift runtime's crash report goes to standard error, which the
        // parent prints once the terminal is back, instead of to the screen
        // with a prompt that waits half a minute for a key.
        if variables[Self.backtraceVariable] == nil {
            variables[Self.backtraceVariable] = "interactive=no,output-to=stderr,preset=friendly"
        }
        variables.merge(extra) { _, new in new }
        let argv = CommandLine.arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Remember the terminal as it is now, before the child changes it.
        scuttleboard_guard_arm(0)
        defer { scuttleboard_guard_disarm() }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/proc/self/exe", &actions, nil, argv, envp)
        close(errorPipe[1])
        defer { close(errorPipe[0]) }
        guard spawned == 0 else {
            // Not supervised, then: run the command in this process.
            return nil
        }
        scuttleboard_forward_signals(child)
        let (captured, status) = collect(errorPipe[0], until: child)
        let signal = status & 0x7F
        if signal != 0 { scuttleboard_guard_restore() }
        // The terminal may be gone (a hang-up): what cannot be written is lost,
        // and the exit status still says what happened.
        try? FileHandle.standardError.write(contentsOf: captured)
        guard signal != 0 else { return (status >> 8) & 0xFF }
        let name = String(cString: strsignal(signal))
        let ending = signal == SIGKILL ? "was killed" : "died"
        try? FileHandle.standardError.write(
            contentsOf:
                Data("scuttleboard: the client \(ending) (signal \(signal), \(name)); the terminal is restored\n".utf8))
        return 128 + signal
    }

    /// What the child writes to `descriptor` while it runs, keeping the
    /// last ``keptErrorBytes``, and its wait status once it has ended.
    ///
    /// The pipe is not read to its end: a process the child started may
    /// hold it open after the child is gone (the Swift runtime's crash
    /// reporter can, when it hangs). Once the child has ended, what is
    /// still coming is read for at most two seconds.
    private static func collect(_ descriptor: Int32, until child: pid_t) -> (Data, Int32) {
        var kept = Data()
        var dropped = false
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var status: Int32 = 0
        var endedAt: ContinuousClock.Instant?
        while true {
            if endedAt == nil {
                let waited = waitpid(child, &status, WNOHANG)
                if waited == child || (waited < 0 && errno != EINTR) { endedAt = .now }
            }
            if let endedAt, ContinuousClock.now - endedAt > .seconds(2) { break }
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else {
                // Quiet: when the child has ended, nothing more is coming.
                if endedAt != nil { break }
                continue
            }
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if endedAt != nil { break }
                // Closed while the child runs (it closed its standard error).
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                endedAt = .now
                break
            }
            kept.append(contentsOf: buffer[0..<count])
            if kept.count > keptErrorBytes {
                kept.removeFirst(kept.count - keptErrorBytes)
                dropped = true
            }
        }
        return (dropped ? Data("(earlier output dropped)\n".utf8) + kept : kept, status)
    }
}
