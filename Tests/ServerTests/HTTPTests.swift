import Foundation
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The server's HTTP face on a real server: metrics and health, the room
/// list and boards as SVG and JSON, with room tokens.
@Suite(.serialized) struct HTTPTests {
    func fetch(_ port: Int, _ path: String, token: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func metricsAndHealthAreServedOverHTTP() async throws {
        let server = try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.roomAccess = ["locked": RoomAccess(editor: "key", viewer: nil)]
        }
        let port = server.port
        #expect(
            try await join(port: port, room: "open", then: .addText(at: .zero, text: "hi", style: Style(color: 1)))
                == nil)
        #expect(try await join(port: port, room: "locked") != nil)
        let metricsPort = try #require(server.httpPort)
        let (status, body) = try await fetch(metricsPort, "/metrics")
        #expect(status == 200)
        #expect(body.contains("scuttleboard_updates_in_total 1\n"))
        #expect(body.contains("scuttleboard_rooms 1.0\n"), "the refused room was never loaded")
        #expect(body.contains("scuttleboard_refusals_total{reason=\"unauthorized\"} 1\n"))
        #expect(body.contains("scuttleboard_stored_updates_total 1\n"))
        #expect(body.contains("# TYPE scuttleboard_commit_seconds_total counter"))
        let memory = body.split(separator: "\n").first { $0.hasPrefix("scuttleboard_resident_memory_bytes ") }
        #expect((memory?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1_000_000)
        // The latency histograms saw the one durable append and its fan-out.
        #expect(body.contains("scuttleboard_append_seconds_count 1\n"), "\(body)")
        #expect(body.contains("scuttleboard_fanout_seconds_count 1\n"))
        #expect(body.contains("scuttleboard_append_seconds_bucket{le=\"+Inf\"} 1\n"))
        // A second scrape counts nothing twice.
        let again = try await fetch(metricsPort, "/metrics").1
        #expect(again.contains("scuttleboard_stored_updates_total 1\n"))
        #expect(again.contains("scuttleboard_commits_total "))
        #expect(try await fetch(metricsPort, "/healthz") == (200, "ok\n"))
        let (missing, hint) = try await fetch(metricsPort, "/nope")
        #expect(missing == 404)
        #expect(hint.contains("/rooms"), "a wrong path names the right ones: \(hint)")
        await server.stop()
    }

    /// The HTTP port takes at most as many connections as the protocol port
    /// takes sessions; beyond, it accepts again once one closes.
    @Test func theHTTPPortHoldsAtMostTheConnectionLimit() async throws {
        let server = try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.maxConnections = 2
        }
        try await server.stop { server in
            let port = try #require(server.httpPort)
            let idle = [try await connect(port: port), try await connect(port: port)]
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/healthz")!)
            request.timeoutInterval = 1
            let waited = try? await URLSession.shared.data(for: request)
            #expect(waited == nil, "a third connection waits while two are open")
            try await idle[0].channel.close()
            #expect(try await fetch(port, "/healthz") == (200, "ok\n"), "and is served once one closes")
            try await idle[1].channel.close()
        }
    }

    @Test func roomsAndBoardsAreServedOverHTTPToWhoeverMaySeeThem() async throws {
        let server = try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.roomAccess = ["locked": RoomAccess(editor: "key", viewer: "look")]
        }
        try await server.stop { try await checkRoomsAndBoards($0) }
    }

    private func checkRoomsAndBoards(_ server: RunningServer) async throws {
        let port = try #require(server.httpPort)
        #expect(
            try await join(
                port: server.port, room: "open", then: .addText(at: Point(3, 4), text: "hi", style: Style(color: 9)))
                == nil)
        #expect(
            try await join(
                port: server.port, room: "locked", credentials: "key",
                then: .addShape(.rectangle, from: Point(0, 0), to: Point(5, 2), style: Style(color: 2))) == nil)

        // The list: the locked room only to a token holder.
        let decoder = JSONDecoder()
        let (listed, openList) = try await fetch(port, "/rooms")
        #expect(listed == 200)
        let open = try decoder.decode([RoomListing].self, from: Data(openList.utf8))
        #expect(open.map(\.name) == ["open"])
        #expect(open.first?.updates == 1)
        #expect(open.first?.lastActivity?.hasPrefix("20") == true, "an ISO 8601 time: \(open)")
        let (_, withToken) = try await fetch(port, "/rooms", token: "look")
        let all = try decoder.decode([RoomListing].self, from: Data(withToken.utf8))
        #expect(all.map(\.name) == ["locked", "open"])

        // Boards: JSON holds the elements, moves applied; SVG draws them.
        let (status, json) = try await fetch(port, "/rooms/open/board.json")
        #expect(status == 200)
        let board = try decoder.decode(BoardExport.self, from: Data(json.utf8))
        #expect(board.elements.count == 1)
        #expect(board.elements.first?.kind == "text")
        #expect(board.elements.first?.text == "hi")
        #expect(board.elements.first?.at == [3, 4])
        #expect(board.elements.first?.hex == Palette.hex(9))
        let (svgStatus, svg) = try await fetch(port, "/rooms/open/board.svg")
        #expect(svgStatus == 200)
        #expect(svg.hasPrefix("<svg") && svg.contains(">hi</text>"))

        // The locked board: refused by name without a token or with a wrong one.
        let (refused, why) = try await fetch(port, "/rooms/locked/board.json")
        #expect(refused == 401)
        #expect(why.contains("needs a viewer or editor token"))
        #expect(try await fetch(port, "/rooms/locked/board.svg", token: "wrong").0 == 401)
        let (allowed, locked) = try await fetch(port, "/rooms/locked/board.json", token: "look")
        #expect(allowed == 200)
        #expect(try decoder.decode(BoardExport.self, from: Data(locked.utf8)).elements.map(\.kind) == ["rectangle"])

        // Asking for a room that does not exist creates nothing.
        let (absent, message) = try await fetch(port, "/rooms/nowhere/board.svg")
        #expect(absent == 404)
        #expect(message == "no room \"nowhere\" here\n")
        #expect(try await fetch(port, "/rooms/open/board.gif").0 == 404)
        // PNG: a real image of the board, scaled as asked.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/rooms/open/board.png?scale=2")!)
        request.httpMethod = "GET"
        let (png, pngResponse) = try await URLSession.shared.data(for: request)
        #expect((pngResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") == "image/png")
        let bytes = [UInt8](png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG signature")
        let expected = PNGExporter.encode(
            PNGExporter.render(try #require(await server.server.room(named: "open")?.board), scale: 2))
        #expect(bytes == expected, "the board, rendered at scale 2")
        let after = try decoder.decode([RoomListing].self, from: Data(try await fetch(port, "/rooms").1.utf8))
        #expect(after.map(\.name) == ["open"])
    }
}
