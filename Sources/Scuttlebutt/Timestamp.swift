/// A totally ordered 64-bit timestamp.
///
/// With the hybrid logical clock the high 48 bits hold milliseconds since the
/// Unix epoch and the low 16 bits a counter; with the Lamport clock the whole
/// value is a counter. Either way a larger value is later.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw 64-bit value.
    public let rawValue: UInt64

    /// Wraps a raw value.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A hybrid-logical timestamp from its physical and logical parts.
    public init(milliseconds: UInt64, counter: UInt16) {
        self.rawValue = (milliseconds << 16) | UInt64(counter)
    }

    /// The earliest timestamp.
    public static let zero = Timestamp(0)

    /// The physical part of a hybrid-logical timestamp, in milliseconds.
    public var milliseconds: UInt64 { rawValue >> 16 }

    /// The logical counter of a hybrid-logical timestamp.
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// Orders earlier first.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `milliseconds.counter`, e.g. `1764316800000.3`.
    public var description: String { "\(milliseconds).\(counter)" }
}
