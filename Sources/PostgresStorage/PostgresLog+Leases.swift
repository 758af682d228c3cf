import Logging
import PostgresNIO
import Scuttlebutt
import Storage

/// Nodes and room leases in the `nodes` and `leases` tables, timed by
/// PostgreSQL's clock (`clock_timestamp()`), so that the nodes' own clocks
/// never decide who holds a room.
extension PostgresLog: LeaseStore {
    /// Registers `node` as alive for `ttl` (``LeaseStore/announce(_:incarnation:ttl:)``).
    public func announce(_ node: ClusterNode, incarnation: String, ttl: Duration) async throws(StorageError) {
        let seconds = Self.seconds(ttl)
        try await run("announce node \(node.name)") { client, logger in
            try await client.query(
                """
                INSERT INTO nodes (name, address, web_address, incarnation, draining, alive_until)
                VALUES (\(node.name), \(node.address), \(node.webAddress), \(incarnation), \(node.isDraining),
                        clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (name) DO UPDATE SET
                    address = EXCLUDED.address, web_address = EXCLUDED.web_address,
                    incarnation = EXCLUDED.incarnation, draining = EXCLUDED.draining,
                    alive_until = EXCLUDED.alive_until
                """, logger: logger)
        }
    }

    /// Every node ever announced, alive or not, by name.
    public func nodes() async throws(StorageError) -> [ClusterNode] {
        try await run("list nodes") { client, logger in
            var nodes: [ClusterNode] = []
            let rows = try await client.query(
                """
                SELECT name, address, web_address, draining, alive_until > clock_timestamp()
                FROM nodes ORDER BY name
                """, logger: logger)
            for try await (name, address, web, draining, alive) in rows.decode(
                (String, String, String?, Bool, Bool).self)
            {
                nodes.append(
                    ClusterNode(name: name, address: address, webAddress: web, isDraining: draining, isAlive: alive))
            }
            return nodes
        }
    }

    /// Claims `room` for `node` (``LeaseStore/claim(room:node:incarnation:ttl:)``).
    public func claim(room: String, node: String, incarnation: String, ttl: Duration) async throws(StorageError)
        -> LeaseClaim
    {
        let seconds = Self.seconds(ttl)
        return try await run("claim room \"\(room)\"") { client, logger in
            // Granted when free, lapsed, or already this incarnation's; a
            // new holder bumps the epoch, which fences the old one.
            let granted = try await client.query(
                """
                INSERT INTO leases AS held (room, node, incarnation, epoch, expires_at)
                VALUES (\(room), \(node), \(incarnation), 1, clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (room) DO UPDATE SET
                    node = EXCLUDED.node, incarnation = EXCLUDED.incarnation, expires_at = EXCLUDED.expires_at,
                    epoch = CASE WHEN held.incarnation = EXCLUDED.incarnation THEN held.epoch ELSE held.epoch + 1 END
                WHERE held.incarnation = EXCLUDED.incarnation OR held.expires_at <= clock_timestamp()
                RETURNING epoch
                """, logger: logger)
            for try await epoch in granted.decode(Int64.self) {
                return LeaseClaim.granted(epoch: UInt64(bitPattern: epoch))
            }
            var holder = ""
            for try await name in try await client.query(
                "SELECT node FROM leases WHERE room = \(room)", logger: logger
            ).decode(String.self) {
                holder = name
            }
            return LeaseClaim.heldElsewhere(node: holder)
        }
    }

    /// Renews this incarnation's leases and heartbeat; returns the rooms it still holds.
    public func renew(node: String, incarnation: String, ttl: Duration) async throws(StorageError)
        -> [String: UInt64]
    {
        let seconds = Self.seconds(ttl)
        return try await run("renew leases") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    UPDATE nodes SET alive_until = clock_timestamp() + make_interval(secs => \(seconds))
                    WHERE name = \(node) AND incarnation = \(incarnation)
                    """, logger: logger)
                var held: [String: UInt64] = [:]
                let rows = try await connection.query(
                    """
                    UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => \(seconds))
                    WHERE incarnation = \(incarnation) RETURNING room, epoch
                    """, logger: logger)
                for try await (room, epoch) in rows.decode((String, Int64).self) {
                    held[room] = UInt64(bitPattern: epoch)
                }
                return held
            }
        }
    }

    /// Lets `room` go at once, if this incarnation holds it.
    public func release(room: String, incarnation: String) async throws(StorageError) {
        try await run("release room \"\(room)\"") { client, logger in
            try await client.query(
                """
                UPDATE leases SET expires_at = clock_timestamp()
                WHERE room = \(room) AND incarnation = \(incarnation)
                """, logger: logger)
        }
    }

    /// Every lease, by room, with the milliseconds it has left.
    public func leases() async throws(StorageError) -> [RoomLease] {
        try await run("list leases") { client, logger in
            var leases: [RoomLease] = []
            let rows = try await client.query(
                """
                SELECT room, node, epoch,
                    (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::BIGINT
                FROM leases ORDER BY room
                """, logger: logger)
            for try await (room, node, epoch, remaining) in rows.decode((String, String, Int64, Int64).self) {
                leases.append(
                    RoomLease(
                        room: room, node: node, epoch: UInt64(bitPattern: epoch), remainingMilliseconds: remaining))
            }
            return leases
        }
    }

    /// The lease of `room`, if it ever had one.
    public func lease(of room: String) async throws(StorageError) -> RoomLease? {
        try await run("look up the lease of room \"\(room)\"") { client, logger in
            let rows = try await client.query(
                """
                SELECT room, node, epoch,
                    (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::BIGINT
                FROM leases WHERE room = \(room)
                """, logger: logger)
            for try await (room, node, epoch, remaining) in rows.decode((String, String, Int64, Int64).self) {
                return RoomLease(
                    room: room, node: node, epoch: UInt64(bitPattern: epoch), remainingMilliseconds: remaining)
            }
            return nil
        }
    }

    /// Rooms whose lease lapsed in another node's hands, oldest lapse first.
    public func lapsedRooms(apartFrom node: String, limit: Int) async throws(StorageError) -> [String] {
        try await run("list lapsed leases") { client, logger in
            var rooms: [String] = []
            let rows = try await client.query(
                """
                SELECT room FROM leases WHERE expires_at <= clock_timestamp() AND node <> \(node)
                ORDER BY expires_at LIMIT \(limit)
                """, logger: logger)
            for try await room in rows.decode(String.self) { rooms.append(room) }
            return rooms
        }
    }

    /// Appends fenced by `epoch`: refused when the room's lease is at another epoch.
    public func append(
        room: String, _ updates: [StoredUpdate], epoch: UInt64,
        completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        guard !updates.isEmpty else { return completion(.success(())) }
        committer.append(PendingAppend(room: room, updates: updates, epoch: epoch), completion: completion)
    }

    /// Saves a checkpoint fenced by `epoch`.
    public func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String, epoch: UInt64)
        async throws(StorageError)
    {
        try await saveCheckpoint(checkpoint, room: room, fencedBy: epoch)
    }

    /// Saves the frontier fenced by `epoch`.
    public func setFrontier(_ frontier: Timestamp, room: String, epoch: UInt64) async throws(StorageError) {
        try await setFrontier(frontier, room: room, fencedBy: epoch)
    }

    /// `duration` in seconds, for `make_interval`.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
