import NIOCore
import NIOSSL

/// How a client secures its connection to the server: TLS, checking the
/// server's certificate against the system's roots or against the
/// certificates of a file of its own (a private CA).
public struct ClientTLS: Sendable, Hashable, Codable {
    /// A PEM file of the certificates to trust instead of the system's; nil
    /// for the system's.
    public var caFile: String?

    /// TLS trusting `caFile`'s certificates, or the system's.
    public init(caFile: String? = nil) {
        self.caFile = caFile
    }

    /// The context every connection of a client shares.
    /// - Throws: ``ConnectionFailure/tlsSetup(_:)`` when the CA file cannot
    ///   be read.
    public func makeContext() throws(ConnectionFailure) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tlsSetup("cannot use \(caFile.map { "--ca \($0)" } ?? "the system's certificates"): \(error)")
        }
    }

    /// Adds TLS to a new connection's pipeline, first: the server's name is
    /// checked against its certificate (an IP address against the
    /// certificate's IP addresses; it is not sent as SNI).
    public static func addHandler(
        to pipeline: ChannelPipeline.SynchronousOperations, context: NIOSSLContext, host: String
    ) throws {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host))
    }
}
