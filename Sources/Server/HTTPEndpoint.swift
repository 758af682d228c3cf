import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Rooms
import ServiceLifecycle
import Scuttlebutt
import Storage
import Whiteboard

/// The server's HTTP face, on one port (Hummingbird; HTTPS and WSS when the
/// server has a certificate): protocol v1 over
/// WebSocket at `GET /ws` (``WebSocketSession``); for operators
/// `GET /healthz`, `GET /readyz` and `GET /metrics` (Prometheus text); for
/// people and tools `GET /rooms` (JSON) and each board as
/// `GET /rooms/{room}/board.svg`, `board.png` (`?scale=N`) or `board.json`. A room with tokens shows
/// its board, and appears in the list, only to a request presenting one
/// (`Authorization: Bearer TOKEN`), as it admits viewers.
///
/// Served from an event loop of its own: rooms run on the server's event
/// loops, so a room stuck in a long replay holds up the connections of its
/// loop, but never the endpoint that shows it.
struct HTTPEndpoint {
    /// The endpoint's thread, for the life of the process.
    private static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// Whether a PNG is being drawn (one at a time, process-wide).
    private static let drawing = NIOLockedValueBox(false)

    let host: String
    let port: Int
    let server: ScuttleboardServer

    /// A running endpoint: its port, and how to stop it.
    struct Running: Sendable {
        /// The bound port.
        let port: Int
        fileprivate let group: ServiceGroup
        fileprivate let serving: Task<Void, any Error>

