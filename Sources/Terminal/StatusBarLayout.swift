/// Fits the status bar's parts into the terminal's width: what matters
/// least goes first, and a long reason or notice is cut short with "…"
/// rather than pushing the tool, the colour and the help off the screen.
public enum StatusBarLayout {
    /// One part of the status bar.
    public struct Segment: Sendable, Hashable {
        /// What it says, spaces and separator included.
        public var text: String
        /// Its colour (a 256-colour palette index).
        public var color: UInt8
        /// Higher stays longer when the bar is too narrow.
        public var priority: Int
        /// Whether it may be cut short (a reason, a notice) before it is dropped.
        public var shrinks: Bool
        /// Whether it sits at the right end of the bar.
        public var alignsRight: Bool

        /// A segment.
        public init(
            _ text: String, color: UInt8 = 252, priority: Int, shrinks: Bool = false, alignsRight: Bool = false
        ) {
            self.text = text
            self.color = color
            self.priority = priority
            self.shrinks = shrinks
            self.alignsRight = alignsRight
        }

        /// Cells it takes: one per Unicode scalar (the bar shows single-cell
        /// characters only).
        public var width: Int { text.unicodeScalars.count }
    }

    /// The segments to show in `width` cells, in their order: the least
    /// important are dropped, and shrinkable ones cut short, until they fit.
    /// - Complexity: O(n²) in the number of segments (a dozen).
    public static func fit(_ segments: [Segment], width: Int) -> [Segment] {
        var kept = segments
        func total() -> Int { kept.reduce(0) { $0 + $1.width } }
        while total() > width {
            let excess = total() - width
            // Cut the least important shrinkable part first, if that is enough
            // and it keeps a few characters; otherwise drop the least important.
            let lowest = kept.indices.min { (kept[$0].priority, $0) < (kept[$1].priority, $1) }!
            if kept[lowest].shrinks, kept[lowest].width - excess >= 8 {
                let scalars = kept[lowest].text.unicodeScalars
                var text = String(String.UnicodeScalarView(scalars.prefix(scalars.count - excess - 2)))
                text += "… "
                kept[lowest].text = text
                continue
            }
            if kept.count == 1 {
                let scalars = kept[0].text.unicodeScalars
                kept[0].text = String(String.UnicodeScalarView(scalars.prefix(width)))
                break
            }
            kept.remove(at: lowest)
        }
        return kept
    }
}
