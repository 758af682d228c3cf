import Foundation
import GRDB
import Scuttlebutt

/// The durable log of every room: SQLite in WAL mode through GRDB, one
/// writer, group commit. This is the only code that talks to SQLite.
///
/// ``append(room:_:)`` returns once the updates are durable (as the
/// ``Durability`` policy defines it), so a server can acknowledge them then.
/// Appends that arrive while a commit is in flight are written together in
/// the next transaction: under load, one fsync serves many updates.
public final class DurableLog: DurableStore {
    /// Where the log lives; nil when it is in memory.
    public let path: String?
    /// The fsync policy.
    public let durability: Durability
    let writer: any DatabaseWriter
    private let committer: GroupCommitter
    /// The file's device and inode when it was opened, to notice it being
    /// deleted or replaced underneath (SQLite would go on writing to the
    /// unlinked file and lose everything at exit).
    private let fileIdentity: FileIdentity?

    /// A file's device and inode.
    struct FileIdentity: Sendable, Hashable {
        let device: UInt64
        let inode: UInt64
    }

    static func identity(of path: String) -> FileIdentity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// Checks that the log can be written: the file is still the one opened,
    /// and a small write transaction commits (the lock can be taken, the
    /// disk has room for it).
    /// - Throws: What stands in the way.
    public func probe() async throws(StorageError) {
        try checkFile()
        do {
            try await writer.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO settings (key, value) VALUES ('probe', ?)",
                    arguments: [Data(String(UInt64(Date().timeIntervalSince1970 * 1_000)).utf8)])
            }
        } catch {
            throw StorageError(error, doing: "write to the database")
        }
    }

    /// Copies everything the open database holds to a new file at `path`
    /// (SQLite's `VACUUM INTO`): what is left of a database whose file was
    /// deleted while open lives on only in this process.
    /// The copy is written as `path.partial` and renamed when complete, so
    /// a file at `path` is always whole.
    /// - Throws: What stood in the way (the file exists, the folder is gone).
    public func copy(to path: String) async throws(StorageError) {
        let partial = path + ".partial"
        do {
            try await writer.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM INTO ?", arguments: [partial])
            }
        } catch {
            throw StorageError(error, doing: "copy the database to \(path)")
        }
        guard FileManager.default.fileExists(atPath: path) == false, rename(partial, path) == 0 else {
            throw .failed("cannot rename the copy \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether the file is still the one opened.
    /// - Throws: ``StorageError/fileReplaced(path:)`` when it was deleted or replaced.
    public func checkFile() throws(StorageError) {
        if let path, let fileIdentity, Self.identity(of: path) != fileIdentity {
            throw .fileReplaced(path: path)
        }
    }

    /// Opens (or creates) the log at `path` and brings its schema up to date.
    /// - Parameters:
    ///   - path: A SQLite file (created when missing); nil for a log kept in
    ///     memory that vanishes with the process (`--memory`).
    ///   - durability: The fsync policy.
    ///   - busyTimeout: How long a write waits for SQLite's write lock when
    ///     another process holds it, before it fails.
    ///   - commitInterval: The least time between the starts of two group
    ///     commits: under load, appends arriving within it share one
    ///     transaction; an append to an idle log commits at once.
    public init(
        path: String?, durability: Durability = .normal, busyTimeout: Duration = .seconds(5),
        commitInterval: Duration = .zero
    ) throws(StorageError) {
        self.path = path
        self.durability = durability
        var configuration = Configuration()
        configuration.label = "scuttleboard"
        configuration.busyMode = .timeout(
            Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18)
        configuration.prepareDatabase { db in
            switch durability {
            case .full: try db.execute(sql: "PRAGMA synchronous = FULL")
            case .normal: try db.execute(sql: "PRAGMA synchronous = NORMAL")
            case .off: try db.execute(sql: "PRAGMA synchronous = OFF")
            }
        }
        let shownPath = path ?? ":memory:"
        do {
            let writer: any DatabaseWriter =
                if let path { try DatabasePool(path: path, configuration: configuration) } else {
                    try DatabaseQueue(configuration: configuration)
                }
            try writer.read { try Self.checkSchema($0, path: shownPath, forWriting: true) }
            try Self.migrator.migrate(writer)
            self.writer = writer
        } catch let error as StorageError {
            throw error
        } catch {
            throw .cannotOpen(path: shownPath, reason: String(describing: error))
        }
        committer = GroupCommitter(writer: writer, minimumInterval: commitInterval)
        fileIdentity = path.flatMap(Self.identity(of:))
    }

    /// Opens an existing log to read it, and only that: the file is never
    /// created, migrated or written (`rooms`, `export`, `replay`).
    /// - Throws: ``StorageError/notFound(path:)`` when there is no such
    ///   file, ``StorageError/notScuttleboard(path:)`` when it holds another
    ///   application's data, and the schema errors of ``init(path:durability:)``.
    public init(readingAt path: String) throws(StorageError) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw .notFound(path: path)
        }
        self.path = path
        durability = .normal
        var configuration = Configuration()
        configuration.label = "scuttleboard"
        configuration.readonly = true
        do {
            let reader = try DatabaseQueue(path: path, configuration: configuration)
            try reader.read { try Self.checkSchema($0, path: path, forWriting: false) }
            writer = reader
        } catch let error as StorageError {
            throw error
        } catch {
            throw .cannotOpen(path: path, reason: String(describing: error))
        }
        committer = GroupCommitter(writer: writer, minimumInterval: .zero)
        fileIdentity = Self.identity(of: path)
    }

    /// Refuses a database this version must not touch: another
    /// application's (migrating it would add our tables to it), a newer
    /// Scuttleboard's, or, for reading only, one that needs migrating.
    static func checkSchema(_ db: Database, path: String, forWriting: Bool) throws {
        guard try db.tableExists("grdb_migrations") else {
            let tables = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'") ?? 0
            // A new, empty file is ours to set up; anything else is not ours.
            if tables > 0 || !forWriting { throw StorageError.notScuttleboard(path: path) }
            return
        }
        let migrator = Self.migrator
        let applied = try migrator.appliedIdentifiers(db)
        guard applied.contains(Self.firstMigration) else { throw StorageError.notScuttleboard(path: path) }
        if !applied.isSubset(of: Set(migrator.migrations)) { throw StorageError.newerSchema(path: path) }
        if !forWriting, try !migrator.hasCompletedMigrations(db) { throw StorageError.olderSchema(path: path) }
    }

    /// The identifier of the first migration: every Scuttleboard database has it.
    static let firstMigration = "v1: rooms and updates"

    /// The schema, versioned: a migration is never edited once released.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(firstMigration) { db in
            try db.execute(
                sql: """
                    CREATE TABLE rooms (
                        name TEXT PRIMARY KEY NOT NULL,
                        frontier INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE updates (
                        room TEXT NOT NULL REFERENCES rooms(name),
                        origin INTEGER NOT NULL,
                        seq INTEGER NOT NULL,
                        timestamp INTEGER NOT NULL,
                        action BLOB NOT NULL,
                        PRIMARY KEY (room, origin, seq)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2: settings") { db in
            try db.execute(sql: "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)")
        }
        migrator.registerMigration("v3: checkpoints") { db in
            try db.execute(
                sql: """
                    CREATE TABLE checkpoints (
                        room TEXT PRIMARY KEY NOT NULL REFERENCES rooms(name),
                        horizon_timestamp INTEGER NOT NULL,
                        horizon_origin INTEGER NOT NULL,
                        state BLOB NOT NULL
                    );
                    CREATE TABLE checkpoint_digests (
                        room TEXT NOT NULL REFERENCES rooms(name),
                        origin INTEGER NOT NULL,
                        seq INTEGER NOT NULL,
                        PRIMARY KEY (room, origin)
                    ) WITHOUT ROWID;
                    CREATE INDEX updates_by_time ON updates (room, timestamp);
                    """)
        }
        return migrator
    }

    // MARK: Writing

    /// Stores `updates` of `room` and calls `completion` once they are
    /// durable, or refused, on the database's writer queue (keep it short:
    /// other commits wait behind it). No task or actor stands between the
    /// caller and the writer.
    /// - Complexity: One transaction per group of concurrent appends.
    public func append(
        room: String, _ updates: [StoredUpdate],
        completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        guard !updates.isEmpty else { return completion(.success(())) }
        committer.append(PendingAppend(room: room, updates: updates), completion: completion)
    }

    /// Stores updates that replace any stored version with the same room,
    /// origin and seq: only for own updates re-stamped after a stale refusal,
    /// which nobody had accepted.
    public func replace(room: String, _ updates: [StoredUpdate]) async throws(StorageError) {
        do {
            try await writer.write { db in
                try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
                for update in updates {
                    try db.execute(
                        sql:
                            "INSERT OR REPLACE INTO updates (room, origin, seq, timestamp, action) VALUES (?, ?, ?, ?, ?)",
                        arguments: [
                            room, Int64(bitPattern: update.origin.rawValue), Int64(bitPattern: update.seq),
                            Int64(bitPattern: update.timestamp.rawValue), Data(update.action),
                        ])
                }
            }
        } catch {
            throw StorageError(error, doing: "replace updates")
        }
    }

    /// A stored setting (e.g. a client's peer id), or nil.
    public func setting(_ key: String) throws(StorageError) -> [UInt8]? {
        do {
            return try writer.read { db in
                try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]).map {
                    [UInt8]($0)
                }
            }
        } catch {
            throw StorageError(error, doing: "read a setting")
        }
    }

    /// Stores a setting, replacing any previous value.
    public func setSetting(_ key: String, _ value: [UInt8]) throws(StorageError) {
        do {
            try writer.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", arguments: [key, Data(value)])
            }
        } catch {
            throw StorageError(error, doing: "store a setting")
        }
    }

    /// Persists a room's stable frontier (never moving it back).
    public func setFrontier(_ frontier: Timestamp, room: String) async throws(StorageError) {
        do {
            try await writer.write { db in
                try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
                try db.execute(
                    sql: "UPDATE rooms SET frontier = MAX(frontier, ?) WHERE name = ?",
                    arguments: [Int64(bitPattern: frontier.rawValue), room])
            }
        } catch {
            throw StorageError(error, doing: "store the frontier")
        }
    }

    /// Stores `checkpoint` as the room's restart point, unless the stored one
    /// is already at or past its horizon. Updates are never deleted: the full
    /// history stays for export and audit.
    public func saveCheckpoint(_ checkpoint: StoredCheckpoint, room: String) async throws(StorageError) {
        do {
            try await writer.write { db in
                let stored = try Row.fetchOne(
                    db, sql: "SELECT horizon_timestamp, horizon_origin FROM checkpoints WHERE room = ?",
                    arguments: [room])
                if let stored,
                    checkpoint.horizon
                        <= OrderKey(
                            timestamp: Timestamp(UInt64(bitPattern: stored[0])),
                            origin: PeerID(UInt64(bitPattern: stored[1])))
                {
                    return
                }
                try db.execute(sql: "INSERT OR IGNORE INTO rooms (name) VALUES (?)", arguments: [room])
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO checkpoints (room, horizon_timestamp, horizon_origin, state)
                        VALUES (?, ?, ?, ?)
                        """,
                    arguments: [
                        room, Int64(bitPattern: checkpoint.horizon.timestamp.rawValue),
                        Int64(bitPattern: checkpoint.horizon.origin.rawValue), Data(checkpoint.state),
                    ])
                try db.execute(sql: "DELETE FROM checkpoint_digests WHERE room = ?", arguments: [room])
                for (origin, seq) in checkpoint.digest {
                    try db.execute(
                        sql: "INSERT INTO checkpoint_digests (room, origin, seq) VALUES (?, ?, ?)",
                        arguments: [room, Int64(bitPattern: origin.rawValue), Int64(bitPattern: seq)])
                }
            }
        } catch {
            throw StorageError(error, doing: "store a checkpoint")
        }
    }

    /// Copies the write-ahead log into the main file and truncates it, so a
    /// restart reads one file (done at shutdown and periodically).
    public func checkpoint() throws(StorageError) {
        guard path != nil else { return }
        do {
            _ = try writer.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        } catch {
            throw StorageError(error, doing: "checkpoint the write-ahead log")
        }
    }

    /// The file's path, or `:memory:`.
    public var location: String { path ?? ":memory:" }

    /// Whether the file is still the one opened (``checkFile()``).
    public func watch() throws(StorageError) { try checkFile() }

    /// Folds the write-ahead log into the file (``checkpoint()``).
    public func settle() throws(StorageError) { try checkpoint() }

    /// Work counters.
    public var statistics: DurableLogStatistics {
        get async { committer.statistics }
    }

    // MARK: Reading

    /// Everything needed to rebuild `room`: its frontier, its latest
    /// checkpoint if any, and the updates above that checkpoint in total
    /// order. An unknown room is empty.
    /// - Complexity: Reads the checkpoint and the suffix only, through the
    ///   `(room, timestamp)` index.
    public func load(room: String) throws(StorageError) -> StoredRoom {
        do {
            return try writer.read { db in
                let frontier = try Int64.fetchOne(
                    db, sql: "SELECT frontier FROM rooms WHERE name = ?", arguments: [room])
                let checkpoint = try Self.checkpoint(db, room: room)
                let updates = try Self.updates(db, room: room, above: checkpoint?.horizon)
                return StoredRoom(
                    name: room, frontier: Timestamp(UInt64(bitPattern: frontier ?? 0)), checkpoint: checkpoint,
                    updates: updates)
            }
        } catch {
            throw StorageError(error, doing: "load a room")
        }
    }

    /// Every update of `room` ever stored, in total order, checkpoints or not
    /// (for export and audit).
    public func history(room: String) throws(StorageError) -> [StoredUpdate] {
        do {
            return try writer.read { db in try Self.updates(db, room: room, above: nil) }
        } catch {
            throw StorageError(error, doing: "read a room's history")
        }
    }

    private static func checkpoint(_ db: Database, room: String) throws -> StoredCheckpoint? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT horizon_timestamp, horizon_origin, state FROM checkpoints WHERE room = ?",
                arguments: [room])
        else { return nil }
        var seqs: [PeerID: UInt64] = [:]
        for entry in try Row.fetchAll(
            db, sql: "SELECT origin, seq FROM checkpoint_digests WHERE room = ?", arguments: [room])
        {
            seqs[PeerID(UInt64(bitPattern: entry[0]))] = UInt64(bitPattern: entry[1])
        }
        return StoredCheckpoint(
            horizon: OrderKey(
                timestamp: Timestamp(UInt64(bitPattern: row[0])), origin: PeerID(UInt64(bitPattern: row[1]))),
            digest: Digest(seqs), state: [UInt8](row[2] as Data))
    }

    private static func updates(_ db: Database, room: String, above horizon: OrderKey?) throws -> [StoredUpdate] {
        // Stamps are stored as signed 64-bit integers; hybrid-logical stamps
        // stay far below 2^63, so the index range is exact for them.
        let rows =
            if let horizon, horizon.timestamp.rawValue <= UInt64(Int64.max) {
                try Row.fetchCursor(
                    db, sql: "SELECT origin, seq, timestamp, action FROM updates WHERE room = ? AND timestamp >= ?",
                    arguments: [room, Int64(horizon.timestamp.rawValue)])
            } else {
                try Row.fetchCursor(
                    db, sql: "SELECT origin, seq, timestamp, action FROM updates WHERE room = ?", arguments: [room])
            }
        var updates: [StoredUpdate] = []
        while let row = try rows.next() {
            let update = Self.update(row)
            if let horizon, update.orderKey <= horizon { continue }
            updates.append(update)
        }
        updates.sort { $0.orderKey < $1.orderKey }
        return updates
    }

    /// Updates of `origin` in `room` after `seq`, oldest first, at most
    /// `limit`: the anti-entropy source for what memory no longer holds.
    public func updates(room: String, origin: PeerID, after seq: UInt64, limit: Int) throws(StorageError)
        -> [StoredUpdate]
    {
        do {
            return try writer.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT origin, seq, timestamp, action FROM updates
                        WHERE room = ? AND origin = ? AND seq > ? ORDER BY seq LIMIT ?
                        """,
                    arguments: [room, Int64(bitPattern: origin.rawValue), Int64(bitPattern: seq), limit]
                ).map(Self.update)
            }
        } catch {
            throw StorageError(error, doing: "read updates")
        }
    }

    /// What the log holds of `room`: the highest seq per origin.
    public func digest(room: String) throws(StorageError) -> Digest {
        do {
            return try writer.read { db in
                var seqs: [PeerID: UInt64] = [:]
                for row in try Row.fetchAll(
                    db, sql: "SELECT origin, MAX(seq) FROM updates WHERE room = ? GROUP BY origin", arguments: [room])
                {
                    seqs[PeerID(UInt64(bitPattern: row[0]))] = UInt64(bitPattern: row[1])
                }
                return Digest(seqs)
            }
        } catch {
            throw StorageError(error, doing: "read a digest")
        }
    }

    /// Whether anything was ever stored for `room` (an update or a frontier).
    public func roomExists(_ room: String) throws(StorageError) -> Bool {
        do {
            return try writer.read { db in
                try Bool.fetchOne(db, sql: "SELECT 1 FROM rooms WHERE name = ?", arguments: [room]) ?? false
            }
        } catch {
            throw StorageError(error, doing: "look a room up")
        }
    }

    /// Every stored room, by name.
    public func rooms() throws(StorageError) -> [RoomSummary] {
        do {
            return try writer.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT rooms.name, rooms.frontier, COUNT(updates.seq), COUNT(DISTINCT updates.origin),
                               MAX(updates.timestamp)
                        FROM rooms LEFT JOIN updates ON updates.room = rooms.name
                        GROUP BY rooms.name ORDER BY rooms.name
                        """
                ).map { row in
                    let last: Int64? = row[4]
                    return RoomSummary(
                        name: row[0], updateCount: row[2], originCount: row[3],
                        lastTimestamp: last.map { Timestamp(UInt64(bitPattern: $0)) },
                        frontier: Timestamp(UInt64(bitPattern: row[1])))
                }
            }
        } catch {
            throw StorageError(error, doing: "list rooms")
        }
    }

    static func update(_ row: Row) -> StoredUpdate {
        StoredUpdate(
            origin: PeerID(UInt64(bitPattern: row[0])), seq: UInt64(bitPattern: row[1]),
            timestamp: Timestamp(UInt64(bitPattern: row[2])), action: [UInt8](row[3] as Data))
    }
}
