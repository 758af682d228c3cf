/// The authority's rule for the stable frontier (docs/PROTOCOL.md, "Acks and the frontier").
public enum StableFrontier {
    /// The highest frontier that is safe now: no later than what every
    /// connected peer has acknowledged, and no later than `now − grace`.
    /// - Parameters:
    ///   - acknowledged: Each connected peer's acknowledged clock.
    ///   - authorityClock: The authority's own clock.
    ///   - now: Wall-clock milliseconds.
    ///   - graceMilliseconds: How far behind real time the frontier stays,
    ///     so a peer that reconnects within it is not refused as stale.
    public static func compute(
        acknowledged: some Sequence<Timestamp>,
        authorityClock: Timestamp,
        now: UInt64,
        graceMilliseconds: UInt64
    ) -> Timestamp {
        var frontier = Timestamp(milliseconds: now > graceMilliseconds ? now - graceMilliseconds : 0, counter: 0)
        frontier = min(frontier, authorityClock)
        for clock in acknowledged { frontier = min(frontier, clock) }
        return frontier
    }
}
