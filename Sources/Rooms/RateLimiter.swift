/// A token bucket: `rate` per second, bursts up to twice that.
public struct RateLimiter: Sendable {
    /// Tokens added per second.
    public let rate: Double
    @usableFromInline var tokens: Double
    @usableFromInline var updatedAt: UInt64

    /// A full bucket at `now`.
    public init(perSecond rate: Int, now: UInt64) {
        self.rate = Double(rate)
        tokens = Double(rate) * 2
        updatedAt = now
    }

    /// Takes `count` tokens; false when there are not enough.
    @inlinable
    public mutating func take(_ count: Int, now: UInt64) -> Bool {
        let elapsed = Double(now >= updatedAt ? now - updatedAt : 0) / 1_000
        tokens = min(rate * 2, tokens + elapsed * rate)
        updatedAt = now
        guard tokens >= Double(count) else { return false }
        tokens -= Double(count)
        return true
    }
}
