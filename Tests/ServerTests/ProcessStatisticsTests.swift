import Foundation
import Testing

@testable import Server

/// What the server reads about its own process from /proc.
struct ProcessStatisticsTests {
    @Test func kernelCPUListsAreCounted() {
        #expect(ProcessStatistics.cpuCount(inList: "0") == 1)
        #expect(ProcessStatistics.cpuCount(inList: "0-1") == 2)
        #expect(ProcessStatistics.cpuCount(inList: "0-3,8,10-11") == 7)
        #expect(ProcessStatistics.cpuCount(inList: " 2-5\n") == 4)
        for malformed in ["", "a", "3-1", "1-2-3", "0,,"] {
            #expect(ProcessStatistics.cpuCount(inList: Substring(malformed)) == nil, "\(malformed)")
        }
    }

    @Test func thisProcessMayRunOnAtLeastOneCPUAndAtMostAllOfThem() throws {
        let allowed = try #require(ProcessStatistics.allowedCPUCount(), "Linux's /proc/self/status")
        #expect((1...ProcessInfo.processInfo.processorCount).contains(allowed))
    }
}
