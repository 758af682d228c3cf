import Scuttlebutt

/// Who may join a room: a room with no tokens is open to everyone; one with
/// an editor token admits editors and bots only with it, and viewers with the
/// viewer token (or the editor token).
public struct RoomAccess: Sendable, Hashable, Codable {
    /// The token that lets a peer draw.
    public var editor: String?
    /// The token that lets a peer watch.
    public var viewer: String?

    /// Access rules for one room.
    public init(editor: String?, viewer: String?) {
        self.editor = editor
        self.viewer = viewer
    }

    /// Why `hello` may not join `room`, or nil when it may.
    func refusal(of hello: Hello) -> CloseReason? {
        let presented = hello.credentials
        switch hello.role {
        case .viewer:
            if viewer == nil && editor == nil { return nil }
            if presented != nil && (presented == viewer || presented == editor) { return nil }
            return .unauthorized("room \"\(hello.room)\" needs a viewer or editor token")
        case .editor, .bot:
            guard let editor else {
                return viewer == nil
                    ? nil : .unauthorized("room \"\(hello.room)\" is view-only without an editor token")
            }
            return presented == editor ? nil : .unauthorized("room \"\(hello.room)\" needs an editor token")
        case .server:
            return .unauthorized("peers may not join as a server")
        }
    }
}

/// A token bucket: `rate` per second, bursts up to twice that.
struct RateLimiter {
    let rate: Double
    private var tokens: Double
    private var updatedAt: UInt64

    init(perSecond rate: Int, now: UInt64) {
        self.rate = Double(rate)
        tokens = Double(rate) * 2
        updatedAt = now
    }

    /// Takes `count` tokens; false when there are not enough.
    mutating func take(_ count: Int, now: UInt64) -> Bool {
        let elapsed = Double(now >= updatedAt ? now - updatedAt : 0) / 1_000
        tokens = min(rate * 2, tokens + elapsed * rate)
        updatedAt = now
        guard tokens >= Double(count) else { return false }
        tokens -= Double(count)
        return true
    }
}
