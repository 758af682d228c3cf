import CoreMetrics
import NIOConcurrencyHelpers
import class Prometheus.PrometheusCollectorRegistry
import struct Prometheus.PrometheusMetricsFactory
import Storage

/// The server's metrics, through swift-metrics into a Prometheus registry
/// of this server's own (``ScuttleboardServer/metricsText()`` renders it at
/// `GET /metrics`). Not the process-wide `MetricsSystem`: servers in one
/// process (tests, the in-process swarm, benchmarks) keep theirs apart.
///
/// What happens is counted as it happens (``ServerCounters`` forwards
/// every event); what a room holds and what the process uses are read when
/// scraped (``refresh(_:log:isHealthy:)``), from the gauges the rooms
/// publish, so a scrape never waits on a room. Two latency histograms are
/// fed by the rooms: durable appends (`scuttleboard_append_seconds`: a
/// batch handed to the durable log until it is on disk) and fan-out
/// (`scuttleboard_fanout_seconds`: a batch on disk until it is queued for
/// every session of its room).
final class ServerInstruments: @unchecked Sendable {
    // Unchecked: swift-metrics' Counter and Timer are not marked Sendable;
    // their Prometheus handlers are atomics and locks, safe from any thread.
    // The rest is immutable or behind `state`.

    /// Where everything is kept, and rendered from.
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    let connections: Counter
    let updatesIn: Counter
    let updatesOut: Counter
    let snapshotsSent: Counter
    let checkpoints: Counter
    let storageFailures: Counter
    let loadGaps: Counter
    let descriptorExhaustions: Counter
    let rewinds: Counter
    /// Cluster: lease renewals that succeeded, rooms taken over from a node
    /// whose lease lapsed, writes refused by a lease epoch, and the rooms
    /// this node holds.
    let leaseRenewals: Counter
    let failovers: Counter
    let fencedWrites: Counter
    let roomsHeld: Gauge
    private let storedUpdates: Counter
    private let commits: Counter
    private let commitSeconds: FloatingPointCounter
    private let cpuSeconds: FloatingPointCounter
    private let rooms: Gauge
    private let sessions: Gauge
    private let handshakes: Gauge
    private let retainedUpdates: Gauge
    private let boardElements: Gauge
    private let storageHealthy: Gauge
    private let residentMemory: Gauge
    /// A batch handed to the durable log until it is on disk.
    let appendDuration: Timer
    /// A batch on disk until it is queued for every session of its room.
    let fanOutDuration: Timer

    /// Counters by label value, made on first use; totals last read.
    private let state = NIOLockedValueBox(State())

