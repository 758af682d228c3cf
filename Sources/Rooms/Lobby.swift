import Scuttlebutt

/// A connection in the ``Lobby``: accepted, and not yet a session or gone.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The number the lobby gave it, unique for the lobby's life.
    public let rawValue: UInt64

    /// The connection numbered `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `connection N`.
    public var description: String { "connection \(rawValue)" }
}

/// The server's front door, decided without I/O: connections between their
/// accept and their `hello`, and sessions counted against the server's limits.
///
/// Like ``RoomStateMachine`` it never reads a clock (time is an input) and
/// never touches a socket: the server and the network simulator drive the
/// same lobby, so a peer that connects and never says hello is tested in the
/// seeds as it is served. A connection waits at most
/// ``Configuration/handshakeTimeout`` for its hello; at most
/// ``Configuration/maxHandshakes`` wait at once and at most
/// ``Configuration/maxSessions`` sessions are open at once, so idle sockets
/// can neither lock newcomers out nor hold descriptors for ever.
///
/// What the lobby cannot decide stays with its driver: whether a room can be
/// loaded (storage) and how many rooms fit in memory. A driver that refuses
/// an admitted peer for such a reason calls ``sessionEnded()``.
public struct Lobby: Sendable {
    /// The lobby's limits.
    public struct Configuration: Sendable {
        /// The protocol version peers must speak.
        public var protocolVersion: UInt16
        /// Connections that may wait for their hello at once.
        public var maxHandshakes = 128
        /// Sessions (connections past their hello) open at once.
        public var maxSessions = 1_000
        /// Milliseconds a connection may take to send its hello.
        public var handshakeTimeout: UInt64 = 10_000
        /// Who may join which room; a room not named is open to all.
        public var roomAccess: [String: RoomAccess] = [:]

        /// Limits for peers speaking `protocolVersion`, defaults otherwise.
        public init(protocolVersion: UInt16) {
            self.protocolVersion = protocolVersion
        }
    }

    /// What became of an accepted connection.
    public enum Acceptance: Sendable, Hashable {
        /// It waits for its hello, known by this id.
        case waiting(ConnectionID)
        /// Say goodbye with this reason and close: too many wait already.
        case refused(CloseReason)
    }

    /// What became of a connection's first message.
    public enum Admission: Sendable, Hashable {
        /// The hello is good: the connection is a session now (counted until
        /// ``Lobby/sessionEnded()``) and joins its room.
        case admitted(Hello)
        /// Say goodbye with this reason and close.
        case refused(CloseReason)
    }

    /// The limits in force.
    public var configuration: Configuration
    /// When each waiting connection's hello is due, in milliseconds.
    private var deadlines: [ConnectionID: UInt64] = [:]
    private var nextConnection: UInt64 = 0
    /// Sessions open now.
    public private(set) var sessions = 0
    /// Connections accepted, ever.
    public private(set) var accepted = 0

    /// A lobby with nobody in it.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Connections waiting for their hello now.
    public var waiting: Int { deadlines.count }

    /// A connection was accepted at `now` (milliseconds).
    /// - Returns: Its id while it waits for its hello, or why it is refused
    ///   at once (too many connections are waiting already).
    public mutating func accept(now: UInt64) -> Acceptance {
        guard deadlines.count < configuration.maxHandshakes else {
            return .refused(
                .limitExceeded("\(configuration.maxHandshakes) connections are already waiting to say hello"))
        }
        nextConnection += 1
        accepted += 1
        let id = ConnectionID(rawValue: nextConnection)
        let (deadline, overflow) = now.addingReportingOverflow(configuration.handshakeTimeout)
        deadlines[id] = overflow ? .max : deadline
        return .waiting(id)
    }

    /// The first message `connection` sent decides it: a hello that may
    /// join is admitted, anything else is refused. Either way the
    /// connection no longer waits.
    public mutating func receive<Action>(_ message: GossipMessage<Action>, from connection: ConnectionID)
        -> Admission
    {
        // Not waiting: its hello came after ``tick(now:)`` timed it out.
        guard deadlines.removeValue(forKey: connection) != nil else { return .refused(.timeout) }
        guard case .hello(let hello) = message else { return .refused(.protocolViolation("expected hello first")) }
        guard hello.protocolVersion == configuration.protocolVersion else {
            return .refused(.versionMismatch(local: configuration.protocolVersion, remote: hello.protocolVersion))
        }
        guard !hello.room.isEmpty else { return .refused(.protocolViolation("hello names no room")) }
        if let refusal = RoomAccess.refusal(of: hello, access: configuration.roomAccess[hello.room]) {
            return .refused(refusal)
        }
        guard sessions < configuration.maxSessions else {
            return .refused(.limitExceeded("the server already serves \(configuration.maxSessions) connections"))
        }
        sessions += 1
        return .admitted(hello)
    }

    /// `connection` sent bytes that are not a message, before its hello.
    /// - Returns: The goodbye it gets.
    public mutating func malformed(_ connection: ConnectionID, _ problem: String) -> CloseReason {
        deadlines[connection] = nil
        return .protocolViolation(problem)
    }

    /// `connection` closed (or was closed) before it said hello.
    public mutating func closed(_ connection: ConnectionID) {
        deadlines[connection] = nil
    }

    /// A session admitted by ``receive(_:from:)`` ended, or its driver
    /// refused it after all (no room could be loaded for it).
    public mutating func sessionEnded() {
        precondition(sessions > 0, "a session ended that the lobby never admitted")
        sessions -= 1
    }

    /// Time passed: the connections whose hello is overdue at `now`, which
    /// no longer wait; each gets `goodbye(timeout)` and is closed.
    public mutating func tick(now: UInt64) -> [ConnectionID] {
        let overdue = deadlines.filter { $0.value <= now }.keys.sorted { $0.rawValue < $1.rawValue }
        for connection in overdue { deadlines[connection] = nil }
        return overdue
    }
}
