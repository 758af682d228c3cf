import NIOConcurrencyHelpers
import Rooms
import Scuttlebutt

/// What the server counts, for logs and metrics: every refusal by reason.
public final class ServerCounters: Sendable {
    private let state = NIOLockedValueBox(Snapshot())
    /// The same events, as metrics (`GET /metrics`).
    let instruments = ServerInstruments()

    /// A copy of the counters at one moment.
    public struct Snapshot: Sendable, Hashable {
        /// Connections accepted, ever.
        public var connectionsAccepted = 0
        /// Sessions open now (connections past their hello).
        public var connectionsOpen = 0
        /// Connections waiting for their hello now.
        public var handshakesOpen = 0
        /// Sessions ended by the server, by close reason.
        public var refusals: [String: Int] = [:]
        /// Updates accepted from peers.
        public var updatesIn = 0
        /// Updates sent to peers.
        public var updatesOut = 0
        /// State snapshots sent to peers that lacked folded updates.
        public var snapshotsSent = 0
        /// Room checkpoints written.
        public var checkpoints = 0
        /// Writes the durable log refused (a full disk, a lock held too long, a missing file).
        public var storageFailures = 0
        /// Gaps found in an origin's stored updates while loading a room.
        public var loadGaps = 0
        /// Connections refused because the process ran out of file descriptors.
        public var descriptorExhaustions = 0
        /// Cluster: lease renewals that succeeded.
        public var leaseRenewals = 0
        /// Cluster: rooms taken over from a node whose lease had lapsed.
        public var failovers = 0
        /// Cluster: writes the store refused by a lease epoch (the room had moved).
        public var fencedWrites = 0
        /// Cluster: rooms this node holds a lease on now.
        public var roomsHeld = 0
        /// When running out of descriptors was last logged.
        var lastExhaustionLogged: ContinuousClock.Instant?
        /// What each loaded room last published (``Room`` keeps it current),
        /// so that metrics never wait on a busy room.
        public var rooms: [String: RoomGauges] = [:]
    }

    /// What one room holds, as it last published it.
    public struct RoomGauges: Sendable, Hashable {
        /// Sessions open in the room.
        public var sessions = 0
        /// Updates held in memory above the room's horizon.
        public var unfolded = 0
        /// Elements on the board, hidden ones included.
        public var elements = 0
        /// Late updates that rewound the replica.
        public var rewinds = 0
        /// Updates the replica refused, by reason.
        public var rejected: [String: Int] = [:]
    }

    init() {}

    /// The counters now.
    public var snapshot: Snapshot { state.withLockedValue { $0 } }

    /// Publishes the lobby's counts (the server calls it under the lobby's lock).
    func lobbyChanged(_ lobby: Lobby) {
        let accepted = state.withLockedValue { counters in
            defer {
                counters.connectionsAccepted = lobby.accepted
                counters.connectionsOpen = lobby.sessions
                counters.handshakesOpen = lobby.waiting
            }
            return max(0, lobby.accepted - counters.connectionsAccepted)
        }
        instruments.connections.increment(by: accepted)
    }

    func received(_ count: Int) {
        state.withLockedValue { $0.updatesIn += count }
        instruments.updatesIn.increment(by: count)
    }

    func sent(_ count: Int) {
        state.withLockedValue { $0.updatesOut += count }
        instruments.updatesOut.increment(by: count)
    }

    func sentSnapshot() {
        state.withLockedValue { $0.snapshotsSent += 1 }
        instruments.snapshotsSent.increment()
    }

    func checkpointed() {
        state.withLockedValue { $0.checkpoints += 1 }
        instruments.checkpoints.increment()
    }

    func renewedLeases(holding rooms: Int) {
        state.withLockedValue { state in
            state.leaseRenewals += 1
            state.roomsHeld = rooms
        }
        instruments.leaseRenewals.increment()
        instruments.roomsHeld.record(rooms)
    }

    func tookOver() {
        state.withLockedValue { $0.failovers += 1 }
        instruments.failovers.increment()
    }

    func fencedWrite() {
        state.withLockedValue { $0.fencedWrites += 1 }
        instruments.fencedWrites.increment()
    }

    func storageFailed() {
        state.withLockedValue { $0.storageFailures += 1 }
        instruments.storageFailures.increment()
    }

    func foundLoadGap() {
        state.withLockedValue { $0.loadGaps += 1 }
        instruments.loadGaps.increment()
    }

    /// Counts an accept that failed for want of descriptors.
    /// - Returns: Whether it is the first in a second (worth a log line).
    func ranOutOfDescriptors() -> Bool {
        let now = ContinuousClock.now
        instruments.descriptorExhaustions.increment()
        return state.withLockedValue { counters in
            counters.descriptorExhaustions += 1
            guard counters.lastExhaustionLogged.map({ now - $0 >= .seconds(1) }) ?? true else { return false }
            counters.lastExhaustionLogged = now
            return true
        }
    }

    /// Keeps what a room holds now, and counts what it added since it last
    /// published (a room loaded again starts from nothing).
    func publish(_ gauges: RoomGauges, room: String) {
        let before = state.withLockedValue { counters in
            defer { counters.rooms[room] = gauges }
            return counters.rooms[room]
        }
        instruments.rewinds.increment(by: max(0, gauges.rewinds - (before?.rewinds ?? 0)))
        for (reason, count) in gauges.rejected {
            instruments.rejected(count - (before?.rejected[reason] ?? 0), reason: reason)
        }
    }

    func forget(room: String) {
        state.withLockedValue { $0.rooms[room] = nil }
    }

    func refused(_ reason: CloseReasonName) {
        state.withLockedValue { $0.refusals[reason.rawValue, default: 0] += 1 }
        instruments.refused(reason.rawValue)
    }
}

/// Stable names of close reasons, for counting.
enum CloseReasonName: String {
    init(_ reason: CloseReason) {
        switch reason {
        case .protocolViolation, .versionMismatch: self = .protocolViolation
        case .updateRejected: self = .updateRejected
        case .unauthorized: self = .unauthorized
        case .limitExceeded: self = .limitExceeded
        case .slowConsumer: self = .slowConsumer
        case .timeout: self = .timeout
        case .storageUnavailable: self = .storageUnavailable
        case .redirect: self = .redirected
        case .normal, .snapshotRequired, .shuttingDown: self = .other
        }
    }

    case protocolViolation = "protocol_violation"
    case updateRejected = "update_rejected"
    case unauthorized
    case limitExceeded = "limit_exceeded"
    case slowConsumer = "slow_consumer"
    case timeout
    case storageUnavailable = "storage_unavailable"
    case redirected
    case other
}
