/// The points of a stroke: a persistent, append-only list in small chunks.
///
/// A stroke grows one extend at a time while snapshots share the board. A
/// plain array inside the board would be copied whole on the first append
/// after each snapshot — O(length) per extend, O(n²) per stroke. Here the
/// points live in full chunks of 32, shared once full, and a tail of fewer
/// than 32 that appends go to: an append after a snapshot copies at most
/// the tail, and a full tail joins the chunks (copying that array of chunk
/// references, ≤ 625 for the longest stroke allowed, once per 32 points).
///
/// A list decoded from a board snapshot keeps its points encoded (a slice
/// of the snapshot's bytes, zigzag varint deltas) until it is first
/// appended to: a late joiner decodes a board without decoding every point
/// of every stroke, and iteration decodes on the fly.
///
/// - Complexity: Append amortized O(1) plus the copies above, or O(count)
///   the first time for an encoded list; iteration O(count).
public struct PointList: Sendable, Equatable, Sequence {
    /// Points per chunk.
    static let chunkSize = 32

    /// Full chunks of ``chunkSize`` points, oldest first.
    private var chunks: ContiguousArray<ContiguousArray<Point>> = []
    /// The points after the full chunks: fewer than ``chunkSize``.
    private var tail: ContiguousArray<Point> = []
    /// The points as a snapshot encoded them, while nothing was appended
    /// (inline, not boxed: a late joiner decodes one list per stroke).
    private var encoded: ArraySlice<UInt8>?
    /// The last of the encoded points.
    private var encodedLast = Point.zero
    /// The number of points.
    public private(set) var count = 0

    /// An empty list.
    public init() {}

    /// A list of `points`.
    public init(_ points: some Collection<Point>) {
        for point in points { append(point) }
    }

    /// A list of `count` points held as `bytes`: a zigzag varint delta per
    /// coordinate, x then y, the first point relative to (0, 0), exactly
    /// as ``encodedBytes`` gives them back. The caller has checked that the
    /// bytes hold exactly `count` such pairs and that `last` is the last.
    init(count: Int, last: Point?, encoded bytes: ArraySlice<UInt8>) {
        self.count = count
        if count > 0, let last {
            encoded = bytes
            encodedLast = last
        }
    }

    /// The points' bytes when the list still holds them encoded.
    var encodedBytes: ArraySlice<UInt8>? { encoded }

    /// The last point.
    public var last: Point? { encoded != nil ? encodedLast : tail.last ?? chunks.last?.last }

    /// Appends a point.
    public mutating func append(_ point: Point) {
        if encoded != nil { self = PointList(Array(self)) }
        tail.append(point)
        count += 1
        if tail.count == Self.chunkSize {
            chunks.append(tail)
            tail = []
        }
    }

    /// Iterates over the points in order.
    public func makeIterator() -> Iterator {
        Iterator(list: self)
    }

    /// Walks a ``PointList`` chunk by chunk, or decodes it as it goes.
    public struct Iterator: IteratorProtocol {
        let list: PointList
        /// The chunk being walked: `list.chunks.count` for the tail.
        var chunkIndex = 0
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
            if chunkIndex < list.chunks.count && offset == PointList.chunkSize {
                chunkIndex += 1
                offset = 0
            }
            defer { offset += 1 }
            return chunkIndex < list.chunks.count ? list.chunks[chunkIndex][offset] : list.tail[offset]
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
