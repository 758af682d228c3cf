import Foundation
import Logging
import Rooms
import Scuttlebutt
import Storage
import Wire

/// Everything `scuttleboard serve` can be told.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on; 0 picks a free one.
    public var port = 7070
    /// This node's place in a cluster sharing one PostgreSQL store; nil for
    /// a server alone.
    public var cluster: ClusterSettings?
    /// The SQLite file; nil keeps everything in memory (`--memory`).
    public var databasePath: String? = "./scuttleboard.sqlite"
    /// The fsync policy of the durable log.
    public var durability = Durability.normal
    /// How long a write waits for SQLite's write lock held by another
    /// process before it fails (and the server stops taking writes until
    /// the database works again).
    public var storageBusyTimeout: Duration = .seconds(5)
    /// The least time between the starts of two group commits: under load,
    /// appends arriving within it share one SQLite transaction (each costs a
    /// WAL frame per page it touches); an append to an idle log commits at once.
    public var commitInterval: Duration = .milliseconds(2)
    /// How often the server checks its database: that the file is still
    /// the one it opened, and, after a failure, whether writes work again.
    public var storageCheckInterval: Duration = .seconds(1)
    /// How long a stop may take: closing sessions and checkpointing rooms.
    /// A server still busy then exits without the remaining checkpoints
    /// (every acknowledged update is in the log already) and says so.
    public var shutdownTimeout: Duration = .seconds(10)
    /// The largest frame accepted from a peer.
    public var maxFrameSize = WireFormat.defaultMaxFrameSize
    /// Writes queued for one slow reader before it is cut off: each is one
    /// room flush's messages for that reader (a batch of messages, not one).
    public var outboundBufferLimit = 4_096
    /// How far behind real time the stable frontier stays, in milliseconds.
    public var frontierGrace: UInt64 = 2_000
    /// Milliseconds between timer ticks (pings, presence, frontier).
    public var tickInterval: UInt64 = 100
    /// Tokens per room; rooms not listed are open to everyone.
    public var roomAccess: [String: RoomAccess] = [:]
    /// Sessions (connections past their hello) served at once; more are refused.
    public var maxConnections = 1_000
    /// Connections that may wait for their hello at once; more are refused.
    /// They do not count against ``maxConnections``.
    public var maxHandshakes = 128
    /// How long a new connection has to send its whole hello before it is
    /// closed with `goodbye(timeout)`.
    public var handshakeTimeout: Duration = .seconds(10)
    /// How long a session may stay silent (nothing at all from the peer, not
    /// even the clock report an idle client sends every second) before it is
    /// closed with `goodbye(timeout)`: how a peer that stopped reading, and
    /// so stopped acknowledging, is let go (its window already stopped what
    /// the server sends it).
    public var livenessTimeout: Duration = .seconds(20)
    /// Rooms held at once; joining another is refused.
    public var maxRooms = 1_000
    /// Updates one connection may send per second (bursts up to twice that).
    public var maxUpdatesPerSecond = 2_000
    /// Milliseconds a room stays loaded after its last session ends.
    public var idleRoomTimeout: UInt64 = 300_000
    /// Folded updates between two checkpoints of a room's state: a restart
    /// replays at most about this many (plus what is above the frontier).
    public var checkpointInterval = 10_000
    /// The HTTP port (rooms, boards as SVG and JSON, `/metrics`, `/healthz`,
    /// `/readyz`); nil for none, 0 for any free one.
    public var httpPort: Int?
    /// TLS on every listener (the protocol port and the HTTP port: HTTPS
    /// and WSS), or nil for none. With TLS, a plaintext connection to the
    /// protocol port is refused, in plaintext, with a goodbye saying so.
    public var tls: ServerTLS?
    /// Where log lines go; silent unless the app sets one up.
    public var logger = Logger(label: "scuttleboard", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The defaults.
    public init() {}
}

/// The server's certificate and key, as PEM files.
public struct ServerTLS: Sendable, Hashable {
    /// The certificate chain, leaf first.
    public var certificateFile: String
    /// The private key of the leaf certificate.
    public var keyFile: String

    /// TLS with this certificate chain and key.
    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