        /// Stops gracefully: no new connections, requests under way
        /// answered, then closed.
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await serving.value
        }
    }

    /// Binds the port and serves until ``Running/stop()``.
    /// - Throws: ``ServerError/cannotListen(host:port:reason:)`` when the
    ///   port cannot be bound: nothing is served then.
    func start() async throws(ServerError) -> Running {
        let bound = NIOLockedValueBox<CheckedContinuation<Int, any Error>?>(nil)
        let resume: @Sendable (Result<Int, any Error>) -> Void = { outcome in
            bound.withLockedValue { continuation in
                continuation?.resume(with: outcome)
                continuation = nil
            }
        }
        let webSockets = Router(context: BasicWebSocketRequestContext.self)
        let server = server
        webSockets.ws("ws") { inbound, outbound, context in
            let token = Self.bearerToken(context.request)
            await WebSocketSession(server: server, inbound: inbound, outbound: outbound, bearerToken: token).run()
        }
        var builder = HTTPServerBuilder.http1WebSocketUpgrade(
            webSocketRouter: webSockets,
            configuration: .init(
                // A keep-alive connection idle for 30 s is closed (it holds one
                // of the port's connections).
                http1: .init(idleTimeout: .seconds(30)),
                // Twice the limit, so that a message a little over it is
                // refused by name (WebSocketSession); beyond, the
                // WebSocket layer closes with 1009 without buffering it.
                ws: .init(maxFrameSize: 2 * server.configuration.maxFrameSize, autoPing: .disabled)))
        if let tls = server.configuration.tls {
            do {
                builder = try .tls(builder, tlsConfiguration: tls.configuration())
            } catch {
                throw error as? ServerError ?? .tlsSetup("\(error)")
            }
        }
        let application = Application(
            router: router(),
            server: builder,
            // At most as many connections as the protocol port takes
            // sessions: beyond, accepting waits until one closes.
            configuration: .init(
                address: .hostname(host, port: port), serverName: "scuttleboard",
                availableConnectionsDelegate: .maximum(
                    server.configuration.maxConnections, logger: server.configuration.logger)),
            onServerRunning: { channel in resume(.success(channel.localAddress?.port ?? port)) },
            eventLoopGroupProvider: .shared(Self.loops),
            logger: server.configuration.logger)
        // In a service group of its own, so that a stop is a graceful
        // shutdown rather than a cancellation.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [application], logger: server.configuration.logger))
        var serving: Task<Void, any Error>?
        do {
            let port = try await withCheckedThrowingContinuation { continuation in
                bound.withLockedValue { $0 = continuation }
                serving = Task {
                    do {
                        try await group.run()
                        resume(.failure(CancellationError()))
                    } catch {
                        resume(.failure(error))
                        throw error
                    }
                }
            }
            return Running(port: port, group: group, serving: serving!)
        } catch {
            serving?.cancel()
            throw ServerError(listeningOn: host, port: port, error)
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        let server = server
        let page = BrowserBoard.shipped
        router.get("/") { _, _ in
            page.response(for: "index.html")
                ?? Self.text(
                    .notFound, "this build of scuttleboard has no browser board (its resource bundle is missing)\n")
        }
        router.get("app/:file") { _, context in
            let name = context.parameters.get("file") ?? ""
            return page.response(for: name) ?? Self.text(.notFound, "not found: /app/\(name)\n")
        }
        router.get("sw.js") { _, _ in page.response(for: "sw.js") ?? Self.text(.notFound, "not found: /sw.js\n") }
        router.get("healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("readyz") { _, _ in
            server.unreadiness.map { Self.text(.serviceUnavailable, "not ready: \($0)\n") }
                ?? Self.text(.ok, "ready\n")
        }
        router.get("metrics") { _, _ in
            Self.text(.ok, await server.metricsText(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("rooms") { request, _ in
            let listing = try await server.rooms(visibleWith: Self.bearerToken(request))
            return try Self.json(listing)
        }
        router.get("rooms/:room/:file") { request, context in
            let name = context.parameters.get("room").flatMap { $0.removingPercentEncoding } ?? ""
            let format = context.parameters.get("file") ?? ""
            guard ["board.svg", "board.png", "board.json"].contains(format) else {
                return Self.text(.notFound, "not found: try /rooms/\(name)/board.svg, board.png or board.json\n")
            }
            if let refusal = server.configuration.roomAccess[name]?.refusalToRead(
                room: name, presenting: Self.bearerToken(request))
            {
                var response = Self.text(.unauthorized, "\(Self.explanation(refusal))\n")
                response.headers[.wwwAuthenticate] = "Bearer"
                return response
            }
            switch try await server.board(ofRoom: name) {
            case .noSuchRoom:
                return Self.text(.notFound, "no room \"\(name)\" here\n")
            case .tooManyRooms:
                return Self.text(.serviceUnavailable, "the server holds its maximum of rooms; try again later\n")
            case .elsewhere(let node):
                guard let web = node.webAddress else {
                    return Self.text(
                        .serviceUnavailable, "room \"\(name)\" is served by node \(node.name), which serves no HTTP\n")
                }
                var response = Self.text(
                    .temporaryRedirect, "room \"\(name)\" is served by node \(node.name) at \(web)\n")
                response.headers[.location] = "http://\(web)\(request.uri.description)"
                return response
            case .unavailable(let reason):
                return Self.text(.serviceUnavailable, "\(reason)\n")
            case .found(let board):
                switch format {
                case "board.svg": return Self.text(.ok, SVGExporter.export(board), type: "image/svg+xml")
                case "board.png":
                    let scale = request.uri.queryParameters.get("scale", as: Int.self).map { min(max($0, 1), 64) } ?? 8
                    // One image at a time, on a thread of NIO's pool rather
                    // than one of Swift's cooperative threads (one per core):
                    // a board of long far-flung strokes takes seconds.
                    let mayDraw = Self.drawing.withLockedValue { busy in
                        guard !busy else { return false }
                        busy = true
                        return true
                    }
                    guard mayDraw else {
                        var response = Self.text(
                            .serviceUnavailable, "busy drawing another image; try again in a moment\n")
                        response.headers[.retryAfter] = "1"
                        return response
                    }
                    defer { Self.drawing.withLockedValue { $0 = false } }
                    let png = try await NIOThreadPool.singleton.runIfActive { PNGExporter.export(board, scale: scale) }
                    return Response(
                        status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: png)))
                default: return try Self.json(BoardExport(board))
                }
            }
        }
        router.get("**") { request, _ in
            Self.text(
                .notFound,
                "not found: \(request.uri.path); try / (the board), /rooms, /rooms/{room}/board.svg, .png or .json, /ws, "
                    + "/metrics, /healthz or /readyz\n")
        }
        return router
    }

    /// The token of an `Authorization: Bearer TOKEN` header, if there is one.
    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    private static func explanation(_ reason: CloseReason) -> String {
        if case .unauthorized(let why) = reason { return why }
        return "\(reason)"
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain; charset=utf-8")
        -> Response
    {
        Response(
            status: status, headers: [.contentType: type, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// One room as `GET /rooms` lists it.
public struct RoomListing: Codable, Sendable, Equatable {
    /// The room's name.
    public var name: String
    /// Sessions open in it now (0 when it is not loaded).
    public var online: Int
    /// Updates stored for it.
    public var updates: Int
    /// When its latest stored update was stamped (ISO 8601), if it has one.
    public var lastActivity: String?
}

/// What asking the server for a room's board found.
public enum BoardLookup: Sendable {
    /// The room's board, as it holds it now.
    case found(Board)
    /// Nothing was ever stored for a room of that name, and none is loaded.
    case noSuchRoom
    /// The room exists but is not loaded, and the server holds its maximum of rooms.
    case tooManyRooms
    /// Another node of the cluster serves the room.
    case elsewhere(ClusterNode)
    /// No node can serve the room now, for this reason.
    case unavailable(String)
}

extension ScuttleboardServer {
    /// The rooms someone presenting `token` may see (every room without
    /// tokens; a room with tokens to one of them), stored or loaded, by name.
    /// Read from the durable log and the counters the rooms keep current:
    /// it never waits on a room.
    public func rooms(visibleWith token: String?) async throws(StorageError) -> [RoomListing] {
        let stored = Dictionary(try await log.rooms().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let gauges = counters.snapshot.rooms
        let names = Set(stored.keys).union(gauges.keys).sorted()
        let iso = ISO8601DateFormatter()
        return names.compactMap { name in
            guard configuration.roomAccess[name]?.refusalToRead(room: name, presenting: token) == nil else {
                return nil
            }
            let last = stored[name]?.lastTimestamp.map {
                iso.string(from: Date(timeIntervalSince1970: Double($0.milliseconds) / 1_000))
            }
            return RoomListing(
                name: name, online: gauges[name]?.sessions ?? 0, updates: stored[name]?.updateCount ?? 0,
                lastActivity: last)
        }
    }

    /// The board of the room called `name`, loading the room if it is
    /// stored but not loaded. A name nothing was stored under is not a
    /// room: asking never creates one.
    public func board(ofRoom name: String) async throws(StorageError) -> BoardLookup {
        if counters.snapshot.rooms[name] == nil {
            guard try await log.roomExists(name) else { return .noSuchRoom }
        }
        switch try await registry.lease(name, forConnection: false) {
        case .room(let room): return .found(await room.board)
        case .full: return .tooManyRooms
        case .elsewhere(let node): return .elsewhere(node)
        case .unavailable(let reason): return .unavailable(reason)
        }
    }
}
