/// The PNG exporter's font: DejaVu Sans Mono rendered into 8 × 16 cells
/// of coverage (`BitmapFont+Glyphs.swift`, made by
/// `Scripts/make-bitmap-font.py`), for printable ASCII and Latin-1. Other
/// characters show as `?`.
enum BitmapFont {
    /// Glyph width in font pixels.
    static let width = 8
    /// Glyph height in font pixels.
    static let height = 16

    /// Each glyph's coverage, 0...255 per font pixel, rows top first, by
    /// Unicode scalar value.
    static let glyphs: [UInt32: [UInt8]] = {
        var glyphs: [UInt32: [UInt8]] = [:]
        let scalars = Array(0x20...0x7E) + Array(0xA0...0xFF)
        func coverage(_ half: StaticString) -> [UInt8] {
            half.withUTF8Buffer { digits in
                digits.map { digit in
                    let value = digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10
                    return value * 17
                }
            }
        }
        for (index, scalar) in scalars.enumerated() {
            glyphs[UInt32(scalar)] = coverage(glyphData[2 * index]) + coverage(glyphData[2 * index + 1])
        }
        return glyphs
    }()

    /// The coverage of `scalar`'s glyph (`?` for one the font lacks).
    static func glyph(_ scalar: Unicode.Scalar) -> [UInt8] {
        glyphs[scalar.value] ?? glyphs[UInt32(UInt8(ascii: "?"))]!
    }
}
