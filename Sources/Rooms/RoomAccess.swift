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
    public func refusal(of hello: Hello) -> CloseReason? {
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

    /// Why `hello` may not join a room with `access` (nil: open to all), or
    /// nil when it may. Nobody joins as a server.
    public static func refusal(of hello: Hello, access: RoomAccess?) -> CloseReason? {
        access?.refusal(of: hello) ?? (hello.role == .server ? .unauthorized("peers may not join as a server") : nil)
    }
}
