import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Protocol v1 over a WebSocket, on a client's pipeline: the server's
/// binary messages go on as a byte stream (the protocol's frame decoder
/// reassembles frames across them), and what the client writes between two
/// flushes goes out as one masked binary message, as the binding in
/// docs/PROTOCOL.md asks (whole frames per message). Pings are answered; a
/// text message or a close ends the connection.
final class WebSocketStreamBridge: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    /// A text message from the server: the binding carries binary only.
    struct TextMessage: Error, CustomStringConvertible {
        var description: String { "the server sent a text WebSocket message" }
    }

    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        case .text:
            context.fireErrorCaught(TextMessage())
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if pending == nil {
            pending = bytes
        } else {
            pending!.writeBuffer(&bytes)
        }
        if let promise { promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        guard let data = pending else {
            context.flush()
            return
        }
        pending = nil
        let waiting = promises
        promises = []
        let written: EventLoopPromise<Void>? = waiting.isEmpty ? nil : context.eventLoop.makePromise()
        written?.futureResult.whenComplete { result in
            for promise in waiting { promise.completeWith(result) }
        }
        context.writeAndFlush(
            wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: data)),
            promise: written)
    }
}

/// Sends the upgrade request (`GET path`, upgraded by the WebSocket
/// upgrader) once the connection is up; removed when the upgrade is done.
final class WebSocketUpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let path: String
    private let bearerToken: String?

    init(host: String, path: String, bearerToken: String? = nil) {
        self.host = host
        self.path = path
        self.bearerToken = bearerToken
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("Host", host), ("Content-Length", "0")])
        if let bearerToken { headers.add(name: "Authorization", value: "Bearer \(bearerToken)") }
        context.write(
            wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))),
            promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A response that is not an upgrade (the upgrader refused it).
        if case .head(let head) = unwrapInboundIn(data) {
            context.fireErrorCaught(UpgradeRefused(status: head.status))
            context.close(promise: nil)
        }
    }

    /// The server answered the upgrade request with something else.
    struct UpgradeRefused: Error, CustomStringConvertible {
        let status: HTTPResponseStatus
        var description: String {
            "the server refused the WebSocket upgrade: HTTP \(status.code) \(status.reasonPhrase)"
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Sets up an HTTP client that upgrades to a WebSocket at `path`, then
    /// calls `upgraded` on the event loop to finish the pipeline (after a
    /// ``WebSocketStreamBridge``, so that it sees a byte stream).
    func addWebSocketClient(
        host: String, path: String, maxFrameSize: Int,
        upgraded: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    ) throws {
        let request = WebSocketUpgradeRequest(host: host, path: path)
        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxFrameSize) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(WebSocketStreamBridge())
                try upgraded(channel.pipeline.syncOperations)
            }
        }
        let bound = NIOLoopBound(request, eventLoop: eventLoop)
        try addHTTPClientHandlers(
            withClientUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    context.pipeline.syncOperations.removeHandler(bound.value, promise: nil)
                }
            ))
        try addHandler(request)
    }
}
