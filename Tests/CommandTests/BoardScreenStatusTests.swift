import Client
import Scuttlebutt
import Testing
import Whiteboard

@testable import scuttleboard

/// What the status bar says for each state of the connection.
@Suite struct BoardScreenStatusTests {
    func view(_ connection: ConnectionState, pending: Int = 0) -> ClientView {
        var view = ClientView()
        view.connection = connection
        view.pending = pending
        view.roundTrip = 7
        view.others = [PeerID(2): BoardPresence(name: "bob", color: 3, cursor: nil, tool: .freehand, viewport: nil)]
        return view
    }

    @Test func onlineCountAndRoundTripOnlyWhileConnected() {
        let live = BoardScreen.status(of: view(.live), room: "design")
        #expect(live.connection == "live" && live.isLive && live.online == 2 && live.latency == 7)
        let offline = BoardScreen.status(of: view(.offline(reason: "connection refused"), pending: 4), room: "design")
        #expect(offline.connection == "offline" && !offline.isLive)
        #expect(offline.online == nil && offline.latency == nil, "nobody is known to be online, no round trip")
        #expect(offline.detail == "connection refused; drawing goes on")
        #expect(offline.pending == 4)
        let refused = BoardScreen.status(of: view(.refused(reason: "unauthorized: wrong token")), room: "design")
        #expect(refused.connection == "refused" && refused.detail == "unauthorized: wrong token")
        #expect(refused.online == nil)
    }
}
