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
///
/// Late updates land near the end (within the network's in-flight window),
/// so deep history needs few snapshots: entries more than `deepBeyond`
/// places from the end keep one every `deepInterval` entries. A conflicting
/// update that deep replays up to `d + deepInterval` applies, and a fold
/// there (a count or age limit) lands on a snapshot within `deepInterval`.
public struct SnapshotPolicy: Sendable, Hashable {
    /// The newest `denseTail` entries each keep a snapshot.
    public var denseTail: Int
    /// Older entries keep one snapshot every `interval` entries.
    public var interval: Int
    /// Entries further than this from the end follow `deepInterval`.
    public var deepBeyond: Int
    /// Entries deeper than `deepBeyond` keep one snapshot every
    /// `deepInterval` entries: a multiple of `interval`.
    public var deepInterval: Int

    /// A policy with a dense tail and a sparse interval beyond it, and
    /// optionally a sparser one for deep history.
    public init(denseTail: Int, interval: Int, deepBeyond: Int = .max, deepInterval: Int? = nil) {
        precondition(denseTail >= 0 && interval >= 1, "denseTail must be ≥ 0 and interval ≥ 1")
        let deepInterval = deepInterval ?? interval
        precondition(
            deepBeyond >= denseTail && deepInterval % interval == 0,
            "deepBeyond must be ≥ denseTail and deepInterval a multiple of interval")
        self.denseTail = denseTail
        self.interval = interval
        self.deepBeyond = deepBeyond
        self.deepInterval = deepInterval
    }

    /// One snapshot every `interval` entries, with no dense tail.
    public static func every(_ interval: Int) -> SnapshotPolicy {
        SnapshotPolicy(denseTail: 0, interval: interval)
    }

    /// The default for persistent states: 64 dense, then every 64th.
    public static let standard = SnapshotPolicy(denseTail: 64, interval: 64)

    /// Whether the entry at `absoluteIndex` keeps its snapshot once it is
    /// older than the dense tail and `distance` places from the end.
    @inlinable
    func isSparseKeeper(absoluteIndex: Int, distance: Int) -> Bool {
        (absoluteIndex + 1) % (distance > deepBeyond ? deepInterval : interval) == 0
    }

    /// The spacing of snapshots `distance` places from the end.
    @inlinable
    func spacing(atDistance distance: Int) -> Int {
        distance > deepBeyond ? deepInterval : interval
    }
}
