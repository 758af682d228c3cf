/// The JSON form of board actions, for tools, fixtures and debugging:
/// `{"type": "extendStroke", "stroke": "00000000000a11ce#1", "points": [[1, 2]]}`.
extension BoardAction: Codable {
    enum CodingKeys: String, CodingKey {
        case type, at, style, stroke, points, shape, from, to, text, element, by, area, gesture, elements
    }

    enum Kind: String, Codable {
        case beginStroke, extendStroke, endStroke, addShape, addText, move, restyle, delete, eraseArea, clear, undo,
            redo, continueErase, erase, continueErasing
    }

    /// Writes the action with a `type` field naming its case.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .beginStroke(let point, let style):
            try container.encode(Kind.beginStroke, forKey: .type)
            try container.encode(point, forKey: .at)
            try container.encode(style, forKey: .style)
        case .extendStroke(let id, let points):
            try container.encode(Kind.extendStroke, forKey: .type)
            try container.encode(id, forKey: .stroke)
            try container.encode(points, forKey: .points)
        case .endStroke(let id):
            try container.encode(Kind.endStroke, forKey: .type)
            try container.encode(id, forKey: .stroke)
        case .addShape(let kind, let from, let to, let style):
            try container.encode(Kind.addShape, forKey: .type)
            try container.encode(kind, forKey: .shape)
            try container.encode(from, forKey: .from)
            try container.encode(to, forKey: .to)
            try container.encode(style, forKey: .style)
        case .addText(let point, let text, let style):
            try container.encode(Kind.addText, forKey: .type)
            try container.encode(point, forKey: .at)
            try container.encode(text, forKey: .text)
            try container.encode(style, forKey: .style)
        case .move(let id, let offset):
            try container.encode(Kind.move, forKey: .type)
            try container.encode(id, forKey: .element)
            try container.encode(offset, forKey: .by)
        case .restyle(let id, let style):
            try container.encode(Kind.restyle, forKey: .type)
            try container.encode(id, forKey: .element)
            try container.encode(style, forKey: .style)
        case .delete(let id):
            try container.encode(Kind.delete, forKey: .type)
            try container.encode(id, forKey: .element)
        case .erase(let ids):
            try container.encode(Kind.erase, forKey: .type)
            try container.encode(ids, forKey: .elements)
        case .continueErasing(let gesture, let ids):
            try container.encode(Kind.continueErasing, forKey: .type)
            try container.encode(gesture, forKey: .gesture)
            try container.encode(ids, forKey: .elements)
        case .eraseArea(let rect):
            try container.encode(Kind.eraseArea, forKey: .type)
            try container.encode(rect, forKey: .area)
        case .continueErase(let gesture, let rect):
            try container.encode(Kind.continueErase, forKey: .type)
            try container.encode(gesture, forKey: .gesture)
            try container.encode(rect, forKey: .area)
        case .clear: try container.encode(Kind.clear, forKey: .type)
        case .undo: try container.encode(Kind.undo, forKey: .type)
        case .redo: try container.encode(Kind.redo, forKey: .type)
        }
    }

    /// Reads an action written by ``encode(to:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .type) {
        case .beginStroke:
            self = .beginStroke(
                at: try container.decode(Point.self, forKey: .at),
                style: try container.decode(Style.self, forKey: .style))
        case .extendStroke:
            self = .extendStroke(
                try container.decode(ElementID.self, forKey: .stroke),
                points: try container.decode([Point].self, forKey: .points))
        case .endStroke:
            self = .endStroke(try container.decode(ElementID.self, forKey: .stroke))
        case .addShape:
            self = .addShape(
                try container.decode(ShapeKind.self, forKey: .shape),
                from: try container.decode(Point.self, forKey: .from),
                to: try container.decode(Point.self, forKey: .to),
                style: try container.decode(Style.self, forKey: .style))
        case .addText:
            self = .addText(
                at: try container.decode(Point.self, forKey: .at),
                text: try container.decode(String.self, forKey: .text),
                style: try container.decode(Style.self, forKey: .style))
        case .move:
            self = .move(
                try container.decode(ElementID.self, forKey: .element),
                by: try container.decode(Point.self, forKey: .by))
        case .restyle:
            self = .restyle(
                try container.decode(ElementID.self, forKey: .element), try container.decode(Style.self, forKey: .style)
            )
        case .delete:
            self = .delete(try container.decode(ElementID.self, forKey: .element))
        case .erase:
            self = .erase(try container.decode([ElementID].self, forKey: .elements))
        case .continueErasing:
            self = .continueErasing(
                try container.decode(ElementID.self, forKey: .gesture),
                try container.decode([ElementID].self, forKey: .elements))
        case .eraseArea:
            self = .eraseArea(try container.decode(Rect.self, forKey: .area))
        case .continueErase:
            self = .continueErase(
                try container.decode(ElementID.self, forKey: .gesture), try container.decode(Rect.self, forKey: .area))
        case .clear: self = .clear
        case .undo: self = .undo
        case .redo: self = .redo
        }
    }
}

extension Point {
    /// Writes `[x, y]`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(x)
        try container.encode(y)
    }

    /// Reads `[x, y]`.
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init(try container.decode(Int32.self), try container.decode(Int32.self))
    }
}
