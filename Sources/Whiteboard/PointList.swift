import HashTreeCollections

/// The points of a stroke: a persistent, append-only list in small chunks.
///
/// A stroke grows one extend at a time while snapshots share the board. A
/// plain array inside the board would be copied whole on the first append
/// after each snapshot — O(length) per extend, O(n²) per stroke. Here an
/// append copies at most one chunk.
///
/// A list decoded from a board snapshot keeps its points encoded (a slice
/// of the snapshot's bytes, zigzag varint deltas) until it is first
/// appended to: a late joiner decodes a board without decoding every point
/// of every stroke, and iteration decodes on the fly.
///
/// - Complexity: Append O(chunk size), or O(count) the first time for an
///   encoded list; iteration O(count).
public struct PointList: Sendable, Equatable, Sequence {
    /// Points per chunk.
    static let chunkSize = 32

    private var chunks: TreeDictionary<Int32, ContiguousArray<Point>> = [:]
    /// The points as a snapshot encoded them, while nothing was appended.
    private var encoded: ArraySlice<UInt8>?
    /// The number of points.
    public private(set) var count = 0
    /// The last point appended.
    public private(set) var last: Point?

    /// An empty list.
    public init() {}

    /// A list of `points`, built a chunk at a time (one tree insert per
    /// chunk, not per point).
    public init(_ points: some Collection<Point>) {
        var chunk = ContiguousArray<Point>()
        chunk.reserveCapacity(Swift.min(Self.chunkSize, points.count))
        for point in points {
            chunk.append(point)
            count += 1
            last = point
            if chunk.count == Self.chunkSize {
                chunks[Int32(count / Self.chunkSize - 1)] = chunk
                chunk = []
                chunk.reserveCapacity(Swift.min(Self.chunkSize, points.count - count))
            }
        }
        if !chunk.isEmpty { chunks[Int32(count / Self.chunkSize)] = chunk }
    }

    /// A list of `count` points held as `bytes`: a zigzag varint delta per
    /// coordinate, x then y, the first point relative to (0, 0), exactly
    /// as ``encodedBytes`` gives them back. The caller has checked that the
    /// bytes hold exactly `count` such pairs and that `last` is the last.
    init(count: Int, last: Point?, encoded bytes: ArraySlice<UInt8>) {
        self.count = count
        self.last = last
        self.encoded = count == 0 ? nil : bytes
    }

    /// The points' bytes when the list still holds them encoded.
    var encodedBytes: ArraySlice<UInt8>? { encoded }

    /// Appends a point.
    public mutating func append(_ point: Point) {
        if encoded != nil { self = PointList(Array(self)) }
        let chunk = Int32(count / Self.chunkSize)
        chunks[chunk, default: []].append(point)
        count += 1
        last = point
    }

    /// Iterates over the points in order.
    public func makeIterator() -> Iterator {
        Iterator(list: self)
    }

    /// Walks a ``PointList`` chunk by chunk, or decodes it as it goes.
    public struct Iterator: IteratorProtocol {
        let list: PointList
        var chunkIndex: Int32 = 0
        var chunk: ContiguousArray<Point> = []
        var offset = 0
        var produced = 0
        /// The encoded points (empty for a list in chunks), where the next
        /// one starts, and the point before it.
        let bytes: ArraySlice<UInt8>
        var position: Int
        var previous = Point.zero

        init(list: PointList) {
            self.list = list
            bytes = list.encoded ?? []
            position = bytes.startIndex
        }

        /// The next point, or nil at the end.
        public mutating func next() -> Point? {
            guard produced < list.count else { return nil }
            defer { produced += 1 }
            if !bytes.isEmpty {
                previous = Point(previous.x &+ nextDelta(), previous.y &+ nextDelta())
                return previous
            }
            if offset == chunk.count {
                chunk = list.chunks[chunkIndex] ?? []
                chunkIndex += 1
                offset = 0
            }
            defer { offset += 1 }
            return chunk[offset]
        }

        /// One zigzag varint of a checked encoding, as a 32-bit delta
        /// (wrapping: only a hostile encoder makes it overflow).
        mutating func nextDelta() -> Int32 {
            var raw: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = bytes[position]
                position += 1
                raw |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
            }
            return Int32(truncatingIfNeeded: ByteReader.unzigzag(raw))
        }
    }

    /// Whether the two lists hold the same points.
    public static func == (lhs: PointList, rhs: PointList) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}
