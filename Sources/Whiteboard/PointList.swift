import HashTreeCollections

/// The points of a stroke: a persistent, append-only list in small chunks.
///
/// A stroke grows one extend at a time while snapshots share the board. A
/// plain array inside the board would be copied whole on the first append
/// after each snapshot — O(length) per extend, O(n²) per stroke. Here an
/// append copies at most one chunk.
///
/// - Complexity: Append O(chunk size); iteration O(count).
public struct PointList: Sendable, Equatable, Sequence {
    /// Points per chunk.
    static let chunkSize = 32

    private var chunks: TreeDictionary<Int32, ContiguousArray<Point>> = [:]
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
            if chunk.count == Self.chunkSize {
                chunks[Int32(count / Self.chunkSize - 1)] = chunk
                chunk = []
                chunk.reserveCapacity(Swift.min(Self.chunkSize, points.count - count))
            }
        }
        if !chunk.isEmpty { chunks[Int32(count / Self.chunkSize)] = chunk }
        last = chunk.last ?? chunks[Int32(count / Self.chunkSize - 1)]?.last
    }

    /// Appends a point.
    public mutating func append(_ point: Point) {
        let chunk = Int32(count / Self.chunkSize)
        chunks[chunk, default: []].append(point)
        count += 1
        last = point
    }

    /// Iterates over the points in order.
    public func makeIterator() -> Iterator {
        Iterator(list: self)
    }

    /// Walks a ``PointList`` chunk by chunk.
    public struct Iterator: IteratorProtocol {
        let list: PointList
        var chunkIndex: Int32 = 0
        var chunk: ContiguousArray<Point> = []
        var offset = 0
        var produced = 0

        init(list: PointList) {
            self.list = list
        }

        /// The next point, or nil at the end.
        public mutating func next() -> Point? {
            guard produced < list.count else { return nil }
            if offset == chunk.count {
                chunk = list.chunks[chunkIndex] ?? []
                chunkIndex += 1
                offset = 0
            }
            defer {
                offset += 1
                produced += 1
            }
            return chunk[offset]
        }
    }

    /// Whether the two lists hold the same points.
    public static func == (lhs: PointList, rhs: PointList) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}
