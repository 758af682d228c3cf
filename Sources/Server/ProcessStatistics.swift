import Foundation
import NIOCore

/// What Linux's /proc says about a process: its memory and the CPU time it
/// used. For the server's metrics, and for a swarm measuring a server by
/// its process id.
public enum ProcessStatistics {
    /// Resident memory of this process, in bytes (0 where /proc is unavailable).
    public static func residentMemoryBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// CPU seconds (user and system, all threads) process `pid` has used,
    /// this process when nil; nil when /proc cannot tell (no such process).
    public static func cpuSeconds(of pid: Int32? = nil) -> Double? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/stat"
        // The command name (field 2) is in parentheses and may hold spaces:
        // fields are counted after its closing parenthesis, from the state
        // (field 3); utime and stime are fields 14 and 15.
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// How many CPUs this process may run on (`taskset`, cgroup cpusets),
    /// from the `Cpus_allowed_list` of /proc/self/status; nil where /proc
    /// cannot tell.
    public static func allowedCPUCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return cpuCount(inList: line.dropFirst("Cpus_allowed_list:".count))
    }

    /// The CPUs a kernel CPU list names: `0-3,8,10-11` is 7; nil when it
    /// does not parse or names none.
    static func cpuCount(inList list: Substring) -> Int? {
        var count = 0
        let trimmed = list.trimmingCharacters(in: .whitespacesAndNewlines)
        for range in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = range.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                count += high - low + 1
            default:
                return nil
            }
        }
        return count > 0 ? count : nil
    }
}

extension ScuttleboardServer {
    /// Sizes NIO's shared event loop group to the CPUs this process may run
    /// on, when that is fewer than the machine has: NIO counts the machine's
    /// cores, so a server pinned with `taskset -c 0` would otherwise run two
    /// loops on one core and hand work between them (measured pinned at 100
    /// updates/s per bot: 37 → 34 µs of CPU per delivered update, p99 at 500/s
    /// 215 → 164 ms). `NIO_SINGLETON_GROUP_LOOP_COUNT`, when set, wins.
    ///
    /// Call it once, first thing, before anything in the process uses NIO.
    /// - Returns: The number of loops it chose, or nil when it left NIO's
    ///   choice alone.
    @discardableResult
    public static func fitEventLoopsToAllowedCPUs() -> Int? {
        guard ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil,
            let allowed = ProcessStatistics.allowedCPUCount(), allowed < System.coreCount
        else { return nil }
        NIOSingletons.groupLoopCountSuggestion = allowed
        return allowed
    }
}
