import NIOCore
import NIOSSL
import Scuttlebutt
import Whiteboard
import Wire

extension ServerTLS {
    /// The NIO SSL configuration of this certificate and key.
    /// - Throws: ``ServerError/tlsSetup(_:)`` naming the file that cannot be used.
    func configuration() throws(ServerError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw .tlsSetup("cannot read the certificate --tls-cert \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw .tlsSetup("--tls-cert \(certificateFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw .tlsSetup("cannot read the private key --tls-key \(keyFile): \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// The context every protocol connection shares.
    func makeContext() throws(ServerError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration())
        } catch let error as ServerError {
            throw error
        } catch {
            throw .tlsSetup("the certificate and key do not make a TLS context: \(error)")
        }
    }
}

/// First on a TLS listener's connections: a connection whose first byte
/// starts a TLS handshake goes on to TLS (this handler leaves the
/// pipeline); any other is a peer speaking the protocol in plaintext, which
/// gets a plaintext `goodbye(unauthorized: …)` saying the server takes TLS
/// only, and is closed. Nothing it sent (its hello, its token) is read
/// further, let alone accepted.
final class PlaintextRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The first byte of every TLS connection: a handshake record.
    static let handshakeRecord: UInt8 = 0x16
    /// What the refused peer is told.
    static let reason = CloseReason.unauthorized(
        "this server accepts TLS connections only: connect with --tls (a token sent in plaintext is never accepted)")

    private let refused: @Sendable () -> Void
    /// The connection was refused: what else it sends is dropped.
    private var isRefused = false

    /// Calls `refused` for each connection it refuses (to count it).
    init(refused: @escaping @Sendable () -> Void) {
        self.refused = refused
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !isRefused, let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        if first == Self.handshakeRecord {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        isRefused = true
        refused()
        var encoder = WireEncoder<BoardActionCodec>()
        var goodbye = context.channel.allocator.buffer(capacity: 256)
        encoder.encode(.goodbye(Self.reason), into: &goodbye)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(goodbye)).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}
