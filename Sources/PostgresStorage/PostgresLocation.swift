import Foundation
import Storage

/// Where a PostgreSQL log lives, read from a URL:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (`postgresql://` too).
/// The password, when given, is never shown.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The role to log in as.
    public var user: String
    /// The role's password, if the server asks for one.
    public var password: String?
    /// The database.
    public var database: String

    /// A location given piece by piece.
    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Reads a `postgres://` URL.
    /// - Throws: ``StorageError/badLocation(_:)`` saying what is wrong with it.
    public init(url: String) throws(StorageError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw .badLocation("not a PostgreSQL URL: \(url) (expected postgres://USER@HOST:PORT/DATABASE)")
        }
        guard let host = components.host, !host.isEmpty else { throw .badLocation("\(url) names no host") }
        guard let user = components.user, !user.isEmpty else { throw .badLocation("\(url) names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw .badLocation("\(url) names no database") }
        self.init(
            host: host, port: components.port ?? 5432, user: user,
            password: components.password?.removingPercentEncoding, database: database)
    }

    /// The URL without its password.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}
