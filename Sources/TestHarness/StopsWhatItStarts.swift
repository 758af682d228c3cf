import Foundation
import Testing

/// A test trait: the test (or every test of the suite) runs with a marker
/// of its own (``TestProcesses/marker``), and whatever it started that is
/// still running afterwards is reported as an issue and stopped, whether
/// the test passed or failed.
public struct StopsWhatItStarts: TestTrait, SuiteTrait, TestScoping {
    /// Applies to every test of a suite.
    public var isRecursive: Bool { true }

    /// Runs the test with its marker, then checks and cleans up.
    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard !test.isSuite else {
            try await function()
            return
        }
        let marker = UUID().uuidString
        defer {
            let left = TestProcesses.stop(marker: marker)
            if !left.isEmpty {
                let list = left.map(\.description).joined(separator: "; ")
                Issue.record("the test left \(left.count) process(es) running (now stopped): \(list)")
            }
        }
        try await TestProcesses.$marker.withValue(marker) { try await function() }
    }
}

extension Trait where Self == StopsWhatItStarts {
    /// Whatever the test starts is stopped after it, and reported if the
    /// test left it running.
    public static var stopsWhatItStarts: Self { StopsWhatItStarts() }
}
