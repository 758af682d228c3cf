/// How an element is drawn: a colour from the 256-colour palette, a brush,
/// and whether closed shapes are filled.
public struct Style: Hashable, Sendable, Codable {
    // The brush (five bytes) is declared first so that the one-byte fields
    // pack after it: 7 bytes, not 10, which keeps `BoardAction` (and so
    // every update held) 8 bytes narrower.
    /// What marks the pixels.
    public var brush: Brush
    /// Index into the xterm 256-colour palette (see ``Palette``).
    public var color: UInt8
    /// Whether rectangles and ellipses are filled (ignored by other shapes).
    public var filled: Bool

    /// A style.
    public init(color: UInt8, brush: Brush = .solid, filled: Bool = false) {
        self.color = color
        self.brush = brush
        self.filled = filled
    }
}

/// What an element's pixels look like in a terminal.
public enum Brush: Hashable, Sendable {
    /// Half-block (or braille) pixels in the element's colour.
    case solid
    /// Every cell the element touches shows this character.
    case glyph(Unicode.Scalar)
}

extension Brush: Codable {
    /// Encodes `solid` as `"solid"` and a glyph as the one-character string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .solid: try container.encode("solid")
        case .glyph(let scalar): try container.encode(String(scalar))
        }
    }

    /// Decodes `"solid"` or a one-scalar string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        if text == "solid" {
            self = .solid
        } else if text.unicodeScalars.count == 1, let scalar = text.unicodeScalars.first {
            self = .glyph(scalar)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a brush is \"solid\" or one character, not \"\(text)\"")
        }
    }
}

/// The xterm 256-colour palette, for exporters that need real colours.
public enum Palette {
    /// The sRGB colour of palette entry `index`.
    public static func rgb(_ index: UInt8) -> (red: UInt8, green: UInt8, blue: UInt8) {
        let system: [(UInt8, UInt8, UInt8)] = [
            (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
            (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
            (255, 0, 255), (0, 255, 255), (255, 255, 255),
        ]
        switch index {
        case 0..<16:
            return system[Int(index)]
        case 16..<232:
            let levels: [UInt8] = [0, 95, 135, 175, 215, 255]
            let cube = Int(index) - 16
            return (levels[cube / 36], levels[(cube / 6) % 6], levels[cube % 6])
        default:
            let gray = UInt8(8 + (Int(index) - 232) * 10)
            return (gray, gray, gray)
        }
    }

    /// `#rrggbb` for palette entry `index`.
    public static func hex(_ index: UInt8) -> String {
        let (red, green, blue) = rgb(index)
        return "#"
            + [red, green, blue].map { value in
                let digits = String(value, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
    }
}
