import Foundation
import GRDB
import Scuttlebutt

/// Why the log could not do what was asked, in words a person can act on.
public enum StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the database was said to be does not name one (a malformed URL).
    case badLocation(String)
    /// The database file could not be opened or migrated.
    case cannotOpen(path: String, reason: String)
    /// The database was written by a newer version of Scuttleboard.
    case newerSchema(path: String)
    /// There is no database file there (reading commands never create one).
    case notFound(path: String)
    /// The file is a database, but not a Scuttleboard one: it is left alone.
    case notScuttleboard(path: String)
    /// The database needs migrating, which only a writing command does.
    case olderSchema(path: String)
    /// SQLite refused an operation: its result code and its words (a full
    /// disk is 13, a lock held too long 5, a read-only file 8).
    case sqlite(operation: String, code: Int32, message: String)
    /// PostgreSQL refused an operation or could not be reached: its
    /// SQLSTATE (empty when the connection failed) and its words.
    case postgres(operation: String, state: String, message: String)
    /// A write for `room` carried lease epoch `epoch`, but the room's lease
    /// is at `current` (nil: nobody holds it): the room moved to another
    /// node, and nothing of the write was stored.
    case fenced(room: String, epoch: UInt64, current: UInt64?)
    /// An append would have left a gap in an origin's updates: the log
    /// holds every origin's updates without holes, by construction.
    case gap(room: String, origin: PeerID, expected: UInt64, received: UInt64)
    /// The database file was deleted or replaced while in use.
    case fileReplaced(path: String)
    /// Anything else that failed, with the system's words.
    case failed(String)

    /// Wraps what GRDB or the system threw while doing `operation`.
    public init(_ error: any Error, doing operation: String) {
        if let error = error as? StorageError {
            self = error
        } else if let error = error as? DatabaseError {
            self = .sqlite(
                operation: operation, code: error.extendedResultCode.rawValue,
                message: error.message ?? "SQLite error \(error.extendedResultCode.rawValue)")
        } else {
            self = .failed("\(operation): \(error)")
        }
    }

    /// A sentence for people.
    public var description: String {
        switch self {
        case .badLocation(let what): return what
        case .cannotOpen(let path, let reason): return "cannot open database \(path): \(reason)"
        case .newerSchema(let path):
            return "database \(path) was written by a newer Scuttleboard; upgrade before opening it"
        case .notFound(let path): return "no database at \(path)"
        case .notScuttleboard(let path):
            return "\(path) is not a Scuttleboard database (it was left untouched)"
        case .olderSchema(let path):
            return "database \(path) was written by an older Scuttleboard; run the server on it once to upgrade it"
        case .sqlite(let operation, let code, let message):
            return "cannot \(operation): \(message) (SQLite \(code & 0xFF))"
        case .postgres(let operation, let state, let message):
            return state.isEmpty
                ? "cannot \(operation): \(message)" : "cannot \(operation): \(message) (SQLSTATE \(state))"
        case .fenced(let room, let epoch, let current):
            return "refused a write for room \"\(room)\" at lease epoch \(epoch): "
                + (current.map { "the room moved on (its lease is at epoch \($0))" } ?? "nobody holds its lease")
        case .gap(let room, let origin, let expected, let received):
            return
                "refused to store update \(origin)#\(received) of room \"\(room)\": the log holds \(origin) only up to "
                + "#\(expected - 1), and an origin's updates are stored without gaps"
        case .fileReplaced(let path):
            return "the database file \(path) was deleted or replaced while the server was using it"
        case .failed(let reason): return "database error: \(reason)"
        }
    }
}
