import Bots
import Foundation
import Testing

@testable import scuttleboard

/// The swarm's report for people says what happened, in its own words.
@Suite struct SwarmReportTests {
    /// A report as `swarm --json` writes it, with rooms in every outcome.
    static let json = """
        {"bots": 8, "rooms": 3, "pattern": "steady", "duration": 10, "drawingSeconds": 10.02,
         "deliverySeconds": 77.5, "offeredRatePerBot": 100,
         "generator": {"offeredPerSecond": 700, "achievedPerSecond": 310.4, "fellBehind": true},
         "sent": 3104, "delivered": 232500, "throughput": 3000,
         "latency": {"p50": 5, "p90": 9, "p99": 30, "p999": 40, "max": 50},
         "rewinds": 0, "replayDepthMean": 0, "replayDepthMax": 0, "replayDepths": [],
         "refused": {}, "serverRefusals": {}, "reconnects": 0,
         "receivers": "light", "lightPeers": 5, "lightOverWebSocket": true, "lightSessionsEnded": {"peer timed out": 1}, "lightGaps": 0,
         "lightRecorded": 100, "lightReceived": 600, "lightReceivedInSnapshots": 40,
         "convergence": [
           {"room": "swarm-0", "bots": 3, "outcome": "converged", "missing": 0, "stateHash": "1"},
           {"room": "swarm-1", "bots": 3, "outcome": "behind", "missing": 1234, "stateHash": "2"},
           {"room": "swarm-2", "bots": 2, "outcome": "diverged", "missing": 0, "stateHash": "3"}],
         "serverMemorySamples": [],
         "chaos": {"latency": 0, "jitter": 0, "disconnectsPerMinute": 0}}
        """

    @Test func theReportSaysWhatReallyHappened() throws {
        let report = try JSONDecoder().decode(SwarmReport.self, from: Data(Self.json.utf8))
        let text = SwarmCommand.describe(report)
        #expect(text.contains("10 s asked, 10 s drawn"))
        #expect(text.contains("310 actions/s of 700 offered: FELL BEHIND its schedule"))
        #expect(text.contains("232500 updates in 77.5 s (3000 per second)"), "throughput over the real time")
        #expect(text.contains("swarm-0: 3 bots, converged"))
        #expect(text.contains("swarm-1: 3 bots, DID NOT FINISH CATCHING UP: 1234 updates still on their way"))
        #expect(text.contains("swarm-2: 2 bots, DID NOT CONVERGE"))
        #expect(
            text.contains(
                "5 light peers over WebSocket (no replica; ended early: peer timed out 1; 0 out of order), 3 full replicas"
            ))
        #expect(report.diverged && !report.converged)
    }
}
