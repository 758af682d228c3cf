import Scuttlebutt
/// Bounds every action must respect; checked before an action enters any log.
public struct BoardLimits: Sendable, Hashable {
    /// Largest absolute canvas coordinate (and move offset).
    public var maxCoordinate: Int32 = 1 << 24
    /// Points one extend may carry.
    public var maxPointsPerExtend = 16
    /// Points one stroke may hold; extends past it are ignored by every replica alike.
    public var maxPointsPerStroke = 20_000
    /// Characters (Unicode scalars) in one text.
    public var maxTextLength = 500
    /// Elements one erase may name.
    public var maxElementsPerErase = 1_024
    /// How many of its latest actions an origin can undo in a row. A hidden
    /// element whose hiding falls out of that reach can never be shown
    /// again, and is removed from the board (docs/UNDO.md, rule 16). Every
    /// replica of a board must use the same depth.
    public var undoDepth = 500

    /// The defaults.
    public init() {}
}

/// Why a board action was refused, in words a person can act on.
public enum BoardValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A coordinate lies outside the canvas.
    case coordinateOutOfRange(Point, limit: Int32)
    /// An extend carries no points or too many.
    case pointCount(Int, limit: Int)
    /// A text is empty or too long.
    case textLength(Int, limit: Int)
    /// A text or brush holds a character the terminal cannot show in one cell.
    case unsupportedCharacter(Unicode.Scalar)
    /// An erase covers nothing.
    case emptyArea(Rect)
    /// An erase names no element, or too many.
    case erasedCount(Int, limit: Int)
    /// An extend or end of a stroke, or the continuation of an erase, sent
    /// by a peer that did not begin it.
    case notTheAuthor(ElementID, origin: PeerID)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .coordinateOutOfRange(let point, let limit):
            return "coordinate \(point) is outside the canvas (±\(limit))"
        case .pointCount(let count, let limit):
            return "a stroke extend carries \(count) points; it must carry 1 to \(limit)"
        case .textLength(let count, let limit):
            return "text is \(count) characters long; it must be 1 to \(limit)"
        case .unsupportedCharacter(let scalar):
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "character U+\(hex) is not supported (control, combining and wide characters are not)"
        case .emptyArea(let rect):
            return "erase area \(rect) is empty"
        case .erasedCount(let count, let limit):
            return "an erase names \(count) elements; it must name 1 to \(limit)"
        case .notTheAuthor(let element, let origin):
            return "\(origin) may not continue \(element): only the peer that began a stroke or an erase continues it"
        }
    }
}

extension BoardLimits {
    /// Whether `scalar` shows as exactly one terminal cell: printable Latin,
    /// Greek, Cyrillic, punctuation, arrows, box drawing, blocks and geometric
    /// shapes. Conservative on purpose: a wrong width would break layout.
    public static func isSingleCell(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20...0x7E, 0xA0...0x24F, 0x370...0x3FF, 0x400...0x4FF, 0x2010...0x205E, 0x2190...0x21FF,
            0x2500...0x25FF:
            return !scalar.properties.isDiacritic || scalar.value < 0x300
        default:
            return false
        }
    }

    func check(_ point: Point) throws(BoardValidationError) {
        guard abs(Int64(point.x)) <= Int64(maxCoordinate), abs(Int64(point.y)) <= Int64(maxCoordinate) else {
            throw .coordinateOutOfRange(point, limit: maxCoordinate)
        }
    }

    func check(_ style: Style) throws(BoardValidationError) {
        if case .glyph(let scalar) = style.brush, !Self.isSingleCell(scalar) || scalar == " " {
            throw .unsupportedCharacter(scalar)
        }
    }

    /// Throws the first rule `action` breaks.
    public func validate(_ action: BoardAction) throws(BoardValidationError) {
        switch action {
        case .beginStroke(let point, let style):
            try check(point)
            try check(style)
        case .extendStroke(_, let points):
            guard (1...maxPointsPerExtend).contains(points.count) else {
                throw .pointCount(points.count, limit: maxPointsPerExtend)
            }
            for point in points { try check(point) }
        case .addShape(_, let from, let to, let style):
            try check(from)
            try check(to)
            try check(style)
        case .addText(let point, let text, let style):
            try check(point)
            try check(style)
            let scalars = text.unicodeScalars
            guard (1...maxTextLength).contains(scalars.count) else {
                throw .textLength(scalars.count, limit: maxTextLength)
            }
            if let bad = scalars.first(where: { !Self.isSingleCell($0) }) { throw .unsupportedCharacter(bad) }
        case .move(_, let offset):
            try check(offset)
        case .restyle(_, let style):
            try check(style)
        case .erase(let ids), .continueErasing(_, let ids):
            guard (1...maxElementsPerErase).contains(ids.count) else {
                throw .erasedCount(ids.count, limit: maxElementsPerErase)
            }
        case .eraseArea(let rect), .continueErase(_, let rect):
            try check(Point(rect.minX, rect.minY))
            try check(Point(rect.maxX, rect.maxY))
            guard rect.minX <= rect.maxX && rect.minY <= rect.maxY else { throw .emptyArea(rect) }
        case .endStroke, .delete, .clear, .undo, .redo:
            break
        }
    }
}
