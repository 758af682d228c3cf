import Foundation
import PostgresStorage
import Scuttlebutt
import Storage
import TestHarness
import Testing

/// What only the PostgreSQL engine has: URLs, its schema's versions, a
/// database that is not ours, a server that is not there.
@Suite(.enabled(if: TestPostgres.serverURL != nil, "\(TestPostgres.absence)"))
struct PostgresLogTests {
    @Test func aURLIsReadAndShownWithoutItsPassword() throws {
        let location = try PostgresLocation(url: "postgres://board:s%40cret@db.example:6543/boards")
        #expect(
            location
                == PostgresLocation(
                    host: "db.example", port: 6543, user: "board", password: "s@cret", database: "boards"))
        #expect(location.description == "postgres://board@db.example:6543/boards")
        #expect(try PostgresLocation(url: "postgresql://u@h/d").port == 5432)
        #expect(
            throws: StorageError.badLocation(
                "not a PostgreSQL URL: mysql://u@h/d (expected postgres://USER@HOST:PORT/DATABASE)")
        ) {
            try PostgresLocation(url: "mysql://u@h/d")
        }
        #expect(throws: StorageError.badLocation("postgres://u@h names no database")) {
            try PostgresLocation(url: "postgres://u@h")
        }
    }

    @Test func serversStartingTogetherMigrateTheSchemaOnce() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let location = try PostgresLocation(url: url)
            let logs = try await withThrowingTaskGroup(of: PostgresLog.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)
                    }
                }
                return try await group.reduce(into: [PostgresLog]()) { $0.append($1) }
            }
            for log in logs { await log.close() }
            // All four opened (none tripped over another's half-made tables)
            // and every migration was applied once.
            let applied = try await TestPostgres.psql(
                url, "SELECT string_agg(identifier, ',' ORDER BY identifier) FROM scuttleboard_migrations")
            #expect(
                applied.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "v1: rooms, updates, checkpoints, settings,v2: nodes and leases")
        }
    }

    @Test func aDatabaseFromANewerVersionIsRefused() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let location = try PostgresLocation(url: url)
            await (try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)).close()
            try await TestPostgres.psql(
                url, "INSERT INTO scuttleboard_migrations (identifier) VALUES ('v99: from the future')")
            await #expect(throws: StorageError.newerSchema(path: location.description)) {
                await (try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)).close()
            }
        }
    }

    @Test func anotherApplicationsDatabaseIsLeftAlone() async throws {
        try await TestPostgres.withScratchDatabase { url in
            let location = try PostgresLocation(url: url)
            try await TestPostgres.psql(url, "CREATE TABLE invoices (id INT)")
            await #expect(throws: StorageError.notScuttleboard(path: location.description)) {
                await (try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)).close()
            }
            let tables = try await TestPostgres.psql(
                url, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
            #expect(tables.trimmingCharacters(in: .whitespacesAndNewlines) == "invoices", "nothing was added")
        }
    }

    @Test func aServerThatIsNotThereGetsAClearError() async throws {
        // A port nothing listens on: bound, then closed.
        let location = PostgresLocation(host: "127.0.0.1", port: 1, user: "nobody", database: "nothing")
        await #expect {
            await (try await PostgresLog.open(location, operationTimeout: TestPostgres.operationTimeout)).close()
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix("cannot open postgres://nobody@127.0.0.1:1/nothing: ")
                && description.contains("onnect")
        }
    }
}
