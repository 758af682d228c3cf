import Glibc
import NIOCore

/// Why the server could not start, in words a person can act on.
public enum ServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The address or port cannot be listened on.
    case cannotListen(host: String, port: Int, reason: String)

    /// A stop did not complete in time: these rooms were still busy, and
    /// were not checkpointed (what they acknowledged is in the log).
    case stopTimedOut(seconds: Int, busyRooms: [String])
    /// The server stopped, but not cleanly: what failed (the database, a
    /// room's checkpoint).
    case stoppedWithFailures([String])
    /// The TLS certificate or key cannot be used.
    case tlsSetup(String)

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
        case .stopTimedOut(let seconds, let busyRooms):
            "did not stop within \(seconds) s"
                + (busyRooms.isEmpty ? "" : " (still busy: \(busyRooms.sorted().joined(separator: ", ")))")
                + "; exiting without their checkpoints: every acknowledged update is in the log, "
                + "and the next start replays it"
        case .stoppedWithFailures(let failures): "stopped, but not cleanly: \(failures.joined(separator: "; "))"
        case .tlsSetup(let what): "cannot set up TLS: \(what)"
        }
    }
}
