import Glibc
import NIOCore
import NIOPosix
import NIOSSL

/// Why a connection to the server could not be made, in words a person can
/// act on: not "connection lost", but which of the usual causes it was.
public enum ConnectionFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The host name did not resolve.
    case cannotResolve(host: String)
    /// Nothing listens there (or a firewall said no).
    case refused(host: String, port: Int)
    /// No answer within the connect timeout.
    case timedOut(host: String, port: Int)
    /// No route to the host or its network.
    case unreachable(host: String, port: Int)
    /// The server's certificate is not one this client trusts (signed by an
    /// unknown CA, expired, or for another name).
    case untrustedCertificate(host: String, port: Int, String)
    /// The TLS handshake failed otherwise (often: the server does not
    /// speak TLS on that port).
    case tlsHandshake(host: String, port: Int, String)
    /// TLS could not be set up on this side (an unreadable CA file).
    case tlsSetup(String)
    /// Anything else, with the system's words.
    case other(host: String, port: Int, String)

    /// Classifies an error from connecting to `host`:`port`.
    public init(_ error: any Error, host: String, port: Int) {
        if let failure = error as? ConnectionFailure {
            self = failure
        } else if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                self = .cannotResolve(host: host)
            } else if let first = error.connectionErrors.first {
                self = ConnectionFailure(first.error, host: host, port: port)
            } else {
                self = .other(host: host, port: port, "\(error)")
            }
        } else if case ChannelError.connectTimeout = error {
            self = .timedOut(host: host, port: port)
        } else if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: self = .refused(host: host, port: port)
            case ETIMEDOUT: self = .timedOut(host: host, port: port)
            case ENETUNREACH, EHOSTUNREACH: self = .unreachable(host: host, port: port)
            default: self = .other(host: host, port: port, "\(error)")
            }
        } else if let error = error as? NIOSSLError, case .handshakeFailed(let reason) = error {
            let words = "\(reason)"
            self =
                words.contains("CERTIFICATE_VERIFY_FAILED")
                ? .untrustedCertificate(host: host, port: port, words) : .tlsHandshake(host: host, port: port, words)
        } else if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            self = .untrustedCertificate(host: host, port: port, "\(error)")
        } else if error is NIOSSLError {
            self = .tlsHandshake(host: host, port: port, "\(error)")
        } else if error is SocketAddressError.UnknownHost {
            self = .cannotResolve(host: host)
        } else {
            self = .other(host: host, port: port, "\(error)")
        }
    }

    /// A sentence for people.
    public var description: String {
        switch self {
        case .cannotResolve(let host): "cannot resolve host \"\(host)\""
        case .refused(let host, let port): "connection refused by \(host):\(port) (is the server running?)"
        case .timedOut(let host, let port): "timed out connecting to \(host):\(port)"
        case .unreachable(let host, let port): "\(host):\(port) is unreachable"
        case .untrustedCertificate(let host, let port, let what):
            "the certificate of \(host):\(port) is not trusted (pass --ca FILE with the CA that signed it): \(what)"
        case .tlsHandshake(let host, let port, let what):
            "TLS with \(host):\(port) failed (does it speak TLS on that port?): \(what)"
        case .tlsSetup(let what): "cannot set up TLS: \(what)"
        case .other(let host, let port, let what): "cannot connect to \(host):\(port): \(what)"
        }
    }
}
