import Workloads

/// SplitMix64: a tiny, fast generator whose output depends only on its seed,
/// on every platform — so a seed replays a simulation exactly. The same
/// generator the shared workloads are specified with.
public typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    /// True with probability `probability`.
    public mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}
