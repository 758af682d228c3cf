import CZlib

/// The visible board as a PNG image (8-bit RGB), rasterized from its
/// vectors with anti-aliasing: strokes and lines with round ends as wide
/// as one canvas pixel, outlined and filled rectangles and ellipses, and
/// text in ``BitmapFont`` one cell per character, each in its colour on
/// black, as ``SVGExporter`` draws them. Deflate is the system zlib's.
public enum PNGExporter {
    /// An image: RGB bytes, rows top first.
    public struct Image: Sendable, Equatable {
        /// Width in pixels.
        public let width: Int
        /// Height in pixels.
        public let height: Int
        /// `3 · width · height` bytes: red, green, blue per pixel.
        public var pixels: [UInt8]

        /// A black image.
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
            pixels = [UInt8](repeating: 0, count: 3 * width * height)
        }

        /// The red, green and blue of the pixel at (`x`, `y`).
        public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
            let index = 3 * (y * width + x)
            return (pixels[index], pixels[index + 1], pixels[index + 2])
        }
    }

    /// The largest image side: a board spread wider is scaled down to fit.
    public static let maxSide = 16_384
    /// The most pixels an image has (4096 × 2048): a board spread wider is
    /// scaled down to fit. Drawing takes about 35 bytes a pixel.
    public static let maxPixels = 8_388_608

    /// The whole visible board, sized to hold it (as the SVG export),
    /// `scale` image pixels per canvas pixel (1 to 64; less when the
    /// image would exceed ``maxSide`` or ``maxPixels``).
    public static func export(_ board: Board, scale: Int = 8) -> [UInt8] {
        encode(render(board, scale: scale))
    }

    /// The whole visible board as an image (see ``export(_:scale:)``).
    public static func render(_ board: Board, scale: Int = 8) -> Image {
        let area = (board.visibleBounds ?? Rect(.zero)).inset(by: 2)
        let longest = Double(max(area.width, area.height))
        let scale = min(
            Double(min(max(scale, 1), 64)), Double(maxSide) / longest,
            (Double(maxPixels) / (Double(area.width) * Double(area.height))).squareRoot())
        let width = max(1, Int((Double(area.width) * scale).rounded()))
        let height = max(1, Int((Double(area.height) * scale).rounded()))
        return render(board, area: area, scale: scale, width: width, height: height)
    }

    /// `area` of the canvas fitted into a `width` × `height` image (a
    /// viewport: what a screen of that size shows), centred.
    public static func render(_ board: Board, fitting area: Rect, width: Int, height: Int) -> Image {
        let scale = min(Double(width) / Double(area.width), Double(height) / Double(area.height))
        let shown = Rect(
            minX: area.minX &- Self.clamped((Double(width) / scale - Double(area.width)) / 2),
            minY: area.minY &- Self.clamped((Double(height) / scale - Double(area.height)) / 2),
            maxX: area.maxX, maxY: area.maxY)
        return render(board, area: shown, scale: scale, width: width, height: height)
    }

    /// Draws the visible elements that meet `area` (canvas pixel
    /// `area.minX` starts at image x 0), bottom first.
    static func render(_ board: Board, area: Rect, scale: Double, width: Int, height: Int) -> Image {
        var canvas = Canvas(image: Image(width: width, height: height), area: area, scale: scale)
        let shown = Rect(
            minX: area.minX, minY: area.minY,
            maxX: Self.clamped(Double(area.minX) + Double(width) / scale + 1),
            maxY: Self.clamped(Double(area.minY) + Double(height) / scale + 1))
        for element in board.visibleElements(in: shown) { canvas.draw(element) }
        return canvas.image
    }

    /// A canvas coordinate, within what `Int32` holds (moved elements can
    /// sit near its edges).
    static func clamped(_ value: Double) -> Int32 {
        Int32(max(Double(Int32.min), min(Double(Int32.max), value.rounded(.down))))
    }

    /// PNG bytes of `image`: signature, IHDR, one IDAT (rows filtered
    /// with `Sub`, zlib level 6), IEND.
    public static func encode(_ image: Image) -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity((3 * image.width + 1) * image.height)
        for y in 0..<image.height {
            raw.append(1)  // Sub: each byte less the one three to its left.
            let row = 3 * image.width * y
            for x in 0..<(3 * image.width) {
                raw.append(image.pixels[row + x] &- (x >= 3 ? image.pixels[row + x - 3] : 0))
            }
        }
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(uLong(raw.count))))
        var length = uLongf(compressed.count)
        let status = compressed.withUnsafeMutableBufferPointer { out in
            raw.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &length, input.baseAddress, uLong(input.count), 6)
            }
        }
        precondition(status == Z_OK, "zlib could not compress an image (\(status))")
        compressed.removeLast(compressed.count - Int(length))
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = [UInt8]()
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.height))
        header += [8, 2, 0, 0, 0]  // 8 bits per sample, RGB, deflate, adaptive filters, no interlace
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", compressed)
        png.appendChunk("IEND", [])
        return png
    }
}

