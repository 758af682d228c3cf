/// What a replica has: for each origin, the highest contiguous sequence
/// number it holds.
///
/// Links are reliable and ordered and updates of an origin travel in seq
/// order, so one number per origin says exactly which updates a peer has.
public struct Digest: Hashable, Sendable, Sequence, CustomStringConvertible {
    /// Highest contiguous seq by origin; origins with nothing are absent.
    public private(set) var seqs: [PeerID: UInt64]

    /// An empty digest, or one from explicit values.
    public init(_ seqs: [PeerID: UInt64] = [:]) {
        self.seqs = seqs.filter { $0.value > 0 }
    }

    /// The highest seq held for `origin`, 0 when none.
    public subscript(origin: PeerID) -> UInt64 {
        get { seqs[origin] ?? 0 }
        set { seqs[origin] = newValue > 0 ? newValue : nil }
    }

    /// Whether the update named `id` is covered.
    public func contains(_ id: UpdateID) -> Bool {
        id.seq <= self[id.origin]
    }

    /// Raises the entry for `origin` to `seq` if it is lower.
    public mutating func advance(_ origin: PeerID, to seq: UInt64) {
        if seq > self[origin] { self[origin] = seq }
    }

    /// The pointwise maximum of two digests.
    public func union(_ other: Digest) -> Digest {
        var result = self
        for (origin, seq) in other.seqs { result.advance(origin, to: seq) }
        return result
    }

    /// Whether every update `other` covers, this one covers too.
    public func covers(_ other: Digest) -> Bool {
        other.seqs.allSatisfy { self[$0.key] >= $0.value }
    }

    /// The number of updates covered.
    public var totalCount: UInt64 { seqs.values.reduce(0, +) }

    /// Iterates over `(origin, seq)` pairs, in no particular order.
    public func makeIterator() -> Dictionary<PeerID, UInt64>.Iterator { seqs.makeIterator() }

    /// `{origin: seq, …}` sorted by origin.
    public var description: String {
        "{" + seqs.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }
}
