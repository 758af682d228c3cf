import Scuttlebutt

/// What one direction of a link has carried so far, so that updates can be
/// sent as deltas: origins as small indices, seqs and stamps relative to the
/// same origin's previous update on the link. The encoder and the decoder of
/// a direction keep identical contexts; links are ordered, so they agree.
struct LinkDeltaContext {
    private(set) var origins: [PeerID] = []
    private var indices: [PeerID: Int] = [:]
    private var lastSeq: [UInt64] = []
    private var lastTimestamp: [UInt64] = []

    func index(of origin: PeerID) -> Int? { indices[origin] }

    /// Defines a new origin and returns its index.
    mutating func define(_ origin: PeerID) -> Int {
        origins.append(origin)
        indices[origin] = origins.count - 1
        lastSeq.append(0)
        lastTimestamp.append(0)
        return origins.count - 1
    }

    func previous(_ index: Int) -> (seq: UInt64, timestamp: UInt64) { (lastSeq[index], lastTimestamp[index]) }

    mutating func record(_ index: Int, seq: UInt64, timestamp: UInt64) {
        lastSeq[index] = seq
        lastTimestamp[index] = timestamp
    }
}
