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
    /// This node's membership of a cluster, when it is one's: rooms are
    /// placed and leased before they load.
    let membership: ClusterMembership?
    private var entries: [String: Entry] = [:]
    /// Rooms being placed and read from the log: a second join while the
    /// first one's load is under way waits for that load instead of making
    /// a second room.
    private var loading: [String: Task<Loaded, any Error>] = [:]

    /// What a lease on a room came to.
    enum Lease {
        /// The room, loaded here.
        case room(Room)
        /// The server already holds its maximum of rooms.
        case full
        /// Another node serves it.
        case elsewhere(ClusterNode)
        /// No node can serve it now, for this reason.
        case unavailable(String)
    }

    /// What a load came to.
    private enum Loaded {
        case room(Room, tookOver: Bool)
        case elsewhere(ClusterNode)
        case unavailable(String)
    }

    init(
        log: any DurableStore, membership: ClusterMembership?, configuration: ServerConfiguration,
        counters: ServerCounters, health: StorageHealth
    ) {
        self.log = log
        self.membership = membership
        self.configuration = configuration
        self.counters = counters
        self.health = health
    }

    /// The room called `name`, loaded on first use; nil when the server
    /// already holds its maximum of rooms. Not leased: for tools and tests.
    func room(named name: String) async throws(StorageError) -> Room? {
        if case .room(let room) = try await entry(named: name) { return room }
        return nil
    }

    /// The room called `name`, leased to a connection until ``release(_:)``
    /// (or, not `forConnection`, looked at once), or why it is not served here.
    func lease(_ name: String, forConnection: Bool = true) async throws(StorageError) -> Lease {
        let lease = try await entry(named: name)
        if forConnection, case .room = lease {
            entries[name]?.leases += 1
            entries[name]?.idleSince = nil
        }
        return lease
    }

    /// A connection left `room` (nothing changes if the room was unloaded
    /// meanwhile, its lease lost).
    func release(_ room: Room) {
        guard entries[room.name]?.room === room else { return }
        entries[room.name]?.leases -= 1
        if entries[room.name]?.leases == 0 { entries[room.name]?.idleSince = Self.now }
    }

    /// Unloads `room` (handed over to another node).
    func unload(_ room: Room) {
        guard entries[room.name]?.room === room else { return }
        entries[room.name] = nil
        membership?.unloaded(room.name)
        counters.forget(room: room.name)
    }

    /// Rooms this node holds under a lease, with its epochs.
    var held: [String: UInt64] {
        entries.compactMapValues { $0.room.epoch }
    }

    /// A write of `name` was refused by its lease epoch: the room is given up.
    func fenced(_ name: String) async {
        _ = membership?.fenced(name)
        await lost(name)
    }

    /// Unloads `name`, whose lease this node lost, and sends its sessions
    /// to wherever the room lives now.
    func lost(_ name: String) async {
        membership?.unloaded(name)
        guard let entry = entries.removeValue(forKey: name) else { return }
        counters.forget(room: name)
        if let node = await membership?.locate(name) {
            await entry.room.closeAll(redirectingTo: node)
        } else {
            await entry.room.closeAll(.storageUnavailable("room \"\(name)\" moved to another node; reconnect"))
        }
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
            membership?.unloaded(name)
            counters.forget(room: name)
        }
        return idle.values.map(\.room)
    }

    /// Every loaded room.
    var loaded: [Room] { entries.values.map(\.room) }

    /// The entry of `name`, loading the room when it is not loaded. The
    /// actor is free while the log is read; whoever asks meanwhile waits
    /// for the same load.
    private func entry(named name: String) async throws(StorageError) -> Lease {
        if let entry = entries[name] { return .room(entry.room) }
        let load: Task<Loaded, any Error>
        if let underWay = loading[name] {
            load = underWay
        } else {
            guard entries.count + loading.count < configuration.maxRooms else { return .full }
            let (log, membership, configuration, counters, health) = (log, membership, configuration, counters, health)
            load = Task {
                var fence: RoomFence?
                var tookOver = false
                if let membership {
                    switch try await membership.place(name) {
                    case .elsewhere(let node): return .elsewhere(node)
                    case .unavailable(let reason): return .unavailable(reason)
                    case .here(let epoch, let moved):
                        tookOver = moved
                        fence = RoomFence(store: membership.store, epoch: epoch) { name in
                            Task { await self.fenced(name) }
                        }
                    }
                }
                let stored = try await log.load(room: name)
                return .room(
                    try Room(
                        name: name, stored: stored, log: log, fence: fence, configuration: configuration,
                        counters: counters, health: health, eventLoop: MultiThreadedEventLoopGroup.singleton.next()),
                    tookOver: tookOver)
            }
            loading[name] = load
        }
        let loaded: Loaded
        do {
            loaded = try await load.value
        } catch {
            loading[name] = nil
            throw StorageError(error, doing: "load room \"\(name)\"")
        }
        loading[name] = nil
        switch loaded {
        case .elsewhere(let node): return .elsewhere(node)
        case .unavailable(let reason): return .unavailable(reason)
        case .room(let room, let tookOver):
            if let entry = entries[name] { return .room(entry.room) }
            if tookOver {
                counters.tookOver()
                configuration.logger.notice(
                    "took a room over from another node", metadata: ["room": "\(name)", "epoch": "\(room.epoch ?? 0)"])
            }
            entries[name] = Entry(room: room, idleSince: Self.now)
            if let epoch = room.epoch { membership?.loaded(name, epoch: epoch) }
            return .room(room)
        }
    }

    private static var now: UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000) }
}
