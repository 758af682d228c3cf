import Foundation
import Glibc
import NIOCore
import TestHarness
import Testing

@testable import Bots
@testable import Server

/// The Redis baseline's client: its reply parser, and a run against a real
/// `redis-server` when one is installed (`.ci/run` installs it).
@Suite(.serialized, .stopsWhatItStarts) struct RedisFanoutTests {
    @Test func aReplySplitAnywhereParsesOnlyOnceWhole() throws {
        let bytes = Array("*3\r\n$7\r\nmessage\r\n$7\r\nswarm-0\r\n$5\r\nab\r\nc\r\n".utf8)
        for cut in 1..<bytes.count {
            var partial = ByteBuffer(bytes: bytes[0..<cut])
            #expect(try RESPReplyDecoder.parse(&partial) == nil, "parsed from the first \(cut) bytes")
        }
        var whole = ByteBuffer(bytes: bytes + Array(":1\r\n".utf8))
        guard case .array(let items) = try RESPReplyDecoder.parse(&whole), items.count == 3,
            case .bulk(let payload?) = items[2]
        else {
            Issue.record("not a message of three parts")
            return
        }
        #expect(payload == Array("ab\r\nc".utf8), "a bulk string may hold CR LF")
        guard case .integer(1) = try RESPReplyDecoder.parse(&whole) else {
            Issue.record("the next reply was not read")
            return
        }
        var malformed = ByteBuffer(string: "?what\r\n")
        #expect(throws: RedisFanoutError.self) { try RESPReplyDecoder.parse(&malformed) }
    }

    /// A redis-server of the test's own, answering PING on a free port.
    /// Another test may bind the port between `freePort()` and Redis's
    /// bind; that Redis exits, and the run would talk to the other test's
    /// server (it once waited 10 s for subscriptions that way): then it
    /// tries another port.
    func startRedis() async throws -> (pid: pid_t, port: Int) {
        for _ in 0..<5 {
            let port = try await freePort()
            let pid = try TestProcesses.spawn(
                "redis-server", ["--bind", "127.0.0.1", "--port", "\(port)", "--save", "", "--appendonly", "no"],
                searchingPath: true)
            let deadline = ContinuousClock.now + .seconds(10)
            var status: Int32 = 0
            while ContinuousClock.now < deadline && waitpid(pid, &status, WNOHANG) == 0 {
                let ping = try? await TestProcesses.output(
                    of: "redis-cli", ["-p", "\(port)", "ping"], searchingPath: true)
                if ping?.output.contains("PONG") == true { return (pid, port) }
                try await Task.sleep(for: .milliseconds(50))
            }
            if waitpid(pid, &status, WNOHANG) == 0 {
                kill(pid, SIGTERM)
                waitpid(pid, &status, 0)
            }
        }
        throw RedisFanoutError("redis-server did not answer PING on any of 5 ports")
    }

    @Test func everyPublishedFrameReachesEverySubscriberDecoded() async throws {
        guard (try? await TestProcesses.output(of: "redis-server", ["--version"], searchingPath: true))?.status == 0
        else {
            print("skipped: no redis-server on PATH (.ci/run installs it)")
            return
        }
        let (redis, port) = try await startRedis()
        defer {
            kill(redis, SIGTERM)
            var status: Int32 = 0
            waitpid(redis, &status, 0)
        }
        var configuration = RedisFanoutConfiguration(
            host: "127.0.0.1", port: port, channels: 2, publishersPerChannel: 2, subscribersPerChannel: 3, rate: 50,
            duration: 1, seed: 5)
        configuration.settleTimeout = .seconds(10)
        let result = try await RedisFanout(configuration: configuration).run(serverCPU: {
            ProcessStatistics.cpuSeconds(of: redis)
        })
        // Each publisher sends what its schedule made due, never more than
        // 50 (50/s for 1 s); a late last tick on a busy machine may cost one.
        #expect((196...200).contains(result.sent), "4 publishers at 50/s for 1 s: \(result.sent)")
        #expect(result.expected == 3 * result.sent)
        #expect(result.delivered == result.expected, "every frame decoded by every subscriber of its channel")
        #expect((20...60).contains(result.payloadBytes), "a one-extend frame: \(result.payloadBytes) bytes")
        #expect(result.latency.p50 <= result.latency.p99)
        // Read from /proc (a second of light load may round to 0 s).
        #expect((try #require(result.serverCPUSeconds)) >= 0)
    }
}
