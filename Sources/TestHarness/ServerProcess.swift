import Foundation
import Glibc
import NIOConcurrencyHelpers

/// A `scuttleboard serve` started as a process (through `bash -c`, so that
/// a test can set limits first with `ulimit`), whose standard output is
/// collected as it comes, standard error with it.
public final class ServerProcess: Sendable {
    /// The server's pid (bash `exec`s it, so the pid is the server's).
    public let pid: pid_t
    private let output = NIOLockedValueBox("")
    private let status = NIOLockedValueBox<Int32?>(nil)

    /// Starts `executable serve` with `arguments`, after `shellPrefix` (such
    /// as `ulimit -n 64;`) in the same shell.
    public init(executable: String, arguments: [String], shellPrefix: String = "") throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw CocoaError(.fileReadUnknown) }
        // Close-on-exec: a process another test spawns meanwhile must not
        // inherit the pipe, or reading it waits for that process to end.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let quoted = ([executable, "serve"] + arguments).map { "'\($0)'" }.joined(separator: " ")
        do {
            pid = try TestProcesses.spawn(
                "/bin/bash", ["-c", "\(shellPrefix) exec \(quoted) 2>&1"], output: ends[1])
        } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        close(ends[1])
        let (output, descriptor) = (output, ends[0])
        // Reads until the process (and so the pipe's last writer) ends.
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                output.withLockedValue { $0 += String(decoding: buffer[0..<count], as: UTF8.self) }
            }
            close(descriptor)
        }
    }

    /// Everything written to standard output so far.
    public var text: String { output.withLockedValue { $0 } }

    /// Waits until the output has a line containing `needle`.
    /// - Returns: That line.
    public func line(containing needle: String, within seconds: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = text.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
            if exitStatus != nil { break }
            usleep(20_000)
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no \"\(needle)\" in: \(text)"])
    }

    /// The port from the `serving on HOST:PORT` line, or from another line
    /// that ends `HOST:PORT…` after `prefix`.
    public func port(after prefix: String) throws -> Int {
        let line = try line(containing: prefix)
        let tail = line[line.range(of: prefix)!.upperBound...]
        let digits = tail.split(separator: ":").dropFirst().first?.prefix { $0.isNumber } ?? ""
        guard let port = Int(digits) else { throw CocoaError(.fileReadCorruptFile) }
        return port
    }

    /// The exit status once the process has ended (nil while it runs).
    public var exitStatus: Int32? {
        status.withLockedValue { status in
            if status != nil { return status }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status
        }
    }

    /// Sends `signal`, then waits up to `seconds` for the process to end.
    /// - Returns: Its exit code (128 + signal when a signal ended it), or
    ///   nil when it was still running (it is then killed).
    public func stop(_ signal: Int32 = SIGTERM, within seconds: Double = 20) -> Int32? {
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let raw = exitStatus {
                return (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
            }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = exitStatus
        return nil
    }
}
