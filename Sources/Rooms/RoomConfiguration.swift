import Scuttlebutt

/// What a room is told when it starts: its name, who may join, its limits,
/// and how its replica and sessions behave. The server builds one from its
/// own configuration; the simulator builds one from a scenario.
public struct RoomConfiguration<R: Reducer>: Sendable {
    /// The room's name, as peers name it in their `hello`.
    public var name: String
    /// Who may join; nil lets everyone in (except peers claiming to be a server).
    public var access: RoomAccess?
    /// How the room's replica stamps, snapshots and folds. The room always
    /// is the authority and keeps only what lies above its horizon
    /// (``LogRetention/aboveHorizon``): what it folded is served as a
    /// snapshot, and history is read from the durable log.
    public var replica: ReplicaConfiguration
    /// The template for every session's configuration; the room sets the
    /// role (`server`), the name, origin binding, persistence before
    /// applying, and whether the peer's role may send updates.
    public var session: GossipSessionConfiguration
    /// Updates one session may send per second (bursts up to twice that).
    public var maxUpdatesPerSecond = 2_000
    /// Messages of any kind (pings and presence included; a batch of
    /// updates is one) one session may send per second, bursts up to twice
    /// that: beyond, it is cut off with `limitExceeded`. A flood of tiny
    /// messages would otherwise keep its room's event loop, and every room
    /// on it, busy. Nil: four times ``maxUpdatesPerSecond`` (a peer may send
    /// each update alone, and acknowledge what it receives), at least 10,000.
    public var maxMessagesPerSecond: Int?

    /// The message rate in force (``maxMessagesPerSecond``).
    @inlinable public var messagesPerSecond: Int { maxMessagesPerSecond ?? max(10_000, 4 * maxUpdatesPerSecond) }
    /// Milliseconds the frontier trails the room's clock, so that a peer
    /// that has not reported yet is not folded past.
    public var frontierGrace: UInt64 = 2_000
    /// Entries folded between automatic checkpoints.
    public var checkpointInterval = 10_000
    /// Messages a session may send while its previous batch is being made
    /// durable; beyond that it is cut off with `limitExceeded`. An honest
    /// peer stays far below (its window bounds its batches).
    public var maxHeldMessages = 1_024
    /// Bytes an update takes on the wire, for batch budgets.
    public var estimatedSize: @Sendable (Update<R.Action>) -> Int = { _ in 32 }
    /// Encodes the folded state for late joiners and checkpoints.
    public var encodeState: @Sendable (R.State) -> [UInt8]

    /// A room called `name` with default limits.
    public init(
        name: String, replica: ReplicaConfiguration, encodeState: @escaping @Sendable (R.State) -> [UInt8]
    ) {
        self.name = name
        self.replica = replica
        self.encodeState = encodeState
        session = GossipSessionConfiguration(name: "scuttleboard", room: name, role: .server)
    }
}