/// An image being drawn. Each element's shapes are coverage (0...1) per
/// pixel in its colour; where its segments overlap, a pixel takes the most
/// any of them covers, blended once over what lay there before the
/// element (kept per pixel the first time the element touches it), so
/// nothing is painted twice. Shapes are walked row by row over the pixels
/// they can reach, so the work is proportional to the ink, not to the
/// elements' bounding boxes (a long diagonal stroke costs its length).
private struct Canvas {
    var image: PNGExporter.Image
    let area: Rect
    let scale: Double
    /// Per pixel: the element that last touched it (1-based), its coverage
    /// by that element, and its colour before that element.
    private var stamp: [UInt32]
    private var coverage: [Float]
    private var under: [UInt8]
    private var current: UInt32 = 0
    private var color: (Float, Float, Float) = (0, 0, 0)

    init(image: PNGExporter.Image, area: Rect, scale: Double) {
        self.image = image
        self.area = area
        self.scale = scale
        stamp = [UInt32](repeating: 0, count: image.width * image.height)
        coverage = [Float](repeating: 0, count: image.width * image.height)
        under = [UInt8](repeating: 0, count: 3 * image.width * image.height)
    }

    /// Image x of canvas pixel `x`'s centre.
    private func x(_ value: Int32) -> Double { (Double(Int64(value) - Int64(area.minX)) + 0.5) * scale }
    /// Image y of canvas pixel `y`'s centre.
    private func y(_ value: Int32) -> Double { (Double(Int64(value) - Int64(area.minY)) + 0.5) * scale }

    mutating func draw(_ element: Element) {
        current += 1
        let rgb = Palette.rgb(element.style.color)
        color = (Float(rgb.red), Float(rgb.green), Float(rgb.blue))
        let shift = element.offset
        let radius = scale / 2
        switch element.shape {
        case .stroke(let points):
            var previous: Point?
            for point in points {
                let moved = point.offset(by: shift)
                capsule(from: previous ?? moved, to: moved, radius: radius)
                previous = moved
            }
        case .line(let a, let b):
            capsule(from: a.offset(by: shift), to: b.offset(by: shift), radius: radius)
        case .rectangle(let rect):
            let moved = rect.offset(by: shift)
            if element.style.filled {
                fill(
                    minX: (Double(Int64(moved.minX) - Int64(area.minX))) * scale,
                    minY: (Double(Int64(moved.minY) - Int64(area.minY))) * scale,
                    maxX: (Double(Int64(moved.maxX) - Int64(area.minX)) + 1) * scale,
                    maxY: (Double(Int64(moved.maxY) - Int64(area.minY)) + 1) * scale)
            } else {
                let corners = [
                    Point(moved.minX, moved.minY), Point(moved.maxX, moved.minY), Point(moved.maxX, moved.maxY),
                    Point(moved.minX, moved.maxY),
                ]
                for index in 0..<4 { capsule(from: corners[index], to: corners[(index + 1) % 4], radius: radius) }
            }
        case .ellipse(let rect):
            ellipse(rect.offset(by: shift), filled: element.style.filled)
        case .text(let origin, let text):
            self.text(text, at: origin.offset(by: shift))
        }
    }

