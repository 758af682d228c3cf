import Scuttlebutt

/// How peers are wired.
public enum Topology: String, Sendable, Hashable, CaseIterable {
    /// Every client talks only to one server, the room's authority.
    case star
    /// Every peer talks to every other; no authority.
    case mesh
    /// Peers in a line, each talking to its neighbours only.
    case chain
}

/// Everything that decides a simulation run; derived from a seed by
/// ``random(seed:)`` or written out by hand in a test.
public struct SimulationScenario: Sendable, Hashable, CustomStringConvertible {
    /// The seed of every random choice in the run.
    public var seed: UInt64
    /// How peers are wired.
    public var topology: Topology
    /// Peers besides the server (star), or all peers (mesh, chain).
    public var peerCount: Int
    /// Actions each peer records over the active period.
    public var actionsPerPeer: Int
    /// Milliseconds during which peers record and faults happen.
    public var activeMilliseconds: UInt64
    /// One-way link latency range, in milliseconds.
    public var latency: ClosedRange<UInt64>
    /// Connection resets per link over the active period.
    public var resetsPerLink: Int
    /// Whether a partition splits the peers for a while, then heals.
    public var partitions: Bool
    /// Crash-and-restart events (from the persisted log) over the run.
    public var crashes: Int
    /// Peers that join only after part of the active period.
    public var lateJoiners: Int
    /// Peers that go offline for a long stretch, keep recording, and rejoin.
    public var offlinePeers: Int
    /// Timestamp strategy of every replica.
    public var timestampStrategy: TimestampStrategy
    /// Snapshot policy of every replica.
    public var snapshotPolicy: SnapshotPolicy
    /// Batch size limit, small to exercise flow control.
    public var maxBatchUpdates: Int
    /// Unacknowledged batch window.
    public var window: Int
    /// Largest difference between two peers' wall clocks, in milliseconds.
    public var clockSkew: UInt64
    /// The share of the server's durable writes that fail during the active
    /// period (a full disk, a locked database): the batch is refused with `storageUnavailable`, the
    /// link closes, and the peer sends the batch again when it reconnects.
    public var storageFailureRate: Double = 0
    /// Simulated milliseconds an append to the server's log takes; a
    /// server crash loses the appends still on their way.
    public var appendLatency: ClosedRange<UInt64> = 0...5
    /// Clients that only watch (role viewer): they record nothing and must
    /// converge all the same.
    public var viewers = 0
    /// Clients that join as bots (they draw like editors).
    public var bots = 0
    /// Whether one client reads so slowly that the server's buffer for it
    /// fills: the server cuts it off, it reconnects and catches up.
    public var slowConsumer = false
    /// Connections to the server that never send their hello (an idle
    /// socket, a port scanner): the server's lobby must time each out and
    /// give its place back, whatever else happens.
    public var silentPeers = 0

    /// A scenario drawn from `seed`.
    public static func random(seed: UInt64) -> SimulationScenario {
        var random = SeededGenerator(seed: seed)
        let topology: Topology = random.chance(0.7) ? .star : (random.chance(0.5) ? .mesh : .chain)
        let peerCount = Int.random(in: 2...5, using: &random)
        let snapshotPolicies: [SnapshotPolicy] = [
            .standard, .every(1), .every(4), SnapshotPolicy(denseTail: 3, interval: 5),
        ]
        return SimulationScenario(
            seed: seed,
            topology: topology,
            peerCount: peerCount,
            actionsPerPeer: Int.random(in: 5...30, using: &random),
            activeMilliseconds: UInt64.random(in: 2_000...20_000, using: &random),
            latency: 1...UInt64.random(in: 2...400, using: &random),
            resetsPerLink: Int.random(in: 0...2, using: &random),
            partitions: random.chance(0.3),
            crashes: Int.random(in: 0...2, using: &random),
            lateJoiners: random.chance(0.4) ? 1 : 0,
            offlinePeers: topology == .star && random.chance(0.4) ? 1 : 0,
            timestampStrategy: random.chance(0.8) ? .hybridLogical : .lamport,
            snapshotPolicy: snapshotPolicies.randomElement(using: &random)!,
            maxBatchUpdates: Int.random(in: 1...16, using: &random),
            window: Int.random(in: 1...4, using: &random),
            clockSkew: UInt64.random(in: 0...500, using: &random),
            // Drawn last, so that every other draw of a seed stays as it was.
            storageFailureRate: random.chance(0.3) ? Double.random(in: 0.05...0.3, using: &random) : 0,
            appendLatency: 0...UInt64.random(in: 0...40, using: &random),
            viewers: topology == .star && random.chance(0.3) ? 1 : 0,
            bots: topology == .star ? Int.random(in: 0...1, using: &random) : 0,
            slowConsumer: topology == .star && random.chance(0.2),
            silentPeers: topology == .star && random.chance(0.4) ? Int.random(in: 1...3, using: &random) : 0)
    }

    /// One line with every choice, to paste into a bug report.
    public var description: String {
        "seed=\(seed) topology=\(topology) peers=\(peerCount) actions=\(actionsPerPeer) "
            + "active=\(activeMilliseconds)ms latency=\(latency) resets=\(resetsPerLink) "
            + "partitions=\(partitions) crashes=\(crashes) lateJoiners=\(lateJoiners) "
            + "offline=\(offlinePeers) clock=\(timestampStrategy) snapshots=\(snapshotPolicy.denseTail)/"
            + "\(snapshotPolicy.interval) batch=\(maxBatchUpdates) window=\(window) skew=\(clockSkew)ms"
            + (storageFailureRate > 0 ? " storageFailures=\(Int(storageFailureRate * 100))%" : "")
            + " appendLatency=\(appendLatency)ms viewers=\(viewers) bots=\(bots)"
            + (slowConsumer ? " slowConsumer" : "") + (silentPeers > 0 ? " silentPeers=\(silentPeers)" : "")
    }
}
