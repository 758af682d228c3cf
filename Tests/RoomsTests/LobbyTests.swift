import Rooms
import Scuttlebutt
import Testing

/// The front door by hand: accepts, first messages and time, as the server
/// and the simulator drive it.
@Suite struct LobbyTests {
    typealias Message = GossipMessage<Int>

    func lobby(_ configure: (inout Lobby.Configuration) -> Void = { _ in }) -> Lobby {
        var configuration = Lobby.Configuration(protocolVersion: 1)
        configuration.handshakeTimeout = 1_000
        configure(&configuration)
        return Lobby(configuration: configuration)
    }

    func hello(
        room: String = "board", role: PeerRole = .editor, version: UInt16 = 1, credentials: String? = nil
    ) -> Message {
        .hello(
            Hello(
                protocolVersion: version, peer: PeerID(7), name: "ada", room: room, role: role,
                credentials: credentials, digest: Digest(), clock: .zero))
    }

    struct Refused: Error {
        let reason: CloseReason
    }

    func accept(_ lobby: inout Lobby, now: UInt64) throws -> ConnectionID {
        switch lobby.accept(now: now) {
        case .waiting(let connection): return connection
        case .refused(let reason): throw Refused(reason: reason)
        }
    }

    @Test func aConnectionThatNeverSaysHelloIsTimedOutAtItsDeadlineAndGivesItsPlaceBack() throws {
        var lobby = lobby { $0.maxHandshakes = 1 }
        let silent = try accept(&lobby, now: 500)
        #expect(lobby.waiting == 1)
        #expect(
            lobby.accept(now: 600) == .refused(.limitExceeded("1 connections are already waiting to say hello")),
            "its place is taken while it waits")
        #expect(lobby.tick(now: 1_499).isEmpty, "not before its deadline")
        #expect(lobby.tick(now: 1_500) == [silent])
        #expect(lobby.waiting == 0)
        #expect(lobby.tick(now: 9_000).isEmpty, "timed out once")
        #expect(lobby.receive(hello(), from: silent) == .refused(.timeout), "a hello after the timeout comes too late")
        #expect(lobby.sessions == 0)
        _ = try accept(&lobby, now: 1_600)
    }

    @Test func aGoodHelloIsAdmittedAndCountedUntilItsSessionEnds() throws {
        var lobby = lobby { $0.maxSessions = 1 }
        let first = try accept(&lobby, now: 0)
        #expect(lobby.receive(hello(), from: first) == .admitted(helloValue()))
        #expect(lobby.sessions == 1 && lobby.waiting == 0)
        #expect(lobby.tick(now: 5_000).isEmpty, "an admitted connection never times out in the lobby")
        let second = try accept(&lobby, now: 10)
        #expect(
            lobby.receive(hello(), from: second) == .refused(.limitExceeded("the server already serves 1 connections")))
        lobby.sessionEnded()
        let third = try accept(&lobby, now: 20)
        #expect(lobby.receive(hello(), from: third) == .admitted(helloValue()))
        #expect(lobby.accepted == 3)
    }

    @Test func everyBadFirstMessageIsRefusedByName() throws {
        var lobby = lobby { $0.roomAccess = ["secret": RoomAccess(editor: "s3cret", viewer: nil)] }
        let cases: [(Message, CloseReason)] = [
            (.ping(1), .protocolViolation("expected hello first")),
            (hello(version: 2), .versionMismatch(local: 1, remote: 2)),
            (hello(room: ""), .protocolViolation("hello names no room")),
            (hello(role: .server), .unauthorized("peers may not join as a server")),
            (hello(room: "secret"), .unauthorized("room \"secret\" needs an editor token")),
        ]
        for (message, reason) in cases {
            let connection = try accept(&lobby, now: 0)
            #expect(lobby.receive(message, from: connection) == .refused(reason))
        }
        let trusted = try accept(&lobby, now: 0)
        let admission = lobby.receive(hello(room: "secret", credentials: "s3cret"), from: trusted)
        guard case .admitted(let admitted) = admission else {
            Issue.record("the editor token was refused: \(admission)")
            return
        }
        #expect(admitted.room == "secret")
        #expect(lobby.sessions == 1, "only the last was admitted")
        #expect(lobby.waiting == 0, "a refused connection no longer waits")
    }

    @Test func connectionsThatCloseOrSendGarbageLeaveTheLobby() throws {
        var lobby = lobby { $0.maxHandshakes = 2 }
        let closing = try accept(&lobby, now: 0)
        let garbling = try accept(&lobby, now: 0)
        lobby.closed(closing)
        #expect(lobby.malformed(garbling, "frame too large") == .protocolViolation("frame too large"))
        #expect(lobby.waiting == 0)
        #expect(lobby.tick(now: 10_000).isEmpty)
    }

    @Test func theLongestTimeoutNeverWrapsIntoTheShortest() throws {
        var lobby = lobby { $0.handshakeTimeout = .max }
        _ = try accept(&lobby, now: 1_000)
        #expect(lobby.tick(now: .max - 1).isEmpty)
    }

    func helloValue() -> Hello {
        guard case .hello(let value) = hello() else { preconditionFailure("hello() is a hello") }
        return value
    }
}
