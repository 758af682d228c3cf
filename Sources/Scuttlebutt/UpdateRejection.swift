/// Why a replica refused an update. A refused update leaves no trace: not in
/// the digest, not in the clock, not in the state, and it is never relayed.
public enum UpdateRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// The update skips sequence numbers: links deliver each origin's updates
    /// in order, so this is a protocol violation.
    case sequenceGap(origin: PeerID, expected: UInt64, received: UInt64)
    /// The update is not stamped later than its origin's previous update, so
    /// it could not have a unique place in the total order.
    case nonMonotonicTimestamp(UpdateID, timestamp: Timestamp, previous: Timestamp)
    /// The update is stamped further ahead of local time than the allowed skew.
    case farFuture(UpdateID, timestamp: Timestamp)
    /// The update, stamped `timestamp`, lies below the authority's stable
    /// frontier; its origin must re-stamp it (and every later one) above the
    /// frontier and resend. The stamp lets the origin ignore a refusal of a
    /// version it has already re-stamped.
    case stale(UpdateID, timestamp: Timestamp, frontier: Timestamp)
    /// The reducer refused the action.
    case invalid(UpdateID, reason: String)
    /// Only an update's author may give it to the authority: a peer offered
    /// another origin's update (one the authority lacks, say, after losing
    /// it). The peer should stop offering that origin's updates on this link.
    case notAuthor(UpdateID)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .sequenceGap(let origin, let expected, let received):
            return "sequence gap from \(origin): expected seq \(expected), received \(received)"
        case .nonMonotonicTimestamp(let id, let timestamp, let previous):
            return "update \(id) is stamped \(timestamp), not after its origin's previous stamp \(previous)"
        case .farFuture(let id, let timestamp):
            return "update \(id) is stamped \(timestamp), too far in the future"
        case .stale(let id, let timestamp, let frontier):
            return "update \(id) is stamped \(timestamp), below the stable frontier \(frontier); rebase it"
        case .invalid(let id, let reason):
            return "update \(id) is invalid: \(reason)"
        case .notAuthor(let id):
            return "update \(id) was not written by this peer; only its author may give it to the server"
        }
    }

    /// A short, stable name for metrics and logs.
    public var reasonCode: String {
        switch self {
        case .sequenceGap: return "sequence_gap"
        case .nonMonotonicTimestamp: return "non_monotonic_timestamp"
        case .farFuture: return "far_future"
        case .stale: return "stale"
        case .invalid: return "invalid"
        case .notAuthor: return "not_author"
        }
    }
}

/// What became of an update handed to ``ReplicatedStore/receive(_:)``.
public enum ReceiveOutcome: Sendable, Hashable {
    /// Accepted and placed in the timeline.
    case applied(Insertion)
    /// Already held (seq at or below the digest): dropped with no effect.
    case duplicate
    /// Refused; nothing changed.
    case rejected(UpdateRejection)
    /// Its place lies below this replica's horizon, where history has been
    /// folded away. It was not applied out of order; the owner must rebuild
    /// from a durable log (a server) or fetch a fresh snapshot (a client).
    case belowHorizon(UpdateID)
}

/// Counters a ``ReplicatedStore`` keeps; every refusal is counted by reason.
public struct ReplicaCounters: Sendable, Hashable {
    /// Local actions recorded.
    public var recorded = 0
    /// Remote updates accepted.
    public var accepted = 0
    /// Remote updates dropped as duplicates.
    public var duplicates = 0
    /// Remote updates refused, by ``UpdateRejection/reasonCode``.
    public var rejected: [String: Int] = [:]
    /// Updates that arrived below the horizon.
    public var belowHorizon = 0
    /// Own updates re-stamped above the frontier.
    public var rebased = 0
}
