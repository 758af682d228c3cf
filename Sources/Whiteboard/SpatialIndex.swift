import HashTreeCollections
import Synchronization

/// A grid over the canvas saying which elements lie where and when each part
/// last changed, so that an eraser's hit-test, viewport culling and repaint
/// look at the few elements near a point instead of the whole board.
///
/// The canvas is cut into 64 × 64-pixel tiles. An element belongs to every
/// tile its on-screen extent covers; an element covering more than
/// ``maxTilesPerElement`` tiles (a long line, a huge rectangle) is *wide* and
/// is listed once, apart. Each tile carries a stamp that changes whenever a
/// pixel in it may have changed, and each wide element carries a stamp that
/// changes with it; so two boards whose tiles show equal stamps show equal
/// pixels there, and ``Board/damage(since:in:)`` finds what to repaint by
/// comparing stamps.
///
/// Like the board, the index is persistent: a snapshot of an indexed board
/// costs O(1) and a rewind restores the index with the elements. It is
/// derived, not replicated: ``Board``'s equality, state hash and snapshots
/// ignore it, and stamps differ between replicas. Stamps come from one
/// process-wide counter, so a stamp names one change in one board's
/// history, and after a rewind the replayed changes get new stamps.
struct SpatialIndex: Sendable {
    /// A tile's position: canvas pixels divided by the tile size, rounded down.
    struct Tile: Hashable, Sendable {
        let x: Int32
        let y: Int32
    }

    /// log2 of the tile's side in canvas pixels.
    static let tileShift: Int32 = 6
    /// An element covering more tiles than this is kept in ``wide``.
    static let maxTilesPerElement: Int64 = 64
    /// A query over more tiles than this (about 8 braille screens) walks
    /// the buckets instead of the tiles.
    static let maxTilesPerQuery: Int64 = 4_096

    /// The elements (not wide) whose extent covers each tile.
    private(set) var members: TreeDictionary<Tile, TreeSet<ElementID>> = [:]
    /// Each tile's stamp, renewed whenever a pixel of it may have changed.
    /// Apart from ``members`` because it changes far more often (every
    /// extend), and a node of plain integers copies without reference
    /// counting (on W1 pen-like, restamping tiles that also held their
    /// members spent most of the index's time retaining and releasing).
    private(set) var stamps: TreeDictionary<Tile, UInt64> = [:]
    /// Wide elements, each with the stamp of its latest change.
    private(set) var wide: TreeDictionary<ElementID, UInt64> = [:]

    /// An index of `elements`.
    init(_ elements: ElementTable) {
        for element in elements.values { update(from: nil, to: element, changed: []) }
    }

    // MARK: Keeping up with the board

    /// Records that `old` became `new` (`old` nil for a new element). The
    /// pixels that may differ are those of both extents, unless `changed`
    /// names them more narrowly (a stroke's new segment).
    mutating func update(from old: Element?, to new: Element, changed narrow: [Rect]) {
        let oldExtent = old?.screenExtent
        let newExtent = new.screenExtent
        let oldTiles = oldExtent.flatMap { Self.tiles(covering: $0, limit: Self.maxTilesPerElement) }
        let newTiles = Self.tiles(covering: newExtent, limit: Self.maxTilesPerElement)
        if oldTiles != newTiles {
            if let oldTiles {
                for tile in oldTiles.all where newTiles?.contains(tile) != true { leave(tile, new.id) }
            }
            if let newTiles {
                for tile in newTiles.all where oldTiles?.contains(tile) != true { join(tile, new.id) }
            }
        }
        let wasWide = oldExtent != nil && oldTiles == nil
        if newTiles == nil, !wasWide { wide[new.id] = Self.freshStamp() }
        let damaged = oldExtent.map { narrow.isEmpty ? [$0, newExtent] : narrow } ?? [newExtent]
        for region in damaged {
            if let covered = Self.tiles(covering: region, limit: Self.maxTilesPerElement) {
                for tile in covered.all { restamp(tile) }
            } else {
                wide[new.id] = Self.freshStamp()
            }
        }
        if newTiles != nil, wasWide { wide[new.id] = nil }
    }

    /// Forgets an element removed from the board. Only hidden elements are
    /// removed, so no pixel changes and no tile is restamped.
    mutating func remove(_ element: Element) {
        if let covered = Self.tiles(covering: element.screenExtent, limit: Self.maxTilesPerElement) {
            for tile in covered.all { leave(tile, element.id) }
        } else {
            wide[element.id] = nil
        }
    }

    private mutating func join(_ tile: Tile, _ id: ElementID) {
        members[tile, default: []].insert(id)
    }

