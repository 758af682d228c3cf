import HashTreeCollections
import Scuttlebutt

/// A whole ``Board`` as bytes and back: what a checkpoint stores, so that a
/// room restarts (and a late joiner starts) from a snapshot plus the suffix
/// of the log instead of replaying everything.
///
/// The encoding is canonical (elements by id, histories by origin), so equal
/// boards give equal bytes. Decoding checks every length and value and
/// throws ``BoardCodecError`` rather than trap.
public enum BoardSnapshotCodec {
    /// The format version written first. Version 1 wrote a stroke's points
    /// only; version 2 adds its bounds, last point and byte length before
    /// them, so that a decoder can keep them encoded (``PointList``);
    /// version 3 adds an element's ``Element/restyleFloor`` after its
    /// restyles, when it has any. All three are read.
    static let version: UInt8 = 3
    /// Bounds on counts read from untrusted bytes.
    static let maxCount = 1 << 24

    /// The bytes of `board`.
    public static func encode(_ board: Board) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(version)
        let elements = board.elements.values.sorted { ($0.id.origin, $0.id.seq) < ($1.id.origin, $1.id.seq) }
        writer.varint(UInt64(elements.count))
        for element in elements { write(element, into: &writer) }
        let histories = board.undoHistories.sorted { $0.key < $1.key }
        writer.varint(UInt64(histories.count))
        for (origin, history) in histories {
            writer.peer(origin)
            for records in [history.undoable, history.redoable] {
                writer.varint(UInt64(records.count))
                for record in records { write(record, into: &writer) }
            }
        }
        return writer.bytes
    }

    /// The board `bytes` hold.
    /// - Throws: ``BoardCodecError`` for anything malformed.
    public static func decode(_ bytes: some Collection<UInt8>) throws(BoardCodecError) -> Board {
        var reader = ByteReader(bytes)
        let format = try reader.byte()
        guard (1...version).contains(format) else { throw .valueOutOfRange("snapshot version") }
        var board = Board()
        for _ in 0..<(try reader.count("element count")) {
            let element = try readElement(&reader, format: format)
            board.insert(element)
        }
        for _ in 0..<(try reader.count("history count")) {
            let origin = try reader.peer()
            var lists: [[UndoRecord]] = []
            for _ in 0..<2 {
                var records: [UndoRecord] = []
                for _ in 0..<(try reader.count("undo record count")) { records.append(try readRecord(&reader)) }
                lists.append(records)
            }
            board.undoHistories[origin] = UndoHistory(undoable: lists[0], redoable: lists[1])
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return board
    }

    // MARK: Elements

    static func write(_ element: Element, into writer: inout ByteWriter) {
        writer.id(element.id)
        writer.key(element.z)
        switch element.shape {
        case .stroke(let points):
            writer.byte(0)
            writer.varint(UInt64(points.count))
            writer.rect(element.shapeBounds)
            writer.point(points.last ?? .zero)
            if let bytes = points.encodedBytes {
                writer.varint(UInt64(bytes.count))
                writer.bytes.append(contentsOf: bytes)
            } else {
                var deltas = ByteWriter()
                deltas.deltas(points)
                writer.varint(UInt64(deltas.bytes.count))
                writer.bytes.append(contentsOf: deltas.bytes)
            }
        case .line(let a, let b):
            writer.byte(1)
            writer.point(a)
            writer.point(b)
        case .rectangle(let rect):
            writer.byte(2)
            writer.rect(rect)
        case .ellipse(let rect):
            writer.byte(3)
            writer.rect(rect)
        case .text(let origin, let text):
            writer.byte(4)
            writer.point(origin)
            writer.varint(UInt64(text.utf8.count))
            writer.bytes.append(contentsOf: text.utf8)
        }
        writer.style(element.createdStyle)
        let restyles = element.restyles.sorted { $0.value.key < $1.value.key }
        writer.varint(UInt64(restyles.count))
        for (id, write) in restyles {
            writer.id(id)
            writer.key(write.key)
            writer.style(write.style)
        }
        if !restyles.isEmpty {
            if let floor = element.restyleFloor {
                writer.byte(1)
                writer.key(floor)
            } else {
                writer.byte(0)
            }
        }
        writer.point(element.offset)
        let hiders = element.hiddenBy.sorted { ($0.origin, $0.seq) < ($1.origin, $1.seq) }
        writer.varint(UInt64(hiders.count))
        for id in hiders { writer.id(id) }
        writer.byte(element.isOpen ? 1 : 0)
    }

    static func readElement(_ reader: inout ByteReader, format: UInt8) throws(BoardCodecError) -> Element {
        let id = try reader.id()
        let z = try reader.key()
        let shape: Shape
        var strokeBounds: Rect?
        switch try reader.byte() {
        case 0 where format == 1:
            let count = try reader.count("stroke length")
            var points: [Point] = []
            points.reserveCapacity(count)
            var previous = Point.zero
            for _ in 0..<count {
                previous = Point(
                    try reader.coordinate(adding: try reader.signed(), to: previous.x),
                    try reader.coordinate(adding: try reader.signed(), to: previous.y))
                points.append(previous)
            }
            shape = .stroke(PointList(points))
        case 0:
            let count = try reader.count("stroke length")
            strokeBounds = try reader.rect()
            let last = try reader.point()
            let bytes = try reader.take(try reader.count("stroke bytes"))
            try checkDeltas(bytes, pairs: count)
            shape = .stroke(PointList(count: count, last: count == 0 ? nil : last, encoded: bytes))
        case 1: shape = .line(try reader.point(), try reader.point())
        case 2: shape = .rectangle(try reader.rect())
        case 3: shape = .ellipse(try reader.rect())
        case 4:
            let origin = try reader.point()
            let length = try reader.count("text length")
            guard let text = String(validating: try reader.take(length), as: UTF8.self) else { throw .invalidText }
            shape = .text(origin, text)
        default: throw .valueOutOfRange("shape")
        }
        let style = try reader.style()
        var element =
            strokeBounds.map { Element(id: id, z: z, shape: shape, style: style, shapeBounds: $0) }
            ?? Element(id: id, z: z, shape: shape, style: style)
        var restyles: [UpdateID: StyleWrite] = [:]
        for _ in 0..<(try reader.count("restyle count")) {
            let writeID = try reader.id()
            restyles[writeID] = StyleWrite(key: try reader.key(), style: try reader.style())
        }
        element.restyles = restyles
        if format >= 3, !restyles.isEmpty {
            switch try reader.byte() {
            case 0: break
            case 1:
                // The floor is a restyle in effect, never a place between them.
                let floor = try reader.key()
                guard restyles.values.contains(where: { $0.key == floor }) else {
                    throw .valueOutOfRange("restyle floor")
                }
                element.restyleFloor = floor
            default: throw .valueOutOfRange("restyle floor flag")
            }
        }
        element.offset = try reader.point()
        var hiders: Set<UpdateID> = []
        for _ in 0..<(try reader.count("hider count")) { hiders.insert(try reader.id()) }
        element.hiddenBy = hiders
        switch try reader.byte() {
        case 0: element.isOpen = false
        case 1: element.isOpen = true
        default: throw .valueOutOfRange("open flag")
        }
        return element
    }

    /// Checks that `bytes` are exactly `pairs` pairs of varints (the last
    /// byte ends one, and `2·pairs` bytes end one), so that a ``PointList``
    /// can decode them later without a check that could fail. Eight bytes
    /// at a time: a late joiner checks every stroke. Over-long or
    /// non-minimal varints are not refused: they decode, without trapping,
    /// to whatever their bits say, identically on every replica, and are
    /// written back as they came; only a hostile encoder writes them.
    static func checkDeltas(_ bytes: ArraySlice<UInt8>, pairs: Int) throws(BoardCodecError) {
        guard let lastByte = bytes.last, lastByte & 0x80 == 0 else {
            guard pairs == 0 && bytes.isEmpty else { throw .valueOutOfRange("stroke points") }
            return
        }
        let ends = bytes.withUnsafeBytes { raw in
            var ends = 0
            var offset = 0
            while offset + 8 <= raw.count {
                let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                ends += (~word & 0x8080_8080_8080_8080).nonzeroBitCount
                offset += 8
            }
            while offset < raw.count {
                if raw[offset] & 0x80 == 0 { ends += 1 }
                offset += 1
            }
            return ends
        }
        guard ends == 2 * pairs else { throw .valueOutOfRange("stroke points") }
    }

    // MARK: Undo records

    static func write(_ record: UndoRecord, into writer: inout ByteWriter) {
        switch record {
        case .created(let id):
            writer.byte(0)
            writer.id(id)
        case .moved(let id, let offset):
            writer.byte(1)
            writer.id(id)
            writer.point(offset)
        case .restyled(let id, let writeID, let write):
            writer.byte(2)
            writer.id(id)
            writer.id(writeID)
            writer.key(write.key)
            writer.style(write.style)
        case .hid(let ids, let by):
            writer.byte(3)
            writer.varint(UInt64(ids.count))
            for id in ids { writer.id(id) }
            writer.id(by)
        }
    }

    static func readRecord(_ reader: inout ByteReader) throws(BoardCodecError) -> UndoRecord {
        switch try reader.byte() {
        case 0: return .created(try reader.id())
        case 1: return .moved(try reader.id(), by: try reader.point())
        case 2:
            let id = try reader.id()
            let writeID = try reader.id()
            return .restyled(id, write: writeID, StyleWrite(key: try reader.key(), style: try reader.style()))
        case 3:
            var ids: [ElementID] = []
            for _ in 0..<(try reader.count("hidden count")) { ids.append(try reader.id()) }
            return .hid(ids, by: try reader.id())
        default: throw .valueOutOfRange("undo record")
        }
    }
}
