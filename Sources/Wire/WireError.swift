/// Why bytes from a peer were not a valid protocol v1 frame. Each case names
/// the problem so that it can go back to the peer in a `goodbye`.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A frame announced more bytes than the limit.
    case frameTooLarge(length: UInt64, limit: Int)
    /// A varint ran past its last allowed byte.
    case malformedVarint
    /// The frame ended in the middle of a field.
    case truncated(String)
    /// The message type byte is unknown.
    case unknownMessageType(UInt8)
    /// A string field is not UTF-8.
    case invalidUTF8(String)
    /// A string or byte field is longer than allowed.
    case fieldTooLong(String, limit: Int)
    /// A count is larger than allowed.
    case countTooLarge(String, limit: Int)
    /// An enumeration field holds an unknown value.
    case invalidValue(String)
    /// An update names an origin index this link never defined.
    case unknownOrigin(index: UInt64)
    /// A field holds a value out of its range.
    case outOfRange(String)
    /// The payload has bytes left after its message.
    case trailingBytes(Int)
    /// The app's action codec refused an action's bytes.
    case invalidAction(String)

    /// A sentence for people (and for the `goodbye` sent back).
    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit): return "frame of \(length) bytes exceeds the limit of \(limit)"
        case .malformedVarint: return "malformed varint"
        case .truncated(let field): return "frame ends inside \(field)"
        case .unknownMessageType(let type): return "unknown message type \(type)"
        case .invalidUTF8(let field): return "\(field) is not valid UTF-8"
        case .fieldTooLong(let field, let limit): return "\(field) is longer than \(limit) bytes"
        case .countTooLarge(let field, let limit): return "\(field) is larger than \(limit)"
        case .invalidValue(let field): return "\(field) has an unknown value"
        case .unknownOrigin(let index): return "update refers to origin index \(index), never defined on this link"
        case .outOfRange(let field): return "\(field) is out of range"
        case .trailingBytes(let count): return "\(count) unexpected bytes after the message"
        case .invalidAction(let reason): return "invalid action: \(reason)"
        }
    }
}
