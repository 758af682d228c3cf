import Scuttlebutt

extension BoardReducer {
    /// The canvas region `update` changed when applied to `before` (giving
    /// `after`), for incremental rendering; `nil` when it may have changed
    /// anything (an area erase, clear, undo, redo), which calls for a full
    /// render.
    ///
    /// Text regions are widened to cover braille mode, where a character
    /// spans two canvas pixels.
    public static func dirtyRect(of update: Update<BoardAction>, before: Board, after: Board) -> Rect? {
        switch update.action {
        case .extendStroke(let id, let points):
            guard let element = after.elements[id], let first = points.first else { return nil }
            var region = Rect(first)
            if case .stroke(let previous) = before.elements[id]?.shape, let last = previous.last {
                region = region.union(last)
            }
            for point in points { region = region.union(point) }
            return region.offset(by: element.offset)
        case .beginStroke, .addShape, .addText:
            return after.elements[update.id].map(\.screenExtent)
        case .endStroke(let id), .move(let id, _), .restyle(let id, _), .delete(let id):
            return union(of: [before.elements[id]?.screenExtent, after.elements[id]?.screenExtent].compactMap { $0 })
        case .erase(let ids), .continueErasing(_, let ids):
            return union(of: ids.compactMap { before.elements[$0]?.screenExtent })
        case .eraseArea, .continueErase, .clear, .undo, .redo:
            return nil
        }
    }
}

/// The smallest rectangle holding all of `regions`, or nil when there are none.
private func union(of regions: [Rect]) -> Rect? {
    regions.dropFirst().reduce(regions.first) { $0?.union($1) }
}

extension Element {
    /// ``bounds``, with text widened to two pixels per character and two
    /// rows, so that it covers the text in every raster mode.
    var screenExtent: Rect {
        guard case .text(let origin, let text) = shape else { return bounds }
        let start = origin.offset(by: offset)
        let width = Int32(max(text.unicodeScalars.count, 1)) * 2
        return Rect(minX: start.x, minY: start.y, maxX: start.x &+ width &- 1, maxY: start.y &+ 3)
    }
}

extension Board {
    /// The smallest rectangle holding every visible element, or nil when
    /// nothing is visible.
    public var visibleBounds: Rect? {
        elements.values.lazy.filter(\.isVisible).map(\.screenExtent).reduce(nil) { $0?.union($1) ?? $1 }
    }
}