    /// Covers pixel (`x`, `y`) by `amount` of the current element.
    private mutating func cover(_ x: Int, _ y: Int, _ amount: Double) {
        guard amount > 0 else { return }
        let index = y * image.width + x
        let pixel = 3 * index
        if stamp[index] != current {
            stamp[index] = current
            coverage[index] = 0
            under[pixel] = image.pixels[pixel]
            under[pixel + 1] = image.pixels[pixel + 1]
            under[pixel + 2] = image.pixels[pixel + 2]
        }
        let alpha = Float(min(amount, 1))
        guard alpha > coverage[index] else { return }
        coverage[index] = alpha
        image.pixels[pixel] = Self.mix(under[pixel], color.0, alpha)
        image.pixels[pixel + 1] = Self.mix(under[pixel + 1], color.1, alpha)
        image.pixels[pixel + 2] = Self.mix(under[pixel + 2], color.2, alpha)
    }

    private static func mix(_ under: UInt8, _ over: Float, _ alpha: Float) -> UInt8 {
        UInt8((Float(under) * (1 - alpha) + over * alpha).rounded())
    }

    /// Rows `from...to` clipped to the image, or nil when none is in it.
    private func rows(_ from: Double, _ to: Double) -> ClosedRange<Int>? {
        let top = max(0, Int(from.rounded(.down)))
        let bottom = min(image.height - 1, Int(to.rounded(.up)))
        return top <= bottom ? top...bottom : nil
    }

    /// Columns `from...to` clipped to the image, or nil when none is in it.
    private func columns(_ from: Double, _ to: Double) -> ClosedRange<Int>? {
        let left = max(0, Int(from.rounded(.down)))
        let right = min(image.width - 1, Int(to.rounded(.up)))
        return left <= right ? left...right : nil
    }

    /// A segment with round ends, `radius` wide on each side: on each row,
    /// only the columns within reach of the part of the segment near it.
    private mutating func capsule(from a: Point, to b: Point, radius: Double) {
        let (ax, ay, bx, by) = (x(a.x), y(a.y), x(b.x), y(b.y))
        let reach = radius + 1
        guard let rowRange = rows(min(ay, by) - reach, max(ay, by) + reach) else { return }
        let (dx, dy) = (bx - ax, by - ay)
        let length = dx * dx + dy * dy
        for py in rowRange {
            let cy = Double(py) + 0.5
            // The part of the segment whose y lies within reach of this row.
            var (t0, t1) = (0.0, 1.0)
            if dy != 0 {
                let (u0, u1) = ((cy - reach - ay) / dy, (cy + reach - ay) / dy)
                (t0, t1) = (max(0, min(u0, u1)), min(1, max(u0, u1)))
                if t0 > t1 { continue }
            } else if abs(cy - ay) > reach {
                continue
            }
            let (x0, x1) = (ax + t0 * dx, ax + t1 * dx)
            guard let columnRange = columns(min(x0, x1) - reach, max(x0, x1) + reach) else { continue }
            for px in columnRange {
                let cx = Double(px) + 0.5
                let along = length == 0 ? 0 : max(0, min(1, ((cx - ax) * dx + (cy - ay) * dy) / length))
                let (ex, ey) = (cx - (ax + along * dx), cy - (ay + along * dy))
                cover(px, py, radius + 0.5 - (ex * ex + ey * ey).squareRoot())
            }
        }
    }

    /// A filled rectangle of image coordinates, edges anti-aliased.
    private mutating func fill(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        guard let rowRange = rows(minY, maxY), let columnRange = columns(minX, maxX) else { return }
        for py in rowRange {
            let vertical = min(Double(py) + 1, maxY) - max(Double(py), minY)
            guard vertical > 0 else { continue }
            for px in columnRange {
                let horizontal = min(Double(px) + 1, maxX) - max(Double(px), minX)
                cover(px, py, vertical * max(0, horizontal))
            }
        }
    }

