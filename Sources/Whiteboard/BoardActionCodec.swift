import Scuttlebutt

/// Why bytes did not decode into a ``BoardAction``.
public enum BoardCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes ended in the middle of a value.
    case truncated
    /// A varint ran longer than 64 bits.
    case varintOverflow
    /// A value does not fit its field.
    case valueOutOfRange(String)
    /// The action tag is unknown.
    case unknownTag(UInt8)
    /// Text is not valid UTF-8, or a glyph is not a Unicode scalar.
    case invalidText
    /// Bytes remain after the action.
    case trailingBytes(Int)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .truncated: return "action bytes end in the middle of a value"
        case .varintOverflow: return "a varint is longer than 64 bits"
        case .valueOutOfRange(let field): return "\(field) is out of range"
        case .unknownTag(let tag): return "unknown action tag \(tag)"
        case .invalidText: return "text is not valid UTF-8"
        case .trailingBytes(let count): return "\(count) unexpected bytes after the action"
        }
    }
}

/// The compact binary form of ``BoardAction``s.
///
/// Integers are LEB128 varints, signed ones zigzag-encoded. An element
/// reference by the element's own author (a stroke extend, a move of one's
/// own shape) is the seq distance back from the update carrying it, usually
/// one byte. Points after the first are deltas. A stroke extend with 1–3
/// points takes 7–12 bytes.
///
/// The encoding needs the id of the update that carries the action (its
/// context); decoding checks every length and range, and never traps.
public enum BoardActionCodec {
    /// Largest point count decoded, to bound allocations from hostile input.
    public static let maxDecodedPoints = 4_096
    /// Largest text decoded, in bytes.
    public static let maxDecodedTextBytes = 8_192
    /// Most elements one decoded erase may name.
    public static let maxDecodedErasedElements = 4_096

    enum Tag: UInt8 {
        case beginStroke = 0, extendStroke, endStroke, addShape, addText, move, restyle, delete, eraseArea, clear,
            undo, redo, continueErase, erase, continueErasing
    }

    /// The bytes of `action`, carried by the update named `context`.
    public static func encode(_ action: BoardAction, context: UpdateID) -> [UInt8] {
        var writer = ByteWriter()
        switch action {
        case .beginStroke(let point, let style):
            writer.byte(Tag.beginStroke.rawValue)
            writer.point(point)
            writer.style(style)
        case .extendStroke(let id, let points):
            writer.byte(Tag.extendStroke.rawValue)
            writer.reference(id, context: context)
            writer.varint(UInt64(points.count))
            writer.deltas(points)
        case .endStroke(let id):
            writer.byte(Tag.endStroke.rawValue)
            writer.reference(id, context: context)
        case .addShape(let kind, let from, let to, let style):
            writer.byte(Tag.addShape.rawValue)
            writer.byte(kind == .line ? 0 : kind == .rectangle ? 1 : 2)
            writer.point(from)
            writer.signed(Int64(to.x) - Int64(from.x))
            writer.signed(Int64(to.y) - Int64(from.y))
            writer.style(style)
        case .addText(let point, let text, let style):
            writer.byte(Tag.addText.rawValue)
            writer.point(point)
            writer.style(style)
            writer.varint(UInt64(text.utf8.count))
            writer.bytes.append(contentsOf: text.utf8)
        case .move(let id, let offset):
            writer.byte(Tag.move.rawValue)
            writer.reference(id, context: context)
            writer.point(offset)
        case .restyle(let id, let style):
            writer.byte(Tag.restyle.rawValue)
            writer.reference(id, context: context)
            writer.style(style)
        case .delete(let id):
            writer.byte(Tag.delete.rawValue)
            writer.reference(id, context: context)
        case .erase(let ids):
            writer.byte(Tag.erase.rawValue)
            writer.references(ids, context: context)
        case .continueErasing(let gesture, let ids):
            writer.byte(Tag.continueErasing.rawValue)
            writer.reference(gesture, context: context)
            writer.references(ids, context: context)
        case .eraseArea(let rect):
            writer.byte(Tag.eraseArea.rawValue)
            writer.area(rect)
        case .continueErase(let gesture, let rect):
            writer.byte(Tag.continueErase.rawValue)
            writer.reference(gesture, context: context)
            writer.area(rect)
        case .clear: writer.byte(Tag.clear.rawValue)
        case .undo: writer.byte(Tag.undo.rawValue)
        case .redo: writer.byte(Tag.redo.rawValue)
        }
        return writer.bytes
    }

    /// Decodes the action carried by the update named `context`.
    /// - Throws: ``BoardCodecError`` for anything malformed.
    public static func decode(_ bytes: some Collection<UInt8>, context: UpdateID) throws(BoardCodecError) -> BoardAction
    {
        try decode(ByteReader(bytes), context: context)
    }

