/// One terminal cell: a character with optional 256-colour foreground and
/// background (nil: the terminal's default).
public struct Cell: Hashable, Sendable {
    /// What the cell shows.
    public var character: Unicode.Scalar
    /// Foreground palette index.
    public var foreground: UInt8?
    /// Background palette index.
    public var background: UInt8?

    /// A cell.
    public init(_ character: Unicode.Scalar, foreground: UInt8? = nil, background: UInt8? = nil) {
        self.character = character
        self.foreground = foreground
        self.background = background
    }

    /// An empty cell.
    public static let blank = Cell(" ")
}

/// A rectangle of cells, row by row: what a renderer hands to a terminal.
public struct CellGrid: Hashable, Sendable {
    /// Width in cells.
    public let columns: Int
    /// Height in cells.
    public let rows: Int
    /// Cells, row-major.
    public private(set) var cells: [Cell]

    /// A grid of blank cells.
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
        self.cells = Array(repeating: .blank, count: columns * rows)
    }

    /// The cell at `column`, `row`.
    public subscript(column: Int, row: Int) -> Cell {
        get { cells[row * columns + column] }
        set { cells[row * columns + column] = newValue }
    }

    /// The characters of each row, trailing blanks trimmed.
    public var plainLines: [String] {
        (0..<rows).map { row in
            var line = String.UnicodeScalarView()
            for column in 0..<columns { line.append(self[column, row].character) }
            var text = String(line)
            while text.last == " " { text.removeLast() }
            return text
        }
    }
}