    /// An ellipse inscribed in `rect` (centres of its edge pixels, as the
    /// SVG export), its outline one canvas pixel wide, or filled to the
    /// edge pixels' outer sides. On each row, only the columns near the
    /// outline (or inside it, filled).
    private mutating func ellipse(_ rect: Rect, filled: Bool) {
        let centerX = (x(rect.minX) + x(rect.maxX)) / 2
        let centerY = (y(rect.minY) + y(rect.maxY)) / 2
        let grow = filled ? scale / 2 : 0
        let radiusX = max((x(rect.maxX) - x(rect.minX)) / 2 + grow, 0.5)
        let radiusY = max((y(rect.maxY) - y(rect.minY)) / 2 + grow, 0.5)
        let reach = filled ? 1 : scale / 2 + 1
        guard let rowRange = rows(centerY - radiusY - reach, centerY + radiusY + reach) else { return }
        /// Half the width of the ellipse with these radii on row `dy`.
        func halfWidth(_ rx: Double, _ ry: Double, _ dy: Double) -> Double? {
            guard rx > 0, ry > 0, abs(dy) < ry else { return nil }
            return rx * (1 - dy * dy / (ry * ry)).squareRoot()
        }
        for py in rowRange {
            let dy = Double(py) + 0.5 - centerY
            guard let outer = halfWidth(radiusX + reach, radiusY + reach, dy) else { continue }
            // Inside the inner ellipse nothing is drawn (outline) or all is
            // covered: those columns are skipped or filled at once.
            let inner = halfWidth(radiusX - reach, radiusY - reach, dy) ?? 0
            var spans = [(centerX - outer, centerX - inner), (centerX + inner, centerX + outer)]
            if filled {
                spans = [(centerX - outer, centerX + outer)]
            }
            for (from, to) in spans {
                guard let columnRange = columns(from, to) else { continue }
                for px in columnRange {
                    let dx = Double(px) + 0.5 - centerX
                    // Distance to the ellipse, to first order: f / |∇f|.
                    let f = dx * dx / (radiusX * radiusX) + dy * dy / (radiusY * radiusY) - 1
                    let gradient =
                        2
                        * (dx * dx / (radiusX * radiusX * radiusX * radiusX) + dy * dy
                        / (radiusY * radiusY * radiusY * radiusY)).squareRoot()
                    let distance = gradient > 0 ? f / gradient : -min(radiusX, radiusY)
                    cover(px, py, filled ? 0.5 - distance : scale / 2 + 0.5 - abs(distance))
                }
            }
        }
    }

    /// Text one cell per character (1 × 2 canvas pixels), each glyph
    /// sampled from its 8 × 16 font pixels, a box filter per image pixel.
    private mutating func text(_ text: String, at origin: Point) {
        for (index, scalar) in text.unicodeScalars.enumerated() {
            let cellX = (Double(Int64(origin.x) + Int64(index) - Int64(area.minX))) * scale
            let cellY = (Double(Int64(origin.y) - Int64(area.minY))) * scale
            let (cellWidth, cellHeight) = (scale, 2 * scale)
            guard let rowRange = rows(cellY, cellY + cellHeight - 1),
                let columnRange = columns(cellX, cellX + cellWidth - 1)
            else { continue }
            let glyph = BitmapFont.glyph(scalar)
            let fontX = Double(BitmapFont.width) / cellWidth
            let fontY = Double(BitmapFont.height) / cellHeight
            for py in rowRange {
                let y0 = (Double(py) - cellY) * fontY
                for px in columnRange {
                    let x0 = (Double(px) - cellX) * fontX
                    cover(px, py, Self.sample(glyph, x0, x0 + fontX, y0, y0 + fontY))
                }
            }
        }
    }

    /// Mean coverage of the glyph over font-pixel rectangle [x0, x1) × [y0, y1).
    private static func sample(_ glyph: [UInt8], _ x0: Double, _ x1: Double, _ y0: Double, _ y1: Double) -> Double {
        var sum = 0.0
        let (width, height) = (BitmapFont.width, BitmapFont.height)
        let rows = max(0, Int(y0.rounded(.down)))..<min(height, Int(y1.rounded(.up)))
        let columns = max(0, Int(x0.rounded(.down)))..<min(width, Int(x1.rounded(.up)))
        guard !rows.isEmpty, !columns.isEmpty else { return 0 }
        for gy in rows {
            let h = min(y1, Double(gy + 1)) - max(y0, Double(gy))
            guard h > 0 else { continue }
            for gx in columns {
                let w = min(x1, Double(gx + 1)) - max(x0, Double(gx))
                guard w > 0 else { continue }
                sum += Double(glyph[gy * width + gx]) / 255 * w * h
            }
        }
        return sum / ((x1 - x0) * (y1 - y0))
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ])
    }

    /// Appends a PNG chunk: length, type, data, CRC-32 of type and data.
    fileprivate mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        append(contentsOf: typed)
        let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        appendBigEndian(UInt32(crc))
    }
}
