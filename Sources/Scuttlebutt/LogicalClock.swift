/// How a replica stamps its updates.
public enum TimestampStrategy: Sendable, Hashable {
    /// Hybrid logical clock: 48-bit milliseconds plus a 16-bit counter.
    /// Timestamps stay close to real time, so time-based history limits and
    /// the frontier's grace window mean something.
    case hybridLogical
    /// A pure Lamport counter: no physical time at all.
    case lamport
}

/// A clock that stamps local updates and follows remote ones, and refuses to
/// be dragged into the future by a remote that lies about the time.
///
/// Every timestamp it issues is strictly greater than every timestamp it
/// issued or observed before, so an origin never reuses a timestamp and
/// `(timestamp, origin)` is a total order with no ties.
public struct LogicalClock: Sendable {
    /// Which kind of timestamps this clock issues.
    public let strategy: TimestampStrategy
    /// How far ahead of local time a remote timestamp may be before it is
    /// refused: milliseconds for the hybrid clock, counter steps for Lamport.
    public let maxSkew: UInt64
    /// The latest timestamp issued or observed.
    public private(set) var latest: Timestamp

    /// A clock that has seen nothing yet.
    public init(strategy: TimestampStrategy, maxSkew: UInt64, latest: Timestamp = .zero) {
        self.strategy = strategy
        self.maxSkew = maxSkew
        self.latest = latest
    }

    /// Issues the next timestamp for a local update.
    /// - Parameter now: Wall-clock milliseconds (ignored by the Lamport clock).
    public mutating func tick(now: UInt64) -> Timestamp {
        switch strategy {
        case .hybridLogical:
            let physical = Timestamp(milliseconds: now, counter: 0)
            latest = physical > latest ? physical : Timestamp(latest.rawValue + 1)
        case .lamport:
            latest = Timestamp(latest.rawValue + 1)
        }
        return latest
    }

    /// Whether a remote timestamp is acceptable, without changing the clock.
    /// - Returns: `false` when `remote` lies further than `maxSkew` ahead.
    public func accepts(_ remote: Timestamp, now: UInt64) -> Bool {
        switch strategy {
        case .hybridLogical:
            return remote.milliseconds <= now &+ maxSkew
        case .lamport:
            return remote.rawValue <= latest.rawValue &+ maxSkew
        }
    }

    /// Moves the clock past a remote timestamp that was accepted.
    public mutating func observe(_ remote: Timestamp) {
        if remote > latest { latest = remote }
    }
}
