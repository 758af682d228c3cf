import Foundation
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite(.serialized) struct MetricsTests {
    func fetch(_ port: Int, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func metricsAndHealthAreServedOverHTTP() async throws {
        let server = try await RunningServer { configuration in
            configuration.metricsPort = 0
            configuration.roomAccess = ["locked": RoomAccess(editor: "key", viewer: nil)]
        }
        let port = server.port
        #expect(
            try await join(port: port, room: "open", then: .addText(at: .zero, text: "hi", style: Style(color: 1)))
                == nil)
        #expect(try await join(port: port, room: "locked") != nil)
        let metricsPort = try #require(server.metricsPort)
        let (status, body) = try await fetch(metricsPort, "/metrics")
        #expect(status == 200)
        #expect(body.contains("scuttleboard_updates_in_total 1\n"))
        #expect(body.contains("scuttleboard_rooms 1\n"), "the refused room was never loaded")
        #expect(body.contains("scuttleboard_refusals_total{reason=\"unauthorized\"} 1\n"))
        #expect(body.contains("scuttleboard_stored_updates_total 1\n"))
        #expect(body.contains("# TYPE scuttleboard_commit_seconds summary"))
        let memory = body.split(separator: "\n").first { $0.hasPrefix("scuttleboard_resident_memory_bytes ") }
        #expect((memory?.split(separator: " ").last.flatMap { Int($0) } ?? 0) > 1_000_000)
        #expect(try await fetch(metricsPort, "/healthz") == (200, "ok\n"))
        #expect(try await fetch(metricsPort, "/nope").0 == 404)
        await server.stop()
    }
}
