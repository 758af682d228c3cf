import CZlib
import Foundation
import Scuttlebutt
import Testing
import Whiteboard

/// PNG export: golden images of the fixture boards (decoded and compared
/// pixel by pixel), what shapes cover, and the encoding itself.
@Suite struct PNGExporterTests {
    /// Fixture goldens may differ from a fresh render by this much per
    /// channel (floating-point rounding on another machine), nowhere more.
    static let tolerance = 2

    @Test(arguments: FixtureSessions.all.map(\.name))
    func theFixtureBoardsMatchTheirGoldenImages(name: String) throws {
        let board = FixtureTests.board(FixtureSessions.all.first { $0.name == name }!.updates)
        let file = FixtureTests.directory.appendingPathComponent("\(name)/board.png")
        let bytes = PNGExporter.export(board)
        if FixtureTests.updating { try Data(bytes).write(to: file) }
        let golden = try PNGDecoder.decode(Array(try Data(contentsOf: file)))
        let fresh = try PNGDecoder.decode(bytes)
        #expect((fresh.width, fresh.height) == (golden.width, golden.height), "\(name)")
        guard fresh.pixels.count == golden.pixels.count else { return }
        let worst = zip(fresh.pixels, golden.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= Self.tolerance, "\(name): a channel differs by \(worst)")
        #expect(fresh.pixels.contains { $0 > 0 }, "\(name): something is drawn")
    }

    @Test func shapesCoverWhatTheyShouldInTheirColours() throws {
        var script = BoardScript()
        let red = Palette.rgb(196)
        script.record(
            alice, .addShape(.rectangle, from: Point(0, 0), to: Point(9, 5), style: Style(color: 196, filled: true)))
        script.record(alice, .addShape(.ellipse, from: Point(20, 0), to: Point(30, 10), style: Style(color: 21)))
        let stroke = script.record(bob, .beginStroke(at: Point(0, 20), style: Style(color: 46)))
        script.record(bob, .extendStroke(stroke.id, points: [Point(10, 20), Point(10, 30)]))
        script.record(bob, .addText(at: Point(20, 20), text: "Hé", style: Style(color: 226)))
        let image = PNGExporter.render(script.board, scale: 4)
        let area = script.board.visibleBounds!.inset(by: 2)
        func pixel(_ x: Double, _ y: Double) -> (UInt8, UInt8, UInt8) {
            image[Int((x - Double(area.minX)) * 4), Int((y - Double(area.minY)) * 4)]
        }
        #expect(pixel(4.5, 2.5) == red, "inside the filled rectangle")
        #expect(pixel(-1, -1) == (0, 0, 0), "outside everything")
        #expect(pixel(25.5, 5.5) == (0, 0, 0), "an outlined ellipse is hollow")
        #expect(pixel(25.5, 0.5) == Palette.rgb(21), "its outline is drawn")
        #expect(pixel(5.5, 20.5) == Palette.rgb(46), "along the stroke")
        #expect(pixel(10.5, 25.5) == Palette.rgb(46), "around its corner")
        #expect(pixel(5.5, 25.5) == (0, 0, 0), "not inside the corner")
        // Anti-aliased: the ellipse's outline has pixels between black and blue.
        let blue = Palette.rgb(21).2
        let partial = image.pixels.enumerated().contains { index, value in
            index % 3 == 2 && value > 0 && value < blue && image.pixels[index - 2] == 0
        }
        #expect(partial, "some edge pixels are partly covered")
        // The text's two cells (2 × 2 canvas pixels) hold glyph pixels in its
        // colour's hue (yellow: no blue), and dark ones between strokes.
        let cells = stride(from: 20.0, to: 22, by: 0.25).flatMap { x in
            stride(from: 20.0, to: 22, by: 0.25).map { y in pixel(x, y) }
        }
        #expect(cells.contains { $0.0 > 128 && $0.1 > 128 && $0.2 == 0 }, "glyph pixels in yellow")
        #expect(cells.contains { $0 == (0, 0, 0) }, "and background between them")
    }

