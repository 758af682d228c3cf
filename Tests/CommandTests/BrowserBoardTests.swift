import Foundation
import TestHarness
import Testing

/// The browser board (`GET /`): its JavaScript protocol code against the
/// golden files (`Tests/Browser/conformance.mjs`, under node), and the page
/// in a real Chromium driven by Selenium (`Tests/Browser/board_test.py`):
/// drawing with pointer actions, the server's JSON export, a golden
/// screenshot, a terminal client in tmux, a reload while offline, and the
/// page's board against the server's after a swarm.
///
/// The tools come from `Scripts/install-browser-tests.sh` (Debian's chromium
/// and chromium-driver, Selenium in `.build/browser-venv`). Without them the
/// tests are skipped and say why, unless `SCUTTLEBOARD_REQUIRE_BROWSER` is
/// set (`.ci/run` sets it): then a missing tool fails the run.
///
/// The Chromium test runs only when `SCUTTLEBOARD_BROWSER_TESTS` is set:
/// beside the rest of the suite on two cores, a browser, its server and its
/// bots starved tests with tight timeouts (runs of 4 to 15 minutes with
/// failures, against under 2 without it). `.ci/run` runs it in a pass of
/// its own after `swift test`.
@Suite(.stopsWhatItStarts, .serialized) struct BrowserBoardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("scuttleboard").path
    static let required = ProcessInfo.processInfo.environment["SCUTTLEBOARD_REQUIRE_BROWSER"] != nil
    static let asked = ProcessInfo.processInfo.environment["SCUTTLEBOARD_BROWSER_TESTS"] != nil
    static let python = root.appendingPathComponent(".build/browser-venv/bin/python").path

    /// The first of `names` found on the PATH.
    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static var missingForBrowser: [String] {
        var missing: [String] = []
        if !FileManager.default.isExecutableFile(atPath: python) { missing.append("Selenium (.build/browser-venv)") }
        for tool in ["chromium", "chromedriver", "tmux"] where onPath(tool) == nil { missing.append(tool) }
        return missing
    }

    @Test(
        .enabled(if: required || onPath("node") != nil, "node is not installed"),
        .timeLimit(.minutes(1)))
    func theJavaScriptCodecAndReducerMatchTheGoldenFiles() async throws {
        let node = try #require(Self.onPath("node"), "node is not installed")
        let (status, output) = try await TestProcesses.output(
            of: node, [Self.root.appendingPathComponent("Tests/Browser/conformance.mjs").path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("checks passed"), "\(output)")
    }

    @Test(
        .enabled(
            if: asked,
            "runs alone: SCUTTLEBOARD_BROWSER_TESTS=1 swift test --filter BrowserBoardTests (.ci/run does)"),
        .enabled(
            if: required || missingForBrowser.isEmpty,
            "needs \(missingForBrowser.joined(separator: ", ")): run Scripts/install-browser-tests.sh"),
        .timeLimit(.minutes(3)))
    func aPersonDrawsInChromiumAndNothingIsLostOffline() async throws {
        try #require(Self.missingForBrowser.isEmpty, "missing: \(Self.missingForBrowser.joined(separator: ", "))")
        let artifacts = Self.root.appendingPathComponent(".build/browser-artifacts").path
        let (status, output) = try await TestProcesses.output(
            of: Self.python,
            [
                Self.root.appendingPathComponent("Tests/Browser/board_test.py").path, "--binary", Self.executable,
                "--artifacts", artifacts,
            ])
        #expect(status == 0, "the browser test failed (screenshots and logs in \(artifacts)):\n\(output)")
        #expect(output.contains("browser test: passed"), "\(output)")
    }
}
