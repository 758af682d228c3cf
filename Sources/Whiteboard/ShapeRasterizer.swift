/// The pixels of each shape, clipped before they are walked so that a huge
/// shape costs what its visible part costs.
enum ShapeRasterizer {
    /// Calls `plot` for every pixel of `shape` (moved by `shift`) inside `clip`.
    static func forEachPixel(
        of shape: Shape, shift: (Int64, Int64), filled: Bool, clip: PixelClip, plot: (Int, Int) -> Void
    ) {
        func at(_ point: Point) -> (Int64, Int64) { (Int64(point.x) + shift.0, Int64(point.y) + shift.1) }
        switch shape {
        case .stroke(let points):
            var iterator = points.makeIterator()
            guard var previous = iterator.next().map(at) else { return }
            line(from: previous, to: previous, clip: clip, plot: plot)
            while let next = iterator.next().map(at) {
                line(from: previous, to: next, clip: clip, plot: plot)
                previous = next
            }
        case .line(let a, let b):
            line(from: at(a), to: at(b), clip: clip, plot: plot)
        case .rectangle(let rect):
            let (minX, minY) = at(Point(rect.minX, rect.minY))
            let (maxX, maxY) = at(Point(rect.maxX, rect.maxY))
            if filled {
                span(minX...maxX, minY...maxY, clip: clip) { x, y in plot(x, y) }
            } else {
                span(minX...maxX, minY...maxY, clip: clip) { x, y in
                    if Int64(x) == minX || Int64(x) == maxX || Int64(y) == minY || Int64(y) == maxY { plot(x, y) }
                }
            }
        case .ellipse(let rect):
            let (minX, minY) = at(Point(rect.minX, rect.minY))
            let (maxX, maxY) = at(Point(rect.maxX, rect.maxY))
            let inside = ellipseTest(minX: minX, minY: minY, maxX: maxX, maxY: maxY)
            span(minX...maxX, minY...maxY, clip: clip) { x, y in
                let (x64, y64) = (Int64(x), Int64(y))
                guard inside(x64, y64) else { return }
                if filled || !inside(x64 - 1, y64) || !inside(x64 + 1, y64) || !inside(x64, y64 - 1)
                    || !inside(x64, y64 + 1)
                {
                    plot(x, y)
                }
            }
        case .text:
            break
        }
    }

    /// Whether the pixel centre lies in the ellipse inscribed in the box.
    static func ellipseTest(minX: Int64, minY: Int64, maxX: Int64, maxY: Int64) -> (Int64, Int64) -> Bool {
        let width = Double(maxX - minX + 1)
        let height = Double(maxY - minY + 1)
        let centerX = Double(minX + maxX + 1) / 2
        let centerY = Double(minY + maxY + 1) / 2
        return { x, y in
            let dx = (Double(x) + 0.5 - centerX) / (width / 2)
            let dy = (Double(y) + 0.5 - centerY) / (height / 2)
            return dx * dx + dy * dy <= 1
        }
    }

    /// Walks the part of a box inside the clip.
    static func span(_ xs: ClosedRange<Int64>, _ ys: ClosedRange<Int64>, clip: PixelClip, _ body: (Int, Int) -> Void) {
        let minX = max(xs.lowerBound, Int64(clip.minX))
        let maxX = min(xs.upperBound, Int64(clip.maxX))
        let minY = max(ys.lowerBound, Int64(clip.minY))
        let maxY = min(ys.upperBound, Int64(clip.maxY))
        guard minX <= maxX, minY <= maxY else { return }
        for y in minY...maxY {
            for x in minX...maxX { body(Int(x), Int(y)) }
        }
    }

    /// The pixels of a line: along the major axis, one pixel per step, the
    /// other coordinate rounded exactly (halves away from the start). The
    /// pixels depend only on the endpoints — never on the clip, which only
    /// limits the part walked — so a region repaint draws exactly what a
    /// full render does, and an off-screen length costs nothing.
    static func line(from a: (Int64, Int64), to b: (Int64, Int64), clip: PixelClip, plot: (Int, Int) -> Void) {
        let dx = b.0 - a.0
        let dy = b.1 - a.1
        if abs(dx) >= abs(dy) {
            guard dx != 0 else {
                if clip.contains(a.0, a.1) { plot(Int(a.0), Int(a.1)) }
                return
            }
            let (start, end) = dx > 0 ? (a, b) : (b, a)
            let run = end.0 - start.0
            let rise = end.1 - start.1
            let first = max(start.0, Int64(clip.minX))
            let last = min(end.0, Int64(clip.maxX))
            guard first <= last else { return }
            for x in first...last {
                let y = start.1 + roundedDivision((x - start.0) * rise, run)
                if y >= Int64(clip.minY) && y <= Int64(clip.maxY) { plot(Int(x), Int(y)) }
            }
        } else {
            let (start, end) = dy > 0 ? (a, b) : (b, a)
            let run = end.1 - start.1
            let rise = end.0 - start.0
            let first = max(start.1, Int64(clip.minY))
            let last = min(end.1, Int64(clip.maxY))
            guard first <= last else { return }
            for y in first...last {
                let x = start.0 + roundedDivision((y - start.1) * rise, run)
                if x >= Int64(clip.minX) && x <= Int64(clip.maxX) { plot(Int(x), Int(y)) }
            }
        }
    }

    /// `numerator / denominator` rounded to the nearest integer, halves up;
    /// `denominator` must be positive.
    static func roundedDivision(_ numerator: Int64, _ denominator: Int64) -> Int64 {
        let twice = 2 * numerator + denominator
        let quotient = twice / (2 * denominator)
        return twice % (2 * denominator) != 0 && twice < 0 ? quotient - 1 : quotient
    }
}