    private struct State {
        var refusals: [String: Counter] = [:]
        var rejects: [String: Counter] = [:]
        /// Totals read at the last scrape, to count what was added since.
        var storedUpdates = 0
        var commits = 0
        var commitNanoseconds: UInt64 = 0
        var cpuSeconds = 0.0
    }

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Appends wait for a group commit (a few ms); fan-out is a room's
        // turn (µs to ms).
        let latencies: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory.durationHistogramBuckets = [
            "scuttleboard_append_seconds": latencies, "scuttleboard_fanout_seconds": latencies,
        ]
        self.factory = factory
        func counter(_ name: String) -> Counter { Counter(label: name, factory: factory) }
        func gauge(_ name: String) -> Gauge { Gauge(label: name, factory: factory) }
        connections = counter("scuttleboard_connections_total")
        updatesIn = counter("scuttleboard_updates_in_total")
        updatesOut = counter("scuttleboard_updates_out_total")
        snapshotsSent = counter("scuttleboard_snapshots_sent_total")
        checkpoints = counter("scuttleboard_checkpoints_total")
        storageFailures = counter("scuttleboard_storage_failures_total")
        loadGaps = counter("scuttleboard_load_gaps_total")
        descriptorExhaustions = counter("scuttleboard_descriptor_exhaustions_total")
        rewinds = counter("scuttleboard_rewinds_total")
        leaseRenewals = counter("scuttleboard_lease_renewals_total")
        failovers = counter("scuttleboard_failovers_total")
        fencedWrites = counter("scuttleboard_fenced_writes_total")
        roomsHeld = gauge("scuttleboard_cluster_rooms_held")
        storedUpdates = counter("scuttleboard_stored_updates_total")
        commits = counter("scuttleboard_commits_total")
        commitSeconds = FloatingPointCounter(label: "scuttleboard_commit_seconds_total", factory: factory)
        cpuSeconds = FloatingPointCounter(label: "scuttleboard_cpu_seconds_total", factory: factory)
        rooms = gauge("scuttleboard_rooms")
        sessions = gauge("scuttleboard_sessions")
        handshakes = gauge("scuttleboard_handshakes")
        retainedUpdates = gauge("scuttleboard_retained_updates")
        boardElements = gauge("scuttleboard_board_elements")
        storageHealthy = gauge("scuttleboard_storage_healthy")
        residentMemory = gauge("scuttleboard_resident_memory_bytes")
        appendDuration = Timer(label: "scuttleboard_append_seconds", factory: factory)
        fanOutDuration = Timer(label: "scuttleboard_fanout_seconds", factory: factory)
    }

    /// A session the server ended, by the reason's stable name.
    func refused(_ reason: String) {
        let factory = factory
        state.withLockedValue { state in
            state.refusals[
                reason,
                default: Counter(
                    label: "scuttleboard_refusals_total", dimensions: [("reason", reason)], factory: factory)]
        }.increment()
    }

    /// Updates a room's replica refused, by reason.
    func rejected(_ count: Int, reason: String) {
        guard count > 0 else { return }
        let factory = factory
        state.withLockedValue { state in
            state.rejects[
                reason,
                default: Counter(
                    label: "scuttleboard_rejects_total", dimensions: [("reason", reason)], factory: factory)]
        }.increment(by: count)
    }

    /// Reads what is read when scraped: the rooms' published gauges, the
    /// durable log's totals, the process's memory and CPU.
    func refresh(_ counters: ServerCounters.Snapshot, log: DurableLogStatistics, isHealthy: Bool) {
        let loaded = counters.rooms.values
        rooms.record(loaded.count)
        sessions.record(counters.connectionsOpen)
        handshakes.record(counters.handshakesOpen)
        retainedUpdates.record(loaded.reduce(0) { $0 + $1.unfolded })
        boardElements.record(loaded.reduce(0) { $0 + $1.elements })
        storageHealthy.record(isHealthy ? 1 : 0)
        residentMemory.record(ProcessStatistics.residentMemoryBytes())
        let cpu = ProcessStatistics.cpuSeconds() ?? 0
        // What was added since the last scrape, decided under the lock so
        // that two scrapes at once never count it twice.
        let added = state.withLockedValue { state in
            defer {
                state.storedUpdates = max(state.storedUpdates, log.updates)
                state.commits = max(state.commits, log.transactions)
                state.commitNanoseconds = max(state.commitNanoseconds, log.commitNanoseconds)
                state.cpuSeconds = max(state.cpuSeconds, cpu)
            }
            return (
                updates: max(0, log.updates - state.storedUpdates),
                commits: max(0, log.transactions - state.commits),
                nanoseconds: log.commitNanoseconds > state.commitNanoseconds
                    ? log.commitNanoseconds - state.commitNanoseconds : 0,
                cpu: max(0, cpu - state.cpuSeconds)
            )
        }
        storedUpdates.increment(by: added.updates)
        commits.increment(by: added.commits)
        commitSeconds.increment(by: Double(added.nanoseconds) / 1e9)
        cpuSeconds.increment(by: added.cpu)
    }

    /// Prometheus text of every metric.
    func text() -> String {
        registry.emitToString()
    }
}

extension Timer {
    /// Records a duration measured on a clock.
    func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
