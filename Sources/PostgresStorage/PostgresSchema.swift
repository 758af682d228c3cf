import Logging
import PostgresNIO
import Storage

/// The PostgreSQL schema, versioned like the SQLite one: migrations are
/// applied in order, each once, and never edited once released.
///
/// Unsigned 64-bit values (origins, seqs, stamps) are stored by bit pattern
/// in `BIGINT`; `scuttleboard_unsigned` turns one back into its unsigned
/// value where PostgreSQL must compare or show it.
enum PostgresSchema {
    /// A migration: its identifier and its statements.
    struct Migration {
        let identifier: String
        let statements: [String]
    }

    /// Every migration, oldest first.
    static let migrations: [Migration] = [
        Migration(
            identifier: "v1: rooms, updates, checkpoints, settings",
            statements: [
                """
                CREATE FUNCTION scuttleboard_unsigned(value BIGINT) RETURNS NUMERIC
                LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE AS $$
                    SELECT CASE WHEN value < 0 THEN value::NUMERIC + 18446744073709551616 ELSE value::NUMERIC END
                $$
                """,
                """
                CREATE TABLE rooms (
                    name TEXT PRIMARY KEY,
                    frontier BIGINT NOT NULL DEFAULT 0
                )
                """,
                """
                CREATE TABLE updates (
                    room TEXT NOT NULL,
                    origin BIGINT NOT NULL,
                    seq BIGINT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    action BYTEA NOT NULL,
                    PRIMARY KEY (room, origin, seq)
                )
                """,
                "CREATE INDEX updates_by_time ON updates (room, timestamp)",
                """
                CREATE TABLE checkpoints (
                    room TEXT PRIMARY KEY REFERENCES rooms(name),
                    horizon_timestamp BIGINT NOT NULL,
                    horizon_origin BIGINT NOT NULL,
                    state BYTEA NOT NULL,
                    digest_origins BIGINT[] NOT NULL,
                    digest_seqs BIGINT[] NOT NULL
                )
                """,
                "CREATE TABLE settings (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
            ]),
        Migration(
            identifier: "v2: nodes and leases",
            statements: [
                """
                CREATE TABLE nodes (
                    name TEXT PRIMARY KEY,
                    address TEXT NOT NULL,
                    web_address TEXT,
                    incarnation TEXT NOT NULL,
                    draining BOOLEAN NOT NULL DEFAULT false,
                    alive_until TIMESTAMPTZ NOT NULL
                )
                """,
                """
                CREATE TABLE leases (
                    room TEXT PRIMARY KEY,
                    node TEXT NOT NULL,
                    incarnation TEXT NOT NULL,
                    epoch BIGINT NOT NULL,
                    expires_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX leases_by_holder ON leases (incarnation)",
            ]),
    ]

    /// Brings the database's schema up to date, once however many servers
    /// start together (a transaction-scoped advisory lock serialises them),
    /// or, when only `reading`, checks that it is up to date and changes
    /// nothing.
    /// - Throws: ``StorageError/notScuttleboard(path:)`` for a database
    ///   holding other tables and no Scuttleboard migrations (or, to read,
    ///   none at all); ``StorageError/newerSchema(path:)`` for one a newer
    ///   version wrote; ``StorageError/olderSchema(path:)`` to read one that
    ///   needs migrating.
    static func migrate(
        _ connection: PostgresConnection, location: String, reading: Bool = false, logger: Logger
    ) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            if !reading {
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtext('scuttleboard schema'))", logger: logger)
            }
            var tables: [String] = []
            for try await name in try await connection.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", logger: logger
            ).decode(String.self) {
                tables.append(name)
            }
            if !tables.contains("scuttleboard_migrations") {
                guard tables.isEmpty, !reading else { throw StorageError.notScuttleboard(path: location) }
                try await connection.query(
                    """
                    CREATE TABLE scuttleboard_migrations (
                        identifier TEXT PRIMARY KEY,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                    )
                    """, logger: logger)
            }
            var applied: Set<String> = []
            for try await identifier in try await connection.query(
                "SELECT identifier FROM scuttleboard_migrations", logger: logger
            ).decode(String.self) {
                applied.insert(identifier)
            }
            let known = Set(migrations.map(\.identifier))
            guard applied.isSubset(of: known) else { throw StorageError.newerSchema(path: location) }
            let missing = migrations.filter { !applied.contains($0.identifier) }
            if reading {
                guard missing.isEmpty else { throw StorageError.olderSchema(path: location) }
                return
            }
            for migration in missing {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO scuttleboard_migrations (identifier) VALUES (\(migration.identifier))",
                    logger: logger)
            }
        }
    }
}
