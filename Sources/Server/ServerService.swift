import ServiceLifecycle

/// A ``ScuttleboardServer`` as a service of a swift-service-lifecycle
/// `ServiceGroup`: it serves until the group shuts down gracefully (on
/// SIGTERM or SIGINT, when the group listens for them), then stops in the
/// server's order, bounded by ``ServerConfiguration/shutdownTimeout``:
/// stop accepting, say goodbye to every session, let what is on its way
/// to disk land, checkpoint every room and the log.
public struct ServerService: Service {
    private let server: ScuttleboardServer
    private let onListening: @Sendable (Int) -> Void
    private let onHTTPListening: @Sendable (Int) -> Void
    private let onStopping: @Sendable () -> Void

    /// Runs `server`, telling the callers its ports once bound and the
    /// moment a graceful shutdown begins.
    public init(
        _ server: ScuttleboardServer, onListening: @escaping @Sendable (Int) -> Void = { _ in },
        onHTTPListening: @escaping @Sendable (Int) -> Void = { _ in },
        onStopping: @escaping @Sendable () -> Void = {}
    ) {
        self.server = server
        self.onListening = onListening
        self.onHTTPListening = onHTTPListening
        self.onStopping = onStopping
    }

    /// Serves until a graceful shutdown has stopped the server.
    /// - Throws: What ``ScuttleboardServer/run(onListening:onHTTPListening:)`` throws.
    public func run() async throws {
        let (server, onStopping) = (server, onStopping)
        try await withGracefulShutdownHandler {
            try await server.run(onListening: onListening, onHTTPListening: onHTTPListening)
        } onGracefulShutdown: {
            onStopping()
            Task { await server.shutdown() }
        }
    }
}
