import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import Scuttlebutt
import Storage

/// The durable log of every room in PostgreSQL, through postgres-nio: the
/// engine for servers that share one database (and the only code that
/// talks to PostgreSQL). It keeps the ``DurableStore`` contract exactly as
/// the SQLite ``DurableLog`` does; the storage conformance suite runs
/// against both.
///
/// Appends are group-committed (``PostgresCommitter``): one transaction at a
/// time, holding everything queued while the previous one committed, as
/// one multi-row insert. ``Durability/normal`` commits with
/// `synchronous_commit = off` (an acknowledged update survives a crash of
/// the server process, as with SQLite's `synchronous = NORMAL`, but not of
/// the database machine); ``Durability/full`` waits for PostgreSQL's WAL
/// flush.
public final class PostgresLog: DurableStore {
    /// The database, without its password.
    public let location: String
    /// The fsync policy.
    public let durability: Durability
    let client: PostgresClient
    let logger: Logger
    let committer: PostgresCommitter
    /// How long one read or commit may take before it fails.
    let operationTimeout: Duration
    /// The client's `run()`, which its connections need; cancelled by ``close()``.
    private let running = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private init(
        location: PostgresLocation, durability: Durability, maximumConnections: Int, operationTimeout: Duration,
        logger: Logger
    ) {
        self.location = location.description
        self.durability = durability
        self.operationTimeout = operationTimeout
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = max(Self.connectTimeout, operationTimeout)
        configuration.options.additionalStartupParameters = Self.startupParameters(durability)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        committer = PostgresCommitter(client: client, operationTimeout: operationTimeout, logger: logger)
    }

    /// How long opening a connection may take at least (longer when the
    /// operation timeout is longer).
    static let connectTimeout = Duration.seconds(5)

    /// `synchronous_commit = off` below ``Durability/full``.
    private static func startupParameters(_ durability: Durability) -> [(String, String)] {
        durability == .full ? [] : [("synchronous_commit", "off")]
    }

