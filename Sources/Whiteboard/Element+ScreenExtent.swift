import Scuttlebutt

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
