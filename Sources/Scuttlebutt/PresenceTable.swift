/// The presence of everyone else in a room: latest wins per origin, entries
/// expire when not refreshed, and a departed peer's entry goes at once.
public struct PresenceTable: Sendable {
    /// How long an entry lives without a refresh, in milliseconds.
    public let timeToLive: UInt64
    private var entries: [PeerID: (presence: Presence, heardAt: UInt64)] = [:]

    /// An empty table.
    public init(timeToLive: UInt64) {
        self.timeToLive = timeToLive
    }

    /// Replaces the entry of `presence.origin`.
    public mutating func update(_ presence: Presence, now: UInt64) {
        entries[presence.origin] = (presence, now)
    }

    /// Forgets `origin` (it left).
    public mutating func remove(_ origin: PeerID) {
        entries[origin] = nil
    }

    /// Forgets entries not refreshed within the time to live.
    /// - Returns: The origins forgotten.
    @discardableResult
    public mutating func expire(now: UInt64) -> [PeerID] {
        let expired = entries.filter { now >= $0.value.heardAt &+ timeToLive }.map(\.key)
        for origin in expired { entries[origin] = nil }
        return expired
    }

    /// The live entries, by origin.
    public var current: [PeerID: Presence] { entries.mapValues(\.presence) }
}
