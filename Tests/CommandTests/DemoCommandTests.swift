import Foundation
import Glibc
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

    @Test func aHeadlessDemoRunsItsDurationAndRemovesItsTemporaryDatabase() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let child = try TestProcesses.spawn(
            Self.executable, ["demo", "--headless", "--duration", "2s", "--bots", "2"], output: ends[1],
            environment: ["TMPDIR": scratch.path])
        close(ends[1])
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = read(ends[0], &buffer, buffer.count)
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        close(ends[0])
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let text = String(decoding: output, as: UTF8.self)
        #expect(status == 0, "\(text)")
        #expect(text.contains("t=1s") && text.contains("t=2s") && !text.contains("t=3s"), "\(text)")
        #expect(text.contains("ada (scribbler), grace (shapes) drawing in room \"demo\""))
        #expect(text.contains(" shown, ") && text.contains(" kept ") && text.contains(" MB"), "\(text)")
        #expect(text.contains("the board was in a temporary database, now removed"))
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(left.isEmpty, "nothing left in the temporary folder: \(left)")
    }
}
