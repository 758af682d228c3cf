/// The name of one update: its origin and that origin's sequence number.
public struct UpdateID: Hashable, Sendable, CustomStringConvertible {
    /// The peer that recorded the update.
    public let origin: PeerID
    /// The origin's sequence number: 1, 2, 3, … with no gaps.
    public let seq: UInt64

    /// Names update `seq` of `origin`.
    public init(origin: PeerID, seq: UInt64) {
        self.origin = origin
        self.seq = seq
    }

    /// `origin#seq`.
    public var description: String { "\(origin)#\(seq)" }
}

/// Where an update sits in the total order: by timestamp, then origin.
///
/// No two updates share a key, because an origin never reuses a timestamp.
public struct OrderKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The update's timestamp.
    public let timestamp: Timestamp
    /// The update's origin, which breaks ties between origins.
    public let origin: PeerID

    /// The key of an update stamped `timestamp` by `origin`.
    public init(timestamp: Timestamp, origin: PeerID) {
        self.timestamp = timestamp
        self.origin = origin
    }

    /// Orders by timestamp, then origin.
    public static func < (lhs: OrderKey, rhs: OrderKey) -> Bool {
        lhs.timestamp != rhs.timestamp ? lhs.timestamp < rhs.timestamp : lhs.origin < rhs.origin
    }

    /// `timestamp@origin`.
    public var description: String { "\(timestamp)@\(origin)" }
}

/// One immutable entry of the replicated log: an action recorded by an origin.
public struct Update<Action> {
    /// The recording peer.
    public let origin: PeerID
    /// The origin's sequence number for this update.
    public let seq: UInt64
    /// When the origin recorded it, by its logical clock.
    public let timestamp: Timestamp
    /// What happened.
    public let action: Action

    /// An update as recorded by `origin`.
    public init(origin: PeerID, seq: UInt64, timestamp: Timestamp, action: Action) {
        self.origin = origin
        self.seq = seq
        self.timestamp = timestamp
        self.action = action
    }

    /// The update's name.
    public var id: UpdateID { UpdateID(origin: origin, seq: seq) }

    /// The update's place in the total order.
    public var orderKey: OrderKey { OrderKey(timestamp: timestamp, origin: origin) }

    /// The same update stamped anew; only for an update nobody else accepted.
    func restamped(_ timestamp: Timestamp) -> Update {
        Update(origin: origin, seq: seq, timestamp: timestamp, action: action)
    }
}

extension Update: Sendable where Action: Sendable {}
extension Update: Equatable where Action: Equatable {}
extension Update: Hashable where Action: Hashable {}
