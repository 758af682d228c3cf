import Scuttlebutt
import Whiteboard

/// The app's encoding of its actions, used inside `updates` frames. The
/// context is the id of the update carrying the action.
public protocol WireActionCodec {
    /// The action type.
    associatedtype Action: Sendable
    /// The bytes of `action` carried by update `context`.
    static func encode(_ action: Action, context: UpdateID) -> [UInt8]
    /// The action carried by update `context`; throws on malformed bytes.
    static func decode(_ bytes: [UInt8], context: UpdateID) throws -> Action
}

extension BoardActionCodec: WireActionCodec {
    /// Decodes a board action (see ``BoardActionCodec/decode(_:context:)``).
    public static func decode(_ bytes: [UInt8], context: UpdateID) throws -> BoardAction {
        // The slice selects the generic decoder, not this witness.
        try decode(bytes[...], context: context)
    }
}
