/// What a swarm reads from a server's Prometheus `/metrics` text.
public struct ServerMetrics: Sendable, Hashable {
    /// Resident memory of the server process, in bytes.
    public var residentMemoryBytes: Int?
    /// Updates held in memory above the rooms' horizons: the history.
    public var retainedUpdates: Int?
    /// Elements on the rooms' boards: the content.
    public var boardElements: Int?
    /// CPU seconds the server process has used.
    public var cpuSeconds: Double?
    /// Sessions the server ended, by reason.
    public var sessionsEnded: [String: Int] = [:]
    /// Updates a room's replica rejected, by reason.
    public var updatesRejected: [String: Int] = [:]

    /// Reads the metrics a swarm reports from Prometheus text; lines it does
    /// not know are skipped.
    public init(prometheusText text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            let reason = Self.label("reason", in: series)
            switch (name, reason) {
            case ("scuttleboard_resident_memory_bytes", nil): residentMemoryBytes = Int(value)
            case ("scuttleboard_retained_updates", nil): retainedUpdates = Int(value)
            case ("scuttleboard_board_elements", nil): boardElements = Int(value)
            case ("scuttleboard_cpu_seconds_total", nil): cpuSeconds = value
            case ("scuttleboard_refusals_total", let reason?): sessionsEnded[reason, default: 0] += Int(value)
            case ("scuttleboard_rejects_total", let reason?): updatesRejected[reason, default: 0] += Int(value)
            default: continue
            }
        }
    }

    /// The value of `label` in a series like `name{label="value"}`.
    static func label(_ label: String, in series: Substring) -> String? {
        guard let start = series.range(of: "\(label)=\"")?.upperBound,
            let end = series[start...].firstIndex(of: "\"")
        else { return nil }
        return String(series[start..<end])
    }
}
