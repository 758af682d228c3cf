/// The tool someone is drawing with, shown to others beside their cursor.
public enum DrawingTool: UInt8, Sendable, Hashable, CaseIterable, Codable {
    /// Freehand strokes.
    case freehand = 0
    /// Straight lines.
    case line
    /// Rectangles.
    case rectangle
    /// Ellipses.
    case ellipse
    /// Text.
    case text
    /// The eraser.
    case eraser
    /// Select and move.
    case select
}

/// What a person shows others while they are in a room: ephemeral (never in
/// the log), sent as the presence payload of the gossip protocol.
public struct BoardPresence: Sendable, Hashable {
    /// Display name, at most ``maxNameLength`` characters.
    public var name: String
    /// Their colour.
    public var color: UInt8
    /// Where their pointer is on the canvas, if on the board.
    public var cursor: Point?
    /// What they are drawing with.
    public var tool: DrawingTool
    /// The part of the canvas they are looking at, for follow mode.
    public var viewport: Rect?

    /// The longest name sent.
    public static let maxNameLength = 32

    /// A presence.
    public init(name: String, color: UInt8, cursor: Point?, tool: DrawingTool, viewport: Rect?) {
        self.name = name
        self.color = color
        self.cursor = cursor
        self.tool = tool
        self.viewport = viewport
    }

    /// The cursor to draw for this presence, if it points at the board.
    public var overlay: CursorOverlay? {
        cursor.map { CursorOverlay(position: $0, name: name, color: color) }
    }

    /// The compact binary payload: name, colour, tool, then cursor and
    /// viewport when present. Names longer than ``maxNameLength`` are cut.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        let name = String(String.UnicodeScalarView(name.unicodeScalars.prefix(Self.maxNameLength)))
        writer.varint(UInt64(name.utf8.count))
        writer.bytes.append(contentsOf: name.utf8)
        writer.byte(color)
        writer.byte(tool.rawValue | (cursor == nil ? 0 : 0x40) | (viewport == nil ? 0 : 0x80))
        if let cursor { writer.point(cursor) }
        if let viewport {
            writer.point(Point(viewport.minX, viewport.minY))
            writer.signed(Int64(viewport.maxX) - Int64(viewport.minX))
            writer.signed(Int64(viewport.maxY) - Int64(viewport.minY))
        }
        return writer.bytes
    }

    /// Decodes a payload written by ``encoded()``.
    /// - Throws: ``BoardCodecError`` for anything malformed.
    public init(decoding bytes: some Collection<UInt8>) throws(BoardCodecError) {
        var reader = ByteReader(bytes)
        let length = try reader.varint()
        guard length <= UInt64(Self.maxNameLength * 4) else { throw .valueOutOfRange("name length") }
        guard let name = String(validating: try reader.take(Int(length)), as: UTF8.self) else { throw .invalidText }
        let color = try reader.byte()
        let flags = try reader.byte()
        guard let tool = DrawingTool(rawValue: flags & 0x3F) else { throw .valueOutOfRange("tool") }
        let cursor = flags & 0x40 != 0 ? try reader.point() : nil
        var viewport: Rect?
        if flags & 0x80 != 0 {
            let corner = try reader.point()
            let maxX = try reader.coordinate(adding: try reader.signed(), to: corner.x)
            let maxY = try reader.coordinate(adding: try reader.signed(), to: corner.y)
            viewport = Rect(minX: corner.x, minY: corner.y, maxX: maxX, maxY: maxY)
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        self.init(name: name, color: color, cursor: cursor, tool: tool, viewport: viewport)
    }
}
