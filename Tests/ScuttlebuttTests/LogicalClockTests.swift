import Scuttlebutt
import Testing

@Suite struct LogicalClockTests {
    @Test func hybridClockFollowsWallTimeWhenItIsAhead() {
        var clock = LogicalClock(strategy: .hybridLogical, maxSkew: 1_000)
        let first = clock.tick(now: 5_000)
        #expect(first == Timestamp(milliseconds: 5_000, counter: 0))
        let second = clock.tick(now: 6_000)
        #expect(second == Timestamp(milliseconds: 6_000, counter: 0))
    }

    @Test func hybridClockStaysStrictlyIncreasingWhenWallTimeStallsOrGoesBack() {
        var clock = LogicalClock(strategy: .hybridLogical, maxSkew: 1_000)
        let a = clock.tick(now: 5_000)
        let b = clock.tick(now: 5_000)
        let c = clock.tick(now: 4_000)
        #expect(a < b && b < c)
        #expect(c == Timestamp(milliseconds: 5_000, counter: 2))
    }

    @Test func observingARemoteStampMovesTheClockPastIt() {
        var clock = LogicalClock(strategy: .hybridLogical, maxSkew: 1_000)
        let remote = Timestamp(milliseconds: 5_500, counter: 7)
        #expect(clock.accepts(remote, now: 5_000))
        clock.observe(remote)
        #expect(clock.tick(now: 5_000) == Timestamp(milliseconds: 5_500, counter: 8))
    }

    @Test func hybridClockRefusesStampsBeyondTheSkew() {
        let clock = LogicalClock(strategy: .hybridLogical, maxSkew: 1_000)
        #expect(clock.accepts(Timestamp(milliseconds: 6_000, counter: 9), now: 5_000))
        #expect(!clock.accepts(Timestamp(milliseconds: 6_001, counter: 0), now: 5_000))
    }

    @Test func lamportClockCountsAndBoundsJumps() {
        var clock = LogicalClock(strategy: .lamport, maxSkew: 100)
        #expect(clock.tick(now: 99_999) == Timestamp(1))
        clock.observe(Timestamp(50))
        #expect(clock.tick(now: 0) == Timestamp(51))
        #expect(clock.accepts(Timestamp(151), now: 0))
        #expect(!clock.accepts(Timestamp(152), now: 0))
    }

    @Test func timestampPartsRoundTrip() {
        let stamp = Timestamp(milliseconds: 1_764_316_800_123, counter: 65_535)
        #expect(stamp.milliseconds == 1_764_316_800_123)
        #expect(stamp.counter == 65_535)
        #expect(stamp.description == "1764316800123.65535")
    }
}