    /// Decodes the action carried by the update named `context` from a
    /// slice, without copying it: what a decoder holding a buffer calls
    /// (not generic, so that a caller in another module runs specialized
    /// code).
    /// - Throws: ``BoardCodecError`` for anything malformed.
    public static func decode(_ bytes: ArraySlice<UInt8>, context: UpdateID) throws(BoardCodecError) -> BoardAction {
        try decode(ByteReader(bytes), context: context)
    }

    private static func decode(_ reader: ByteReader, context: UpdateID) throws(BoardCodecError) -> BoardAction {
        var reader = reader
        let action = try decodeAction(&reader, context: context)
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return action
    }

    private static func decodeAction(_ reader: inout ByteReader, context: UpdateID) throws(BoardCodecError)
        -> BoardAction
    {
        let tagByte = try reader.byte()
        guard let tag = Tag(rawValue: tagByte) else { throw .unknownTag(tagByte) }
        switch tag {
        case .beginStroke:
            return .beginStroke(at: try reader.point(), style: try reader.style())
        case .extendStroke:
            let id = try reader.reference(context: context)
            let count = try reader.varint()
            guard count >= 1 && count <= UInt64(maxDecodedPoints) else { throw .valueOutOfRange("point count") }
            var points: [Point] = []
            points.reserveCapacity(Int(count))
            var previous = Point.zero
            for _ in 0..<count {
                let x = try reader.coordinate(adding: try reader.signed(), to: previous.x)
                let y = try reader.coordinate(adding: try reader.signed(), to: previous.y)
                previous = Point(x, y)
                points.append(previous)
            }
            return .extendStroke(id, points: points)
        case .endStroke:
            return .endStroke(try reader.reference(context: context))
        case .addShape:
            let kindByte = try reader.byte()
            guard kindByte <= 2 else { throw .valueOutOfRange("shape kind") }
            let kind: ShapeKind = kindByte == 0 ? .line : kindByte == 1 ? .rectangle : .ellipse
            let from = try reader.point()
            let to = Point(
                try reader.coordinate(adding: try reader.signed(), to: from.x),
                try reader.coordinate(adding: try reader.signed(), to: from.y))
            return .addShape(kind, from: from, to: to, style: try reader.style())
        case .addText:
            let point = try reader.point()
            let style = try reader.style()
            let length = try reader.varint()
            guard length <= UInt64(maxDecodedTextBytes) else { throw .valueOutOfRange("text length") }
            let utf8 = try reader.take(Int(length))
            guard let text = String(validating: utf8, as: UTF8.self) else { throw .invalidText }
            return .addText(at: point, text: text, style: style)
        case .move:
            return .move(try reader.reference(context: context), by: try reader.point())
        case .restyle:
            return .restyle(try reader.reference(context: context), try reader.style())
        case .delete:
            return .delete(try reader.reference(context: context))
        case .erase:
            return .erase(try reader.references(context: context))
        case .continueErasing:
            return .continueErasing(try reader.reference(context: context), try reader.references(context: context))
        case .eraseArea:
            return .eraseArea(try reader.area())
        case .continueErase:
            return .continueErase(try reader.reference(context: context), try reader.area())
        case .clear: return .clear
        case .undo: return .undo
        case .redo: return .redo
        }
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func point(_ point: Point) {
        signed(Int64(point.x))
        signed(Int64(point.y))
    }

    /// Each point as its difference from the one before (the first from
    /// (0, 0)): how an extend and a snapshot write a stroke's points.
    mutating func deltas(_ points: some Sequence<Point>) {
        var previous = Point.zero
        for point in points {
            signed(Int64(point.x) - Int64(previous.x))
            signed(Int64(point.y) - Int64(previous.y))
            previous = point
        }
    }

    /// An area: its top-left corner, then its extent.
    mutating func area(_ rect: Rect) {
        point(Point(rect.minX, rect.minY))
        signed(Int64(rect.maxX) - Int64(rect.minX))
        signed(Int64(rect.maxY) - Int64(rect.minY))
    }

    mutating func style(_ style: Style) {
        byte(style.color)
        switch style.brush {
        case .solid: byte(style.filled ? 1 : 0)
        case .glyph(let scalar):
            byte(style.filled ? 3 : 2)
            varint(UInt64(scalar.value))
        }
    }

    /// Even: the seq distance back to an element of the same origin; 1: an
    /// element of another origin, whose id follows in full.
    mutating func reference(_ id: ElementID, context: UpdateID) {
        if id.origin == context.origin && id.seq < context.seq {
            varint((context.seq - id.seq) << 1)
        } else {
            varint(1)
            self.id(id)
        }
    }

    /// A count, then each element as a ``reference(_:context:)``.
    mutating func references(_ ids: [ElementID], context: UpdateID) {
        varint(UInt64(ids.count))
        for id in ids { reference(id, context: context) }
    }
}

struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    /// A reader of `bytes`, sharing their storage (no copy).
    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// A reader of `bytes`: no copy when they are an array or a slice of one.
    init(_ bytes: some Collection<UInt8>) {
        if let slice = bytes as? ArraySlice<UInt8> {
            self.init(slice)
        } else if let array = bytes as? [UInt8] {
            self.init(array[...])
        } else {
            self.init(Array(bytes)[...])
        }
    }

