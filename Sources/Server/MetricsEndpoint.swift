import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Prometheus text at `GET /metrics`, liveness at `GET /healthz` and
/// readiness at `GET /readyz`, on a port of their own.
///
/// Served from an event loop of its own: rooms run on the server's event
/// loops, so a room stuck in a long replay holds up the connections of its
/// loop, but never the endpoint that shows it.
struct MetricsEndpoint {
    /// The endpoint's thread, for the life of the process.
    private static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    let host: String
    let port: Int
    let render: @Sendable () async -> String
    /// Why the server should get no new work now (503 at `/readyz`), or nil.
    let unreadiness: @Sendable () -> String?

    typealias Listener = NIOAsyncChannel<
        NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never
    >

    /// Binds the port.
    /// - Throws: ``ServerError/cannotListen(host:port:reason:)``.
    func bind() async throws(ServerError) -> Listener {
        do {
            return try await ServerBootstrap(group: Self.loops)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ServerError(listeningOn: host, port: port, error)
        }
    }

    /// Serves on a bound listener until the task is cancelled.
    func serve(_ listener: Listener) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { try? await respond(on: connection) }
                }
            }
        }
    }

    private func respond(on connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var path: String?
            for try await part in inbound {
                switch part {
                case .head(let head): path = head.method == .GET ? head.uri : nil
                case .body: break
                case .end:
                    let (status, body): (HTTPResponseStatus, String) =
                        switch path {
                        case "/metrics": (.ok, await render())
                        case "/healthz": (.ok, "ok\n")
                        case "/readyz":
                            unreadiness().map { (.serviceUnavailable, "not ready: \($0)\n") } ?? (.ok, "ready\n")
                        default: (.notFound, "not found: try /metrics, /healthz or /readyz\n")
                        }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(body.utf8.count))
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(
                        .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                    try await outbound.write(.end(nil))
                    return
                }
            }
        }
    }
}
