import Foundation

/// The PostgreSQL server tests run against: `SCUTTLEBOARD_POSTGRES_URL`, or
/// else the cluster `Scripts/postgres.sh start` runs, when it answers. Each
/// test gets a database of its own (``withScratchDatabase(_:)``), dropped
/// afterwards. With `SCUTTLEBOARD_REQUIRE_POSTGRES=1` (as `.ci/run` sets)
/// a missing server fails the tests that need it instead of leaving them
/// out.
public enum TestPostgres {
    /// The variable naming the server.
    public static let urlVariable = "SCUTTLEBOARD_POSTGRES_URL"
    /// The variable that makes a missing server a failure.
    public static let requireVariable = "SCUTTLEBOARD_REQUIRE_POSTGRES"
    /// Where `Scripts/postgres.sh start` listens by default.
    public static let scriptURL = "postgres://scuttleboard@127.0.0.1:55432/scuttleboard"

    /// The server's URL (a database the user may create databases from),
    /// or nil when none answers.
    public static let serverURL: String? = {
        let url = ProcessInfo.processInfo.environment[urlVariable] ?? scriptURL
        let answer = try? TestProcesses.output(
            of: "psql", [url, "-tAc", "SELECT 1"], searchingPath: true, environment: ["PGCONNECT_TIMEOUT": "3"])
        return answer?.status == 0 && answer?.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1" ? url : nil
    }()

    /// How long one store operation may take in a test: the product's 5 s,
    /// or a minute under a sanitizer (ten times slower, beside a dozen
    /// suites on two cores: a slow answer is not a dead database there).
    public static var operationTimeout: Duration {
        ProcessInfo.processInfo.environment["SCUTTLEBOARD_SANITIZER"] == nil ? .seconds(5) : .seconds(60)
    }

    /// Whether tests must fail rather than leave PostgreSQL out.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment[requireVariable] == "1" }

    /// Why PostgreSQL is not there, for a test that needs it.
    public static var absence: String {
        "no PostgreSQL answers at \(ProcessInfo.processInfo.environment[urlVariable] ?? scriptURL): "
            + "run Scripts/postgres.sh start, or set \(urlVariable)"
    }

    /// Runs `body` with the URL of a new, empty database on the test
    /// server, and drops the database afterwards (also when `body` throws),
    /// cutting off any connection still open to it.
    /// - Throws: What `body` throws, or why the database could not be made.
    public static func withScratchDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        guard let serverURL, var components = URLComponents(string: serverURL) else {
            throw ScratchDatabaseError(message: absence)
        }
        let name = "scuttleboard_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
        try await psql(serverURL, "CREATE DATABASE \(name)")
        components.path = "/\(name)"
        let url = components.string ?? serverURL
        do {
            let result = try await body(url)
            try await psql(serverURL, "DROP DATABASE \(name) WITH (FORCE)")
            return result
        } catch {
            _ = try? await psql(serverURL, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs one statement through `psql` on `url`.
    /// - Returns: What it printed (unaligned, tuples only).
    @discardableResult
    public static func psql(_ url: String, _ statement: String) async throws -> String {
        let (status, output) = try await TestProcesses.output(
            of: "psql", [url, "-v", "ON_ERROR_STOP=1", "-tAc", statement], searchingPath: true)
        guard status == 0 else { throw ScratchDatabaseError(message: "psql failed (\(status)): \(statement)") }
        return output
    }
}

/// Why a scratch database could not be made or used.
public struct ScratchDatabaseError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// The message.
    public var description: String { message }

    /// An error saying `message`.
    public init(message: String) { self.message = message }
}
