/// Why the log could not do what was asked, in words a person can act on.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    /// The database file could not be opened or migrated.
    case cannotOpen(path: String, reason: String)
    /// The database was written by a newer version of Scuttleboard.
    case newerSchema(path: String)
    /// A write or read failed.
    case failed(String)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open database \(path): \(reason)"
        case .newerSchema(let path):
            return "database \(path) was written by a newer Scuttleboard; upgrade before opening it"
        case .failed(let reason): return "database error: \(reason)"
        }
    }
}
