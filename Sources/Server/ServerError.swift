import Glibc
import NIOCore

/// Why the server could not start, in words a person can act on.
public enum ServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The address or port cannot be listened on.
    case cannotListen(host: String, port: Int, reason: String)

    /// Classifies a failure to bind `host`:`port`.
    init(listeningOn host: String, port: Int, _ error: any Error) {
        let reason: String
        if let error = error as? IOError {
            switch error.errnoCode {
            case EADDRINUSE: reason = "the port is in use (is another server running? pick another port)"
            case EACCES: reason = "permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL: reason = "this machine has no such address"
            default: reason = "\(error)"
            }
        } else if error is SocketAddressError.UnknownHost {
            reason = "cannot resolve the host"
        } else {
            reason = "\(error)"
        }
        self = .cannotListen(host: host, port: port, reason: reason)
    }

    /// A sentence for people.
    public var description: String {
        switch self {
        case .cannotListen(let host, let port, let reason): "cannot listen on \(host):\(port): \(reason)"
        }
    }
}
