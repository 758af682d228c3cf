import Foundation

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
}
