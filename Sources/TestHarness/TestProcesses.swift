import Foundation
import Glibc

/// Test support: every process a test starts is marked, so that whatever a
/// test leaves running can be found and stopped, even when the test failed.
///
/// A test run under ``StopsWhatItStarts`` gets a marker of its own (a task
/// local); every process started through this module, and everything those
/// start in turn (tmux servers, their panes, a supervised client's child),
/// inherits it in its environment as ``variable``. After the test, anything
/// still carrying the marker is reported and stopped.
public enum TestProcesses {
    /// The environment variable that carries a test's marker.
    public static let variable = "SCUTTLEBOARD_TEST_MARKER"

    /// The running test's marker.
    @TaskLocal public static var marker: String?

    /// This process's environment plus the running test's marker: the
    /// environment for any process a test starts.
    public static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let marker { environment[variable] = marker }
        return environment
    }

    /// A process that carries a marker.
    public struct Running: Sendable, Hashable, CustomStringConvertible {
        /// Its process id.
        public var pid: pid_t
        /// Its command line.
        public var command: String

        /// `pid command`.
        public var description: String { "\(pid) \(command)" }
    }

    /// The processes whose environment carries `marker` (zombies excluded).
    public static func running(marker: String) -> [Running] {
        let needle = Array("\(variable)=\(marker)".utf8) + [0]
        let own = getpid()
        var found: [Running] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != own else { continue }
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                [UInt8](environ).split(separator: 0).contains(where: { Array($0) + [0] == needle })
            else { continue }
            if let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = status.lastIndex(of: ")"),
                status[status.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
            {
                continue
            }
            let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            found.append(Running(pid: pid, command: command ?? "?"))
        }
        return found
    }

    /// The live children of `parent`.
    public static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After the command: state, ppid, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, fields[0] != "Z", pid_t(fields[1]) == parent else { return nil }
            return pid
        }
    }

    /// Stops every process carrying `marker`: SIGTERM, then SIGKILL to what
    /// is still there after `grace`.
    /// - Returns: What was running.
    @discardableResult
    public static func stop(marker: String, grace: Duration = .seconds(2)) -> [Running] {
        let left = running(marker: marker)
        guard !left.isEmpty else { return [] }
        for process in left { kill(process.pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline && !running(marker: marker).isEmpty { usleep(50_000) }
        for process in running(marker: marker) { kill(process.pid, SIGKILL) }
        let killed = ContinuousClock.now + grace
        while ContinuousClock.now < killed && !running(marker: marker).isEmpty { usleep(10_000) }
        return left
    }

    /// Runs `executable` with `arguments` (and the test's environment plus
    /// `extra`) to its end.
    /// - Returns: Its wait status and everything it wrote to standard output.
    public static func output(
        of executable: String, _ arguments: [String], searchingPath: Bool = false,
        environment extra: [String: String] = [:]
    ) throws -> (status: Int32, output: String) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw CocoaError(.fileReadUnknown) }
        // Close-on-exec: a process another test spawns meanwhile must not
        // inherit the pipe, or reading it waits for that process to end.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let child: pid_t
        do {
            child = try spawn(
                executable, arguments, output: ends[1], searchingPath: searchingPath, environment: extra)
        } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        close(ends[1])
        defer { close(ends[0]) }
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = read(ends[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        return (status, String(decoding: output, as: UTF8.self))
    }

    /// ``output(of:_:searchingPath:environment:)`` on a thread of its own:
    /// waiting for a process must not hold one of the cooperative pool's
    /// threads (two on this machine), or the in-process servers of tests
    /// running beside it starve.
    public static func output(
        of executable: String, _ arguments: [String], searchingPath: Bool = false,
        environment extra: [String: String] = [:]
    ) async throws -> (status: Int32, output: String) {
        // The marker is a task local: read here, before the hop.
        let environment = self.environment.merging(extra) { _, new in new }
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try output(of: executable, arguments, searchingPath: searchingPath, environment: environment)
                    })
            }.start()
        }
    }

    /// Starts `executable` with `arguments` and the test's environment,
    /// standard input from /dev/null and every descriptor above standard
    /// error closed; its output goes to `output` (a descriptor) when given,
    /// else to /dev/null.
    /// - Returns: The child's pid.
    public static func spawn(
        _ executable: String, _ arguments: [String], output: Int32? = nil, searchingPath: Bool = false,
        environment extra: [String: String] = [:]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // A child that outlives the call (a tmux server) must not keep this
        // process's pipes open: other tests wait for those to close.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.merging(extra) { _, new in new }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // The test runner's threads block most signals, and a child would
        // inherit that mask: one that does not unblock SIGTERM itself (a
        // Redis server) could then never be stopped by it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let spawned =
            searchingPath
            ? posix_spawnp(&child, executable, &actions, &attributes, argv, envp)
            : posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw CocoaError(.executableNotLoadable) }
        return child
    }
}
