import Storage

/// Maps room names to rooms, loading each from the durable log the first
/// time someone joins it.
actor RoomRegistry {
    private let log: DurableLog
    private let configuration: ServerConfiguration
    private var rooms: [String: Room] = [:]

    init(log: DurableLog, configuration: ServerConfiguration) {
        self.log = log
        self.configuration = configuration
    }

    /// The room called `name`, loaded on first use.
    func room(named name: String) throws(StorageError) -> Room {
        if let room = rooms[name] { return room }
        let room = try Room(name: name, log: log, configuration: configuration)
        rooms[name] = room
        return room
    }

    /// Every loaded room.
    var loaded: [Room] { Array(rooms.values) }
}