    var remaining: Int { bytes.endIndex - position }

    mutating func byte() throws(BoardCodecError) -> UInt8 {
        guard position < bytes.endIndex else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) throws(BoardCodecError) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw .truncated }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func varint() throws(BoardCodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64, shift != 63 || next <= 1 else { throw .varintOverflow }
            result |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func signed() throws(BoardCodecError) -> Int64 {
        Self.unzigzag(try varint())
    }

    /// The signed value a zigzag-encoded varint holds.
    @inline(__always)
    static func unzigzag(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    func coordinate(adding delta: Int64, to base: Int32) throws(BoardCodecError) -> Int32 {
        let (sum, overflow) = Int64(base).addingReportingOverflow(delta)
        guard !overflow, let value = Int32(exactly: sum) else { throw .valueOutOfRange("coordinate") }
        return value
    }

    mutating func point() throws(BoardCodecError) -> Point {
        Point(try coordinate(adding: try signed(), to: 0), try coordinate(adding: try signed(), to: 0))
    }

    /// An area written by ``ByteWriter/area(_:)``.
    mutating func area() throws(BoardCodecError) -> Rect {
        let corner = try point()
        let maxX = try coordinate(adding: try signed(), to: corner.x)
        let maxY = try coordinate(adding: try signed(), to: corner.y)
        return Rect(minX: corner.x, minY: corner.y, maxX: maxX, maxY: maxY)
    }

    mutating func style() throws(BoardCodecError) -> Style {
        let color = try byte()
        let flags = try byte()
        guard flags <= 3 else { throw .valueOutOfRange("style flags") }
        var brush = Brush.solid
        if flags & 2 != 0 {
            let raw = try varint()
            guard raw <= UInt64(UInt32.max), let scalar = Unicode.Scalar(UInt32(raw)) else { throw .invalidText }
            brush = .glyph(scalar)
        }
        return Style(color: color, brush: brush, filled: flags & 1 != 0)
    }

    mutating func reference(context: UpdateID) throws(BoardCodecError) -> ElementID {
        let tag = try varint()
        if tag == 1 { return try id() }
        guard tag & 1 == 0, tag >> 1 >= 1, tag >> 1 < context.seq else { throw .valueOutOfRange("element reference") }
        return ElementID(origin: context.origin, seq: context.seq - (tag >> 1))
    }

    /// Elements written by ``ByteWriter/references(_:context:)``.
    mutating func references(context: UpdateID) throws(BoardCodecError) -> [ElementID] {
        let count = try varint()
        // Every reference takes at least one byte.
        guard count >= 1, count <= UInt64(BoardActionCodec.maxDecodedErasedElements), count <= UInt64(remaining)
        else { throw .valueOutOfRange("element count") }
        var ids: [ElementID] = []
        ids.reserveCapacity(Int(count))
        for _ in 0..<count { ids.append(try reference(context: context)) }
        return ids
    }
}

extension ByteWriter {
    mutating func peer(_ peer: PeerID) {
        withUnsafeBytes(of: peer.rawValue.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func id(_ id: UpdateID) {
        peer(id.origin)
        varint(id.seq)
    }

    mutating func key(_ key: OrderKey) {
        varint(key.timestamp.rawValue)
        peer(key.origin)
    }

    mutating func rect(_ rect: Rect) {
        point(Point(rect.minX, rect.minY))
        point(Point(rect.maxX, rect.maxY))
    }
}

extension ByteReader {
    mutating func count(_ field: String) throws(BoardCodecError) -> Int {
        let value = try varint()
        // Every counted item takes at least one byte.
        guard value <= UInt64(BoardSnapshotCodec.maxCount), value <= UInt64(remaining) else {
            throw .valueOutOfRange(field)
        }
        return Int(value)
    }

    mutating func peer() throws(BoardCodecError) -> PeerID {
        var raw: UInt64 = 0
        for (index, byte) in try take(8).enumerated() { raw |= UInt64(byte) << (8 * UInt64(index)) }
        return PeerID(raw)
    }

    mutating func id() throws(BoardCodecError) -> UpdateID {
        UpdateID(origin: try peer(), seq: try varint())
    }

    mutating func key() throws(BoardCodecError) -> OrderKey {
        let timestamp = Timestamp(try varint())
        return OrderKey(timestamp: timestamp, origin: try peer())
    }

    mutating func rect() throws(BoardCodecError) -> Rect {
        let low = try point()
        let high = try point()
        return Rect(minX: low.x, minY: low.y, maxX: high.x, maxY: high.y)
    }
}