    /// Connects to the database at `location` and brings its schema up to
    /// date (several servers starting at once migrate it once).
    ///
    /// The first connection is made alone, so that a database that is not
    /// there fails at once with the reason; the connections appends use
    /// come from a pool afterwards.
    /// - Parameters:
    ///   - durability: The commit policy.
    ///   - reading: Only to read (`rooms`, `export`): the schema is checked,
    ///     never created or migrated.
    ///   - maximumConnections: The most connections the log opens.
    ///   - operationTimeout: How long any one read or commit may take
    ///     before it fails (a database that stopped answering).
    ///   - logger: Where postgres-nio's background messages go.
    /// - Throws: ``StorageError/postgres(operation:state:message:)`` when
    ///   the database cannot be reached or migrated,
    ///   ``StorageError/notScuttleboard(path:)`` when it holds another
    ///   application's tables, ``StorageError/newerSchema(path:)`` when a
    ///   newer Scuttleboard wrote it.
    public static func open(
        _ location: PostgresLocation, durability: Durability = .normal, reading: Bool = false,
        maximumConnections: Int = 8, operationTimeout: Duration = .seconds(5), logger: Logger = PostgresLog.quietLogger
    ) async throws(StorageError) -> PostgresLog {
        do {
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.user, password: location.password,
                database: location.database, tls: .disable)
            configuration.options.connectTimeout = .seconds(
                max(Self.connectTimeout, operationTimeout).components.seconds)
            let connection = try await PostgresConnection.connect(
                configuration: configuration, id: 0, logger: logger)
            do {
                try await PostgresSchema.migrate(
                    connection, location: location.description, reading: reading, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch {
            throw StorageError(postgres: error, doing: "open \(location)")
        }
        let log = PostgresLog(
            location: location, durability: durability, maximumConnections: maximumConnections,
            operationTimeout: operationTimeout, logger: logger)
        // The client's run() must be under way before the first query.
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            let client = log.client
            log.running.withLockedValue { running in
                running = Task {
                    started.resume()
                    await client.run()
                }
            }
        }
        return log
    }

    /// postgres-nio's background messages at `error` and above only (it
    /// reports every connection it closes at `info`).
    public static var quietLogger: Logger {
        var logger = Logger(label: "scuttleboard.postgres")
        logger.logLevel = .error
        return logger
    }

    /// Closes every connection; the log cannot be used afterwards.
    public func close() async {
        guard let running = running.withLockedValue({ $0 }) else { return }
        running.cancel()
        await running.value
    }

    // MARK: Writing

    /// Stores `updates` of `room` and calls `completion` once they are
    /// durable, or refused, from the committing task.
    public func append(
        room: String, _ updates: [StoredUpdate],
        completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        guard !updates.isEmpty else { return completion(.success(())) }
        committer.append(PendingAppend(room: room, updates: updates, epoch: nil), completion: completion)
    }

    /// Persists a room's stable frontier (never moving it back).
    public func setFrontier(_ frontier: Timestamp, room: String) async throws(StorageError) {
        try await setFrontier(frontier, room: room, fencedBy: nil)
    }

    func setFrontier(_ frontier: Timestamp, room: String, fencedBy epoch: UInt64?) async throws(StorageError) {
        let value = Int64(bitPattern: frontier.rawValue)
        try await run("store the frontier") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await Self.checkFence(room: room, epoch: epoch, on: connection, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO rooms (name, frontier) VALUES (\(room), \(value))
                    ON CONFLICT (name) DO UPDATE SET frontier = GREATEST(rooms.frontier, EXCLUDED.frontier)
                    """, logger: logger)
            }
        }
    }

    /// Refuses a write for `room` at `epoch` unless the room's lease is at
    /// that epoch, locking the lease row until the transaction ends (no
    /// claim moves the room meanwhile). Nothing to check without an epoch.
    static func checkFence(room: String, epoch: UInt64?, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        guard let epoch else { return }
        var current: UInt64?
        for try await value in try await connection.query(
            "SELECT epoch FROM leases WHERE room = \(room) FOR SHARE", logger: logger
        ).decode(Int64.self) {
            current = UInt64(bitPattern: value)
        }
        guard current == epoch else { throw StorageError.fenced(room: room, epoch: epoch, current: current) }
    }

    /// Stores `checkpoint` unless the stored one is at or past its horizon.
    public func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String) async throws(StorageError) {
        try await saveCheckpoint(checkpoint, room: room, fencedBy: nil)
    }

    func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String, fencedBy epoch: UInt64?)
        async throws(StorageError)
    {
        let timestamp = Int64(bitPattern: checkpoint.horizon.timestamp.rawValue)
        let origin = Int64(bitPattern: checkpoint.horizon.origin.rawValue)
        let digest = checkpoint.digest.seqs.sorted { $0.key < $1.key }
        let origins = digest.map { Int64(bitPattern: $0.key.rawValue) }
        let seqs = digest.map { Int64(bitPattern: $0.value) }
        let state = ByteBuffer(bytes: checkpoint.state)
        try await run("store a checkpoint") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await Self.checkFence(room: room, epoch: epoch, on: connection, logger: logger)
                try await connection.query(
                    "INSERT INTO rooms (name) VALUES (\(room)) ON CONFLICT DO NOTHING", logger: logger)
                // Stamps and origins are unsigned, stored by bit pattern:
                // compared as the unsigned values they are.
                try await connection.query(
                    """
                    INSERT INTO checkpoints AS stored
                        (room, horizon_timestamp, horizon_origin, state, digest_origins, digest_seqs)
                    VALUES (\(room), \(timestamp), \(origin), \(state), \(origins), \(seqs))
                    ON CONFLICT (room) DO UPDATE SET
                        horizon_timestamp = EXCLUDED.horizon_timestamp, horizon_origin = EXCLUDED.horizon_origin,
                        state = EXCLUDED.state, digest_origins = EXCLUDED.digest_origins,
                        digest_seqs = EXCLUDED.digest_seqs
                    WHERE (scuttleboard_unsigned(stored.horizon_timestamp), scuttleboard_unsigned(stored.horizon_origin))
                        < (scuttleboard_unsigned(EXCLUDED.horizon_timestamp), scuttleboard_unsigned(EXCLUDED.horizon_origin))
                    """, logger: logger)
            }
        }
    }

    /// Checks that the database takes a write now.
    public func probe() async throws(StorageError) {
        try await run("write to the database") { client, logger in
            try await client.query(
                """
                INSERT INTO settings (key, value) VALUES ('probe', convert_to(now()::text, 'UTF8'))
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
                """, logger: logger)
        }
    }

    /// Checks that the database answers.
    public func watch() async throws(StorageError) {
        try await run("reach the database") { client, logger in
            try await client.query("SELECT 1", logger: logger)
        }
    }

    /// Nothing to fold: PostgreSQL keeps its own files.
    public func settle() async throws(StorageError) {}

    /// Work counters.
    public var statistics: DurableLogStatistics {
        get async { committer.statistics }
    }

    // MARK: Reading

    /// The room's frontier, checkpoint and the updates above it, in total order.
    public func load(room: String) async throws(StorageError) -> StoredRoom {
        committer.forget(room: room)
        return try await run("load a room") { client, logger in
            var frontier: Int64 = 0
            for try await value in try await client.query(
                "SELECT frontier FROM rooms WHERE name = \(room)", logger: logger
            ).decode(Int64.self) {
                frontier = value
            }
            let checkpoint = try await Self.checkpoint(of: room, client, logger)
            let updates = try await Self.updates(of: room, above: checkpoint?.horizon, client, logger)
            return StoredRoom(
                name: room, frontier: Timestamp(UInt64(bitPattern: frontier)), checkpoint: checkpoint,
                updates: updates)
        }
    }

    /// Every update of `room`, in total order.
    public func history(room: String) async throws(StorageError) -> [StoredUpdate] {
        try await run("read a room's history") { client, logger in
            try await Self.updates(of: room, above: nil, client, logger)
        }
    }

    /// Updates of `origin` in `room` after `seq`, oldest first, at most `limit`.
    public func updates(room: String, origin: PeerID, after seq: UInt64, limit: Int) async throws(StorageError)
        -> [StoredUpdate]
    {
        let (originValue, seqValue) = (Int64(bitPattern: origin.rawValue), Int64(bitPattern: seq))
        return try await run("read updates") { client, logger in
            try await Self.collect(
                client.query(
                    """
                    SELECT origin, seq, timestamp, action FROM updates
                    WHERE room = \(room) AND origin = \(originValue) AND seq > \(seqValue) ORDER BY seq LIMIT \(limit)
                    """, logger: logger))
        }
    }

    /// The highest seq per origin of `room`.
    public func digest(room: String) async throws(StorageError) -> Digest {
        try await run("read a digest") { client, logger in
            var seqs: [PeerID: UInt64] = [:]
            for try await (origin, seq) in try await client.query(
                "SELECT origin, MAX(seq) FROM updates WHERE room = \(room) GROUP BY origin", logger: logger
            ).decode((Int64, Int64).self) {
                seqs[PeerID(UInt64(bitPattern: origin))] = UInt64(bitPattern: seq)
            }
            return Digest(seqs)
        }
    }

    /// Whether anything was ever stored for `room`.
    public func roomExists(_ room: String) async throws(StorageError) -> Bool {
        try await run("look a room up") { client, logger in
            var found = false
            for try await _ in try await client.query("SELECT 1 FROM rooms WHERE name = \(room)", logger: logger) {
                found = true
            }
            return found
        }
    }

    /// Every stored room, by name.
    public func rooms() async throws(StorageError) -> [RoomSummary] {
        try await run("list rooms") { client, logger in
            var summaries: [RoomSummary] = []
            let rows = try await client.query(
                """
                SELECT rooms.name, rooms.frontier, COUNT(updates.seq), COUNT(DISTINCT updates.origin),
                       MAX(scuttleboard_unsigned(updates.timestamp))::TEXT
                FROM rooms LEFT JOIN updates ON updates.room = rooms.name
                GROUP BY rooms.name ORDER BY rooms.name
                """, logger: logger)
            for try await (name, frontier, count, origins, last) in rows.decode(
                (String, Int64, Int64, Int64, String?).self)
            {
                summaries.append(
                    RoomSummary(
                        name: name, updateCount: Int(count), originCount: Int(origins),
                        lastTimestamp: last.flatMap(UInt64.init).map(Timestamp.init),
                        frontier: Timestamp(UInt64(bitPattern: frontier))))
            }
            return summaries
        }
    }

    private static func checkpoint(of room: String, _ client: PostgresClient, _ logger: Logger) async throws
        -> StoredCheckpoint?
    {
        let rows = try await client.query(
            """
            SELECT horizon_timestamp, horizon_origin, state, digest_origins, digest_seqs
            FROM checkpoints WHERE room = \(room)
            """, logger: logger)
        for try await (timestamp, origin, state, origins, seqs) in rows.decode(
            (Int64, Int64, ByteBuffer, [Int64], [Int64]).self)
        {
            var digest: [PeerID: UInt64] = [:]
            for (origin, seq) in zip(origins, seqs) {
                digest[PeerID(UInt64(bitPattern: origin))] = UInt64(bitPattern: seq)
            }
            return StoredCheckpoint(
                horizon: OrderKey(
                    timestamp: Timestamp(UInt64(bitPattern: timestamp)), origin: PeerID(UInt64(bitPattern: origin))),
                digest: Digest(digest), state: Array(state.readableBytesView))
        }
        return nil
    }

    /// The updates of `room` above `horizon` (all of them without one), in total order.
    private static func updates(
        of room: String, above horizon: OrderKey?, _ client: PostgresClient, _ logger: Logger
    ) async throws -> [StoredUpdate] {
        // Stamps are stored by bit pattern; hybrid-logical stamps stay far
        // below 2^63, so the index range is exact for them.
        let rows =
            if let horizon, horizon.timestamp.rawValue <= UInt64(Int64.max) {
                try await client.query(
                    """
                    SELECT origin, seq, timestamp, action FROM updates
                    WHERE room = \(room) AND timestamp >= \(Int64(horizon.timestamp.rawValue))
                    """, logger: logger)
            } else {
                try await client.query(
                    "SELECT origin, seq, timestamp, action FROM updates WHERE room = \(room)", logger: logger)
            }
        var updates = try await collect(rows)
        if let horizon { updates.removeAll { $0.orderKey <= horizon } }
        updates.sort { $0.orderKey < $1.orderKey }
        return updates
    }

    private static func collect(_ rows: PostgresRowSequence) async throws -> [StoredUpdate] {
        var updates: [StoredUpdate] = []
        for try await (origin, seq, timestamp, action) in rows.decode((Int64, Int64, Int64, ByteBuffer).self) {
            updates.append(
                StoredUpdate(
                    origin: PeerID(UInt64(bitPattern: origin)), seq: UInt64(bitPattern: seq),
                    timestamp: Timestamp(UInt64(bitPattern: timestamp)), action: Array(action.readableBytesView)))
        }
        return updates
    }

    /// Runs `body` with the client, within ``operationTimeout``, turning
    /// what it throws into a ``StorageError`` that says what was being done.
    @discardableResult
    func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
    ) async throws(StorageError) -> T {
        let (client, logger) = (client, logger)
        do {
            return try await withTimeout(operationTimeout, doing: operation) { try await body(client, logger) }
        } catch {
            throw StorageError(postgres: error, doing: operation)
        }
    }
}

/// Runs `body`, failing with a ``StorageError`` when it takes longer than
/// `timeout` (and cancelling it): a database that stopped answering must
/// not hold a room, a probe or a stop indefinitely.
func withTimeout<T: Sendable>(
    _ timeout: Duration, doing operation: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw StorageError.postgres(
                operation: operation, state: "", message: "no answer from PostgreSQL within \(timeout)")
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

extension StorageError {
    /// What postgres-nio threw while doing `operation`, in words: the
    /// server's message and SQLSTATE, or why the connection failed.
    init(postgres error: any Error, doing operation: String) {
        if let error = error as? StorageError {
            self = error
        } else if let error = error as? PostgresTransactionError {
            let cause = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError
            self = cause.map { StorageError(postgres: $0, doing: operation) } ?? .failed("\(operation): \(error)")
        } else if let error = error as? PSQLError {
            if let info = error.serverInfo {
                self = .postgres(
                    operation: operation, state: info[.sqlState] ?? "", message: info[.message] ?? "\(error.code)")
            } else {
                let underlying = error.underlying.map { ": \($0)" } ?? ""
                self = .postgres(operation: operation, state: "", message: "\(error.code)\(underlying)")
            }
        } else {
            self = .failed("\(operation): \(error)")
        }
    }
}
