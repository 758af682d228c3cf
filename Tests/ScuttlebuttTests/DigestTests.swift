import Scuttlebutt
import Testing

@Suite struct DigestTests {
    let a = PeerID(1)
    let b = PeerID(2)

    @Test func boundaryExcludesEqualSeqAndIncludesOneLess() {
        let digest = Digest([a: 5])
        #expect(digest.contains(UpdateID(origin: a, seq: 5)))
        #expect(digest.contains(UpdateID(origin: a, seq: 4)))
        #expect(!digest.contains(UpdateID(origin: a, seq: 6)))
        #expect(!digest.contains(UpdateID(origin: b, seq: 1)))
    }

    @Test func unionAndCovers() {
        let left = Digest([a: 5, b: 1])
        let right = Digest([a: 3, b: 4])
        let union = left.union(right)
        #expect(union == Digest([a: 5, b: 4]))
        #expect(union.covers(left) && union.covers(right))
        #expect(!left.covers(right))
        #expect(union.totalCount == 9)
    }

    @Test func zeroEntriesAreAbsent() {
        var digest = Digest([a: 0])
        #expect(digest.seqs.isEmpty)
        digest[a] = 2
        digest[a] = 0
        #expect(digest == Digest())
    }
}
