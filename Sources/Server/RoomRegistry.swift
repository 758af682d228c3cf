import Storage

/// Maps room names to rooms, loading each from the durable log the first
/// time someone joins it.
actor RoomRegistry {
    private let log: DurableLog
    private let configuration: ServerConfiguration
    private let counters: ServerCounters
    private var rooms: [String: Room] = [:]

    init(log: DurableLog, configuration: ServerConfiguration, counters: ServerCounters) {
        self.log = log
        self.configuration = configuration
        self.counters = counters
    }

    /// The room called `name`, loaded on first use; nil when the server
    /// already holds its maximum of rooms.
    func room(named name: String) throws(StorageError) -> Room? {
        if let room = rooms[name] { return room }
        guard rooms.count < configuration.maxRooms else { return nil }
        let room = try Room(name: name, log: log, configuration: configuration, counters: counters)
        rooms[name] = room
        return room
    }

    /// Every loaded room.
    var loaded: [Room] { Array(rooms.values) }
}