    private mutating func leave(_ tile: Tile, _ id: ElementID) {
        if members.mutateValue(forKey: tile, { $0.remove(id) != nil && $0.isEmpty }) == true {
            members[tile] = nil
        }
    }

    private mutating func restamp(_ tile: Tile) {
        stamps[tile] = Self.freshStamp()
    }

    // MARK: Queries

    /// The ids of elements whose extent may meet `area`: every element that
    /// does, and some that only come near, each once; or nil when the tiles
    /// of the area list more than `limit` elements (then a scan of every
    /// element costs less than gathering them).
    func candidates(near area: Rect, limit: Int) -> [ElementID]? {
        guard let covered = Self.tiles(covering: area, limit: Self.maxTilesPerQuery) else { return nil }
        var buckets: [TreeSet<ElementID>] = []
        var listed = wide.count
        for tile in covered.all {
            guard let bucket = members[tile] else { continue }
            listed += bucket.count
            guard listed <= limit else { return nil }
            buckets.append(bucket)
        }
        var found = Array(wide.keys)
        if buckets.count == 1 {
            found.append(contentsOf: buckets[0])
        } else {
            var seen = Set<ElementID>(minimumCapacity: listed)
            for bucket in buckets {
                for id in bucket where seen.insert(id).inserted { found.append(id) }
            }
        }
        return found
    }

    /// Where pixels may differ between a board indexed by `earlier` and one
    /// indexed by `self`, within `area`: tiles whose stamps differ, and the
    /// extents (in both boards) of wide elements that changed.
    func damage(
        since earlier: SpatialIndex, in area: Rect, extent: (ElementID) -> (before: Rect?, after: Rect?)
    ) -> [Rect] {
        var damaged: [Rect] = []
        if let covered = Self.tiles(covering: area, limit: Self.maxTilesPerQuery) {
            for y in covered.rows {
                var run: ClosedRange<Int32>?
                for x in covered.columns {
                    let tile = Tile(x: x, y: y)
                    if stamps[tile] != earlier.stamps[tile] {
                        run = run.map { $0.lowerBound...x } ?? x...x
                    } else if let done = run {
                        damaged.append(Self.rect(columns: done, row: y))
                        run = nil
                    }
                }
                if let run { damaged.append(Self.rect(columns: run, row: y)) }
            }
        } else {
            damaged.append(area)
        }
        if wide != earlier.wide {
            for (id, stamp) in wide where earlier.wide[id] != stamp {
                damaged.append(contentsOf: [extent(id).before, extent(id).after].compactMap { $0 })
            }
            for id in earlier.wide.keys where wide[id] == nil {
                damaged.append(contentsOf: [extent(id).before, extent(id).after].compactMap { $0 })
            }
        }
        return damaged.filter { $0.intersects(area) }
    }

    // MARK: Tiles

    /// The tiles a rectangle covers.
    struct TileRange: Equatable {
        let columns: ClosedRange<Int32>
        let rows: ClosedRange<Int32>

        var all: some Sequence<Tile> {
            rows.lazy.flatMap { y in columns.lazy.map { x in Tile(x: x, y: y) } }
        }

        func contains(_ tile: Tile) -> Bool { columns.contains(tile.x) && rows.contains(tile.y) }
    }

    /// The tiles `rect` covers, or nil when they are more than `limit` (or
    /// the rectangle wrapped around the canvas).
    static func tiles(covering rect: Rect, limit: Int64) -> TileRange? {
        guard rect.minX <= rect.maxX, rect.minY <= rect.maxY else { return nil }
        let columns = (rect.minX >> tileShift)...(rect.maxX >> tileShift)
        let rows = (rect.minY >> tileShift)...(rect.maxY >> tileShift)
        let count =
            (Int64(columns.upperBound) - Int64(columns.lowerBound) + 1)
            * (Int64(rows.upperBound) - Int64(rows.lowerBound) + 1)
        guard count <= limit else { return nil }
        return TileRange(columns: columns, rows: rows)
    }

    /// The canvas pixels of a run of tiles in one row.
    static func rect(columns: ClosedRange<Int32>, row: Int32) -> Rect {
        let size: Int32 = 1 << tileShift
        return Rect(
            minX: columns.lowerBound &* size, minY: row &* size, maxX: columns.upperBound &* size &+ (size - 1),
            maxY: row &* size &+ (size - 1))
    }

    private static let stamps = Atomic<UInt64>(0)

    /// A stamp no other change has had.
    static func freshStamp() -> UInt64 {
        stamps.add(1, ordering: .relaxed).newValue
    }
}
