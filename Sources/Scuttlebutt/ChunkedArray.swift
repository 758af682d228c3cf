/// An array stored as a sequence of small chunks, so that inserting or
/// removing near the end of a long array moves at most one chunk of
/// elements, not everything after the position.
///
/// The timeline inserts late updates a few places from the end of a history
/// that may hold hundreds of thousands of entries; with a flat array or
/// `Deque`, an insert `d` places from the end moves `d` elements.
///
/// - Complexity: Access by index O(log(n / chunkCapacity)). Insert or remove
///   at an index `d` places from the end: O(chunkCapacity + d / chunkCapacity).
///   Append O(1) amortized. Removing `k` elements from the front:
///   O(k + n / chunkCapacity).
@usableFromInline
struct ChunkedArray<Element> {
    /// A chunk splits in two when it would grow past this.
    @usableFromInline static var chunkCapacity: Int { 64 }

    @usableFromInline var chunks: [[Element]] = []
    /// `starts[j]` is the index of `chunks[j].first`.
    @usableFromInline var starts: [Int] = []
    @usableFromInline var storedCount = 0

    @inlinable
    init() {}

    /// The chunk holding `position`, and the offset inside it.
    /// - Precondition: `0 ≤ position < count`.
    @inlinable
    func locate(_ position: Int) -> (chunk: Int, offset: Int) {
        // Most accesses are near the end: check the last chunk first.
        let last = starts.count - 1
        if position >= starts[last] { return (last, position - starts[last]) }
        // Gallop back from the end, then search between the last two probes:
        // O(log(distance from the end)), not O(log n).
        var high = last - 1
        var step = 1
        var low = Swift.max(0, last - step)
        while low > 0 && starts[low] > position {
            high = low - 1
            step *= 2
            low = Swift.max(0, last - step)
        }
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= position { low = middle } else { high = middle - 1 }
        }
        return (low, position - starts[low])
    }

    /// The position after (`chunk`, `offset`), as a chunk and offset.
    @inlinable
    func advance(_ chunk: inout Int, _ offset: inout Int) {
        offset += 1
        if offset == chunks[chunk].count {
            chunk += 1
            offset = 0
        }
    }

    /// Calls `body` with each element in `range`, walking chunk by chunk.
    /// - Complexity: O(log(n / chunkCapacity) + range.count).
    @inlinable
    func forEach(in range: Range<Int>, _ body: (Element) -> Void) {
        guard !range.isEmpty else { return }
        var (chunk, offset) = locate(range.lowerBound)
        for _ in range {
            body(chunks[chunk][offset])
            advance(&chunk, &offset)
        }
    }

    @inlinable
    mutating func shiftStarts(after chunk: Int, by delta: Int) {
        var index = chunk + 1
        while index < starts.count {
            starts[index] += delta
            index += 1
        }
    }

    @inlinable
    mutating func append(_ element: Element) {
        if let last = chunks.indices.last, chunks[last].count < Self.chunkCapacity {
            chunks[last].append(element)
        } else {
            chunks.append([element])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkCapacity)
            starts.append(storedCount)
        }
        storedCount += 1
    }

    @inlinable
    mutating func insert(_ element: Element, at position: Int) {
        precondition(position >= 0 && position <= storedCount, "index out of range")
        if position == storedCount {
            append(element)
            return
        }
        let (chunk, offset) = locate(position)
        chunks[chunk].insert(element, at: offset)
        storedCount += 1
        shiftStarts(after: chunk, by: 1)
        if chunks[chunk].count > Self.chunkCapacity {
            let half = chunks[chunk].count / 2
            let tail = Array(chunks[chunk][half...])
            chunks[chunk].removeSubrange(half...)
            chunks.insert(tail, at: chunk + 1)
            starts.insert(starts[chunk] + half, at: chunk + 1)
        }
    }

    @inlinable @discardableResult
    mutating func remove(at position: Int) -> Element {
        precondition(position >= 0 && position < storedCount, "index out of range")
        let (chunk, offset) = locate(position)
        let removed = chunks[chunk].remove(at: offset)
        storedCount -= 1
        shiftStarts(after: chunk, by: -1)
        if chunks[chunk].isEmpty {
            chunks.remove(at: chunk)
            starts.remove(at: chunk)
        }
        return removed
    }

    @inlinable
    mutating func removeFirst(_ k: Int) {
        precondition(k >= 0 && k <= storedCount, "cannot remove more elements than there are")
        guard k > 0 else { return }
        var remaining = k
        var whole = 0
        while whole < chunks.count && chunks[whole].count <= remaining {
            remaining -= chunks[whole].count
            whole += 1
        }
        chunks.removeFirst(whole)
        if remaining > 0 { chunks[0].removeFirst(remaining) }
        storedCount -= k
        starts.removeAll(keepingCapacity: true)
        var start = 0
        for chunk in chunks {
            starts.append(start)
            start += chunk.count
        }
    }
}

extension ChunkedArray: RandomAccessCollection, MutableCollection {
    @inlinable var startIndex: Int { 0 }
    @inlinable var endIndex: Int { storedCount }
    @inlinable var count: Int { storedCount }
    @inlinable var isEmpty: Bool { storedCount == 0 }

    @inlinable
    subscript(position: Int) -> Element {
        get {
            let (chunk, offset) = locate(position)
            return chunks[chunk][offset]
        }
        _modify {
            let (chunk, offset) = locate(position)
            yield &chunks[chunk][offset]
        }
    }

    @inlinable var last: Element? {
        guard let chunk = chunks.last else { return nil }
        return chunk.last
    }
}
