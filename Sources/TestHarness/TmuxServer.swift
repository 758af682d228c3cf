import Foundation
import Glibc
import Testing

/// tmux on a socket of its own, so a developer's sessions are untouched:
/// panes run programs as a person would, keys and SGR mouse sequences are
/// typed into them, and screens are read back with capture-pane.
///
/// ``stop()`` kills the server and everything running in its panes; call
/// it in a `defer`. (``StopsWhatItStarts`` stops whatever is left, and
/// reports it as a failure.)
public final class TmuxServer: Sendable {
    /// The socket's name (`tmux -L`).
    public let socket = "scuttleboard-test-\(UUID().uuidString.prefix(8))"

    /// A server is started by the first session.
    public init() {}

    /// Runs a tmux command and returns what it printed (capture-pane).
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        try TestProcesses.output(of: "tmux", ["-L", socket, "-f", "/dev/null"] + arguments, searchingPath: true).output
    }

    /// A detached session of `columns` × `rows` running `command` in sh.
    public func start(_ name: String, columns: Int, rows: Int, _ command: String) throws {
        var arguments = [
            "new-session", "-d", "-s", name, "-x", "\(columns)", "-y", "\(rows)", "-e", "TERM=xterm-256color",
        ]
        if let marker = TestProcesses.marker { arguments += ["-e", "\(TestProcesses.variable)=\(marker)"] }
        try run(arguments + ["sh", "-c", command])
    }

    /// Types `text` literally (escape sequences included).
    public func type(_ name: String, _ text: String) throws {
        try run(["send-keys", "-t", "\(name):", "-l", text])
    }

    /// The lines on `name`'s screen.
    public func screen(_ name: String) throws -> [String] {
        try run(["capture-pane", "-p", "-t", "\(name):"]).split(
            separator: "\n", omittingEmptySubsequences: false
        )
        .map(String.init)
    }

    /// The pid of the shell in `name`'s pane.
    public func panePID(_ name: String) throws -> pid_t? {
        pid_t(
            try run(["display-message", "-p", "-t", "\(name):", "#{pane_pid}"])
                .trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Polls the screen until `condition` holds, failing after `seconds`
    /// with the screen.
    @discardableResult
    public func waitFor(
        _ name: String, _ what: String, seconds: Int = 20, _ condition: ([String]) -> Bool
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var lines: [String] = []
        while ContinuousClock.now < deadline {
            lines = try screen(name)
            if condition(lines) { return lines }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what); \(name)'s screen:\n\(lines.joined(separator: "\n"))")
        throw CancellationError()
    }

    /// Kills the server; the programs in its panes get SIGHUP, and whatever
    /// still runs two seconds later (the server, or something in a pane's
    /// session) gets SIGKILL.
    public func stop() {
        let server = pid_t(
            ((try? run(["display-message", "-p", "#{pid}"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
        let panes = ((try? run(["list-panes", "-a", "-F", "#{pane_pid}"])) ?? "")
            .split(separator: "\n").compactMap { pid_t($0) }
        _ = try? run(["kill-server"])
        func left() -> [pid_t] {
            Self.processes(inSessions: panes) + (server.map { Self.isRunning($0) ? [$0] : [] } ?? [])
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline && !left().isEmpty { usleep(20_000) }
        for pid in left() { kill(pid, SIGKILL) }
        // SIGKILL takes effect a moment later; be done only once it has.
        let killed = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < killed && !left().isEmpty { usleep(10_000) }
    }

    /// Whether `pid` is a live process (not a zombie).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    deinit { stop() }

    /// Live processes whose session is one of `sessions`.
    static func processes(inSessions sessions: [pid_t]) -> [pid_t] {
        guard !sessions.isEmpty else { return [] }
        let wanted = Set(sessions)
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After the command: state, ppid, pgrp, session, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 3, fields[0] != "Z", let session = pid_t(fields[3]) else { return nil }
            return wanted.contains(session) ? pid : nil
        }
    }
}
