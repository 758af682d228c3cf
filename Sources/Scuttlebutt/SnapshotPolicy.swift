/// Which timeline entries keep a snapshot of the state after them.
///
/// A late update that conflicts rewinds to the nearest valid snapshot before
/// its place and replays forward, so the spacing of snapshots bounds the
/// replay: with a dense tail of `W` entries and one snapshot every `k` entries
/// beyond it, an update landing `d` places from the end costs at most `d + 1`
/// applies when `d < W` and at most `d + k` beyond; with `W ≥ k` that is
/// at most `2·d` for every `d ≥ 1`.
///
/// Snapshots are O(1) to take when the state is built on persistent
/// collections; then the cost of a snapshot is the memory its later
/// path-copies pin. For a state that copies in full, use `denseTail: 0` and a
/// larger interval.
public struct SnapshotPolicy: Sendable, Hashable {
    /// The newest `denseTail` entries each keep a snapshot.
    public var denseTail: Int
    /// Older entries keep one snapshot every `interval` entries.
    public var interval: Int

    /// A policy with a dense tail and a sparse interval beyond it.
    public init(denseTail: Int, interval: Int) {
        precondition(denseTail >= 0 && interval >= 1, "denseTail must be ≥ 0 and interval ≥ 1")
        self.denseTail = denseTail
        self.interval = interval
    }

    /// One snapshot every `interval` entries, with no dense tail.
    public static func every(_ interval: Int) -> SnapshotPolicy {
        SnapshotPolicy(denseTail: 0, interval: interval)
    }

    /// The default for persistent states: 64 dense, then every 64th.
    public static let standard = SnapshotPolicy(denseTail: 64, interval: 64)

    /// Whether the entry at `absoluteIndex` keeps its snapshot once it is
    /// older than the dense tail.
    @inlinable
    func isSparseKeeper(absoluteIndex: Int) -> Bool {
        (absoluteIndex + 1) % interval == 0
    }
}
