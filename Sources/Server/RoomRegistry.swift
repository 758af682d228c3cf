import Foundation
import NIOPosix
import Storage

/// Maps room names to rooms, loading each from the durable log the first
/// time someone joins it, and unloading it when nobody has been in it for a
/// while.
///
/// Connections *lease* their room and release it when they end; a room is
/// unloaded only with no lease, so no connection ever holds a room that the
/// registry has replaced with a fresh load (two live copies would diverge).
actor RoomRegistry {
    private struct Entry {
        let room: Room
        var leases = 0
        var idleSince: UInt64?
    }

    private let log: any DurableStore
    private let configuration: ServerConfiguration
    private let counters: ServerCounters
    private let health: StorageHealth
    private var entries: [String: Entry] = [:]
    /// Rooms being read from the log: a second join while the first one's
    /// load is under way waits for that load instead of making a second room.
    private var loading: [String: Task<Room, any Error>] = [:]

    init(log: any DurableStore, configuration: ServerConfiguration, counters: ServerCounters, health: StorageHealth) {
        self.log = log
        self.configuration = configuration
        self.counters = counters
        self.health = health
    }

    /// The room called `name`, loaded on first use; nil when the server
    /// already holds its maximum of rooms. Not leased: for tools and tests.
    func room(named name: String) async throws(StorageError) -> Room? {
        try await entry(named: name)?.room
    }

    /// The room called `name`, leased to a connection until ``release(_:)``.
    func lease(_ name: String) async throws(StorageError) -> Room? {
        guard let room = try await entry(named: name)?.room else { return nil }
        entries[name]?.leases += 1
        entries[name]?.idleSince = nil
        return room
    }

    /// A connection left `name`.
    func release(_ name: String) {
        entries[name]?.leases -= 1
        if entries[name]?.leases == 0 { entries[name]?.idleSince = Self.now }
    }

    /// Unloads rooms nobody has leased for the idle timeout.
    /// - Returns: The rooms unloaded, for a last checkpoint.
    @discardableResult
    func unloadIdle() -> [Room] {
        let now = Self.now
        let idle = entries.filter { _, entry in
            entry.leases == 0 && entry.idleSince.map { now >= $0 + configuration.idleRoomTimeout } ?? false
        }
        for name in idle.keys {
            entries[name] = nil
            counters.forget(room: name)
        }
        return idle.values.map(\.room)
    }

    /// Every loaded room.
    var loaded: [Room] { entries.values.map(\.room) }

    /// The entry of `name`, loading the room when it is not loaded. The
    /// actor is free while the log is read; whoever asks meanwhile waits
    /// for the same load.
    private func entry(named name: String) async throws(StorageError) -> Entry? {
        if let entry = entries[name] { return entry }
        let load: Task<Room, any Error>
        if let underWay = loading[name] {
            load = underWay
        } else {
            guard entries.count + loading.count < configuration.maxRooms else { return nil }
            let (log, configuration, counters, health) = (log, configuration, counters, health)
            load = Task {
                let stored = try await log.load(room: name)
                return try Room(
                    name: name, stored: stored, log: log, configuration: configuration, counters: counters,
                    health: health, eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            }
            loading[name] = load
        }
        let room: Room
        do {
            room = try await load.value
        } catch {
            loading[name] = nil
            throw StorageError(error, doing: "load room \"\(name)\"")
        }
        loading[name] = nil
        if let entry = entries[name] { return entry }
        let entry = Entry(room: room, idleSince: Self.now)
        entries[name] = entry
        return entry
    }

    private static var now: UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000) }
}
