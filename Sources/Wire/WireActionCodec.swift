import Scuttlebutt
import Whiteboard

/// The app's encoding of its actions, used inside `updates` frames. The
/// context is the id of the update carrying the action.
public protocol WireActionCodec {
    /// The action type.
    associatedtype Action: Sendable
    /// The bytes of `action` carried by update `context`.
    static func encode(_ action: Action, context: UpdateID) -> [UInt8]
    /// The action carried by update `context`, from its bytes within a
    /// frame (a slice, so that a decoder need not copy them); throws on
    /// malformed bytes.
    static func decode(_ bytes: ArraySlice<UInt8>, context: UpdateID) throws -> Action
}

extension BoardActionCodec: WireActionCodec {}
