/// The identity of a peer: the *origin* of every update it records.
///
/// A peer picks a random 64-bit id once and keeps it for as long as it keeps
/// its log; `(origin, seq)` then names exactly one update forever.
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw 64-bit value.
    public let rawValue: UInt64

    /// Wraps a raw id.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A fresh random id drawn from `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> PeerID {
        PeerID(generator.next())
    }

    /// A fresh random id from the system generator.
    public static func random() -> PeerID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// Orders by raw value.
    public static func < (lhs: PeerID, rhs: PeerID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// Sixteen lowercase hex digits, zero-padded.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
