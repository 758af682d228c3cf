/// SplitMix64, the generator the shared whiteboard workloads are defined
/// with (`../shared/workloads/WHITEBOARD-SPEC.md`, section 2): the same seed
/// gives the same numbers here and in every other engine's harness.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose state starts at `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `next() % modulus`, the unsigned remainder the spec uses (its small
    /// modulo bias is part of the spec).
    mutating func next(below modulus: UInt64) -> Int {
        Int(next() % modulus)
    }
}
