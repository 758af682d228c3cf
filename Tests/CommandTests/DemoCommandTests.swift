import Foundation
import TestHarness
import Testing

/// `scuttleboard demo --headless`, as a process: it runs for what it is
/// told, prints what happens, and leaves nothing behind.
@Suite(.stopsWhatItStarts) struct DemoCommandTests {
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "scuttleboard"
        ).path
    }

    @Test func aHeadlessDemoRunsItsDurationAndRemovesItsTemporaryDatabase() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (status, text) = try await TestProcesses.output(
            of: Self.executable, ["demo", "--headless", "--duration", "2s", "--bots", "2"],
            environment: ["TMPDIR": scratch.path])
        #expect(status == 0, "\(text)")
        #expect(text.contains("t=1s") && text.contains("t=2s") && !text.contains("t=3s"), "\(text)")
        #expect(text.contains("ada (scribbler), grace (shapes) drawing in room \"demo\""))
        #expect(text.contains("demo: draw in a browser too: http://127.0.0.1:"), "\(text)")
        #expect(text.contains("/?room=demo\n"), "\(text)")
        #expect(text.contains("demo: the board as SVG: http://127.0.0.1:") && text.contains("/rooms/demo/board.svg"))
        #expect(text.contains(" shown, ") && text.contains(" kept ") && text.contains(" MB"), "\(text)")
        #expect(text.contains("the board was in a temporary database, now removed"))
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(left.isEmpty, "nothing left in the temporary folder: \(left)")
    }
}
