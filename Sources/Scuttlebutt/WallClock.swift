import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a replica reads physical time from.
///
/// The core never reads the system clock itself; an app passes one in, and
/// tests and the simulator pass a ``ManualClock`` they move by hand.
public protocol WallClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func milliseconds() -> UInt64
}

/// The system's real-time clock: what an app passes to its replicas, and
/// what tools that stamp or compare wall-clock times read.
public struct SystemWallClock: WallClock {
    /// The system clock.
    public init() {}

    /// Milliseconds since the Unix epoch, from `CLOCK_REALTIME`.
    public func milliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

/// A wall clock that only moves when told to: for tests and simulation.
public final class ManualClock: WallClock {
    private let now: Atomic<UInt64>

    /// A clock that reads `milliseconds` until moved.
    public init(milliseconds: UInt64 = 1_000_000) {
        self.now = Atomic(milliseconds)
    }

    /// The current reading.
    public func milliseconds() -> UInt64 {
        now.load(ordering: .acquiring)
    }

    /// Moves the clock forward by `delta` milliseconds.
    public func advance(by delta: UInt64) {
        now.add(delta, ordering: .acquiringAndReleasing)
    }

    /// Sets the reading; the clock may go backwards, as real clocks do.
    public func set(milliseconds: UInt64) {
        now.store(milliseconds, ordering: .releasing)
    }
}

extension Duration {
    /// Whole milliseconds (zero for a negative duration): the unit the
    /// replication core counts time in.
    public var milliseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000_000
    }
}
