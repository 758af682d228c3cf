import NetworkSimulator
import Testing

/// The cluster model: node crashes, pauses past a lease and partitions from
/// the store, over many seeds, with the product's lease keeper.
@Suite struct ClusterSimulationTests {
    @Test(arguments: ClusterFault.allCases)
    func everyAcknowledgedUpdateIsStoredOnceWhateverTheFault(_ fault: ClusterFault) {
        for seed in UInt64(1)...100 {
            let report = ClusterSimulation(seed: seed, fault: fault).run()
            #expect(report.passed, "\(report)")
            // The fault did what it is for: the busy room changed hands, and
            // a paused node's queued writes were refused by epoch.
            #expect(report.takeovers >= 1, "\(report)")
            if fault == .pause { #expect(report.fencedAppends > 0, "\(report)") }
            if !report.passed { return }
        }
    }

    @Test func aSeedReplaysExactly() {
        let first = ClusterSimulation(seed: 42, fault: .pause).run()
        let second = ClusterSimulation(seed: 42, fault: .pause).run()
        #expect(first.description == second.description)
        #expect(first.recorded > 100)
    }
}