    @Test func theEncodingDecodesToTheImageWithValidChunks() throws {
        var image = PNGExporter.Image(width: 7, height: 5)
        for index in image.pixels.indices { image.pixels[index] = UInt8(truncatingIfNeeded: index &* 37) }
        let decoded = try PNGDecoder.decode(PNGExporter.encode(image))
        #expect(decoded == image)
        #expect(throws: PNGDecoder.Failure.self) {
            var broken = PNGExporter.encode(image)
            broken[40] ^= 0xFF
            return try PNGDecoder.decode(broken)
        }
    }

    @Test func aBoardTooWideForTheLargestImageIsScaledToFit() {
        var script = BoardScript()
        script.record(alice, .addShape(.line, from: Point(0, 0), to: Point(100_000, 10), style: red))
        let image = PNGExporter.render(script.board, scale: 8)
        #expect(image.width <= PNGExporter.maxSide && image.width > PNGExporter.maxSide / 2)
        #expect(image.pixels.contains { $0 > 0 })
    }
}

/// Reads the PNG files the exporter writes (8-bit RGB, no interlace, any
/// filter), checking every chunk's CRC: the tests' own decoder.
enum PNGDecoder {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func decode(_ bytes: [UInt8]) throws -> PNGExporter.Image {
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw Failure(description: "not a PNG signature")
        }
        var offset = 8
        var width = 0
        var height = 0
        var data: [UInt8] = []
        func integer(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        while offset + 12 <= bytes.count {
            let length = integer(offset)
            guard offset + 12 + length <= bytes.count else { throw Failure(description: "a chunk runs past the end") }
            let typed = Array(bytes[(offset + 4)..<(offset + 8 + length)])
            let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            guard Int(crc) == integer(offset + 8 + length) else { throw Failure(description: "bad CRC") }
            let type = String(decoding: typed.prefix(4), as: UTF8.self)
            let body = Array(typed.dropFirst(4))
            switch type {
            case "IHDR":
                width = body[0..<4].reduce(0) { $0 << 8 | Int($1) }
                height = body[4..<8].reduce(0) { $0 << 8 | Int($1) }
                guard Array(body[8...]) == [8, 2, 0, 0, 0] else { throw Failure(description: "not 8-bit RGB") }
            case "IDAT": data += body
            case "IEND":
                return try unfilter(inflate(data, size: (3 * width + 1) * height), width: width, height: height)
            default: break
            }
            offset += 12 + length
        }
        throw Failure(description: "no IEND")
    }

    private static func inflate(_ data: [UInt8], size: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var length = uLongf(size)
        let status = out.withUnsafeMutableBufferPointer { buffer in
            data.withUnsafeBufferPointer { uncompress(buffer.baseAddress, &length, $0.baseAddress, uLong($0.count)) }
        }
        guard status == Z_OK, Int(length) == size else { throw Failure(description: "IDAT does not inflate") }
        return out
    }

    private static func unfilter(_ raw: [UInt8], width: Int, height: Int) throws -> PNGExporter.Image {
        var image = PNGExporter.Image(width: width, height: height)
        let stride = 3 * width
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let value = raw[y * (stride + 1) + 1 + x]
                let left = x >= 3 ? Int(image.pixels[y * stride + x - 3]) : 0
                let up = y > 0 ? Int(image.pixels[(y - 1) * stride + x]) : 0
                let corner = x >= 3 && y > 0 ? Int(image.pixels[(y - 1) * stride + x - 3]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = left
                case 2: predicted = up
                case 3: predicted = (left + up) / 2
                case 4:
                    let p = left + up - corner
                    let (pa, pb, pc) = (abs(p - left), abs(p - up), abs(p - corner))
                    predicted = pa <= pb && pa <= pc ? left : (pb <= pc ? up : corner)
                default: throw Failure(description: "filter \(filter)")
                }
                image.pixels[y * stride + x] = value &+ UInt8(truncatingIfNeeded: predicted)
            }
        }
        return image
    }
}
