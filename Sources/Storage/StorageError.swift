/// Why the log could not do what was asked, in words a person can act on.
public enum StorageError: Error, Sendable, CustomStringConvertible {
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
    /// A write or read failed.
    case failed(String)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open database \(path): \(reason)"
        case .newerSchema(let path):
            return "database \(path) was written by a newer Scuttleboard; upgrade before opening it"
        case .notFound(let path): return "no database at \(path)"
        case .notScuttleboard(let path):
            return "\(path) is not a Scuttleboard database (it was left untouched)"
        case .olderSchema(let path):
            return "database \(path) was written by an older Scuttleboard; run the server on it once to upgrade it"
        case .failed(let reason): return "database error: \(reason)"
        }
    }
}
