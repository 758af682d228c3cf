/// Protocol v1 constants: see docs/PROTOCOL.md.
public enum WireFormat {
    /// The protocol version this code speaks.
    public static let version: UInt16 = 1
    /// The default hard limit on a frame's payload.
    public static let defaultMaxFrameSize = 1 << 20
    /// The most origins one link may define.
    public static let maxOriginsPerLink = 1 << 16
    /// The most updates in one `updates` frame.
    public static let maxUpdatesPerFrame = 1 << 16
    /// The most entries in a digest.
    public static let maxDigestEntries = 1 << 20
    /// The largest presence payload.
    public static let maxPresenceBytes = 4_096

    /// Message type bytes.
    enum MessageType: UInt8 {
        case hello = 1, updates, ack, synced, frontier, reject, presence, presenceGone, ping, pong, goodbye, snapshot,
            snapshotChunk
    }

    /// Limits on string fields, in bytes of UTF-8.
    public enum StringLimit {
        /// A peer's display name in `hello`.
        public static let name = 64
        /// A room's name.
        public static let room = 128
        /// A token.
        public static let credentials = 256
        /// A refusal's or close reason's words.
        public static let reason = 1_024
    }
}
