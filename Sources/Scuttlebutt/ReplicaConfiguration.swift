/// How much applied history a replica keeps above its base.
public enum HistoryLimit: Sendable, Hashable {
    /// Keep everything (memory grows with the log).
    case unbounded
    /// Keep at most this many entries.
    case count(Int)
    /// Keep entries younger than this many milliseconds (by their
    /// hybrid-logical timestamps).
    case age(milliseconds: UInt64)
    /// Keep everything above the stable frontier the authority announces:
    /// rewind depth is then bounded by the in-flight window, not by uptime.
    case frontier
}

/// How long a replica keeps each origin's updates for anti-entropy.
public enum LogRetention: Sendable, Hashable {
    /// Every update ever received (a peer can serve any digest).
    case everything
    /// Only updates above the timeline's horizon; a peer that lacks older
    /// ones must be sent a snapshot (or served from durable storage).
    case aboveHorizon
}

/// The knobs of a ``ReplicatedStore``.
public struct ReplicaConfiguration: Sendable, Hashable {
    /// How updates are stamped.
    public var timestampStrategy: TimestampStrategy = .hybridLogical
    /// How far ahead of local time a remote update may be stamped:
    /// milliseconds (hybrid clock) or counter steps (Lamport).
    public var maxClockSkew: UInt64 = 60_000
    /// Which timeline entries keep snapshots.
    public var snapshotPolicy: SnapshotPolicy = .standard
    /// How much history stays above the base.
    public var historyLimit: HistoryLimit = .unbounded
    /// How long updates stay available to send to other peers.
    public var logRetention: LogRetention = .everything
    /// Whether this replica is the authority of its log: it then refuses
    /// updates stamped below its own frontier, so everything below the
    /// frontier is final for everyone.
    public var isAuthority = false

    /// The defaults: hybrid clock, 60 s skew, standard snapshots, unbounded.
    public init() {}
}
