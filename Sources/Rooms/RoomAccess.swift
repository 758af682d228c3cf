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
            return refusalToRead(room: hello.room, presenting: presented)
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

    /// Why someone presenting `token` may not see `room` (join as a viewer,
    /// or read its board over HTTP), or nil when they may: either token
    /// lets them, and a room without tokens is open to all.
    public func refusalToRead(room: String, presenting token: String?) -> CloseReason? {
        if viewer == nil && editor == nil { return nil }
        if token != nil && (token == viewer || token == editor) { return nil }
        return .unauthorized("room \"\(room)\" needs a viewer or editor token")
    }

    /// Why `hello` may not join a room with `access` (nil: open to all), or
    /// nil when it may. Nobody joins as a server.
    public static func refusal(of hello: Hello, access: RoomAccess?) -> CloseReason? {
        access?.refusal(of: hello) ?? (hello.role == .server ? .unauthorized("peers may not join as a server") : nil)
    }
}
