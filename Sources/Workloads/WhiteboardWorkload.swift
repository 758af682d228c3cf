/// One action of a shared whiteboard workload (`WHITEBOARD-SPEC.md`,
/// section 1), on an element of the stream's origin, named by the number
/// the origin gave it (the spec's id is `<origin>-<element>`).
public enum WorkloadAction: Sendable, Hashable {
    /// Creates stroke `element` in palette colour `color` with one point.
    case add(element: Int, color: Int, x: Int, y: Int)
    /// Appends 1–3 points, flat `[x1, y1, …]`.
    case extend(element: Int, points: [Int])
    /// Sets the element's offset (absolute, not a delta).
    case move(element: Int, x: Int, y: Int)
}

/// The action stream one origin of a workload records: `gen(seed, origin, n)`
/// of the spec, section 3, drawn in exactly the spec's order so that every
/// engine's harness replays the same strokes.
public struct WorkloadStream: Sendable {
    /// The origin's name (`o0`, `o1`…), the prefix of its element ids.
    public let origin: String
    /// The actions in the order the origin records them.
    public let actions: [WorkloadAction]

    /// The spec's eight stroke colours; an action's `color` indexes it.
    public static let palette = [
        "#000000", "#e03131", "#2f9e44", "#1971c2", "#f08c00", "#6741d9", "#0c8599", "#868e96",
    ]
    /// Extends target one of the origin's this many newest elements.
    static let recent = 20

    /// The first `count` actions of `origin` from `seed`.
    public init(seed: UInt64, origin: String, count: Int) {
        self.origin = origin
        var random = SplitMix64(seed: seed)
        var elements = 0
        var actions: [WorkloadAction] = []
        actions.reserveCapacity(count)
        for _ in 0..<count {
            let roll = random.next(below: 100)
            if elements == 0 || roll < 5 {
                let color = random.next(below: 8)
                let x = random.next(below: 4096)
                let y = random.next(below: 4096)
                actions.append(.add(element: elements, color: color, x: x, y: y))
                elements += 1
            } else if roll < 95 {
                let element = elements - 1 - random.next(below: UInt64(min(Self.recent, elements)))
                let count = 1 + random.next(below: 3)
                var points: [Int] = []
                points.reserveCapacity(2 * count)
                for _ in 0..<count {
                    points.append(random.next(below: 4096))
                    points.append(random.next(below: 4096))
                }
                actions.append(.extend(element: element, points: points))
            } else {
                let element = random.next(below: UInt64(elements))
                let x = random.next(below: 2001) - 1000
                let y = random.next(below: 2001) - 1000
                actions.append(.move(element: element, x: x, y: y))
            }
        }
        self.actions = actions
    }

    /// A stream of these actions.
    init(origin: String, actions: [WorkloadAction]) {
        self.origin = origin
        self.actions = actions
    }

    /// The pen-like variant (not in the spec; this project's typical case):
    /// the same actions, but each extend's points walk from the stroke's
    /// previous point in steps of −8…8 px in x and y, as a hand draws, where
    /// the spec's jump anywhere on the 4096² canvas.
    public func penLike(seed: UInt64) -> WorkloadStream {
        var random = SplitMix64(seed: seed)
        var last: [Int: (x: Int, y: Int)] = [:]
        let walked = actions.map { action -> WorkloadAction in
            switch action {
            case .add(let element, _, let x, let y):
                last[element] = (x, y)
                return action
            case .extend(let element, let points):
                var point = last[element]!
                var flat: [Int] = []
                for _ in 0..<(points.count / 2) {
                    point = (point.x + random.next(below: 17) - 8, point.y + random.next(below: 17) - 8)
                    flat += [point.x, point.y]
                }
                last[element] = point
                return .extend(element: element, points: flat)
            case .move:
                return action
            }
        }
        return WorkloadStream(origin: origin, actions: walked)
    }

    /// The spec's id of `element`: `<origin>-<element>`.
    public func id(of element: Int) -> String { "\(origin)-\(element)" }

    /// One action as the spec's canonical text line (with its newline):
    /// `A <id> <color> <x0> <y0>`, `E <id> <x1> <y1> …`, `M <id> <x> <y>`.
    public func canonicalLine(_ action: WorkloadAction) -> String {
        switch action {
        case .add(let element, let color, let x, let y):
            "A \(id(of: element)) \(Self.palette[color]) \(x) \(y)\n"
        case .extend(let element, let points):
            "E \(id(of: element)) \(points.map(String.init).joined(separator: " "))\n"
        case .move(let element, let x, let y):
            "M \(id(of: element)) \(x) \(y)\n"
        }
    }

    /// The SHA-256 of the canonical text of every action: the spec's stream
    /// digest, which its test vectors give.
    public var digest: String {
        var hash = SHA256()
        for action in actions { hash.update(canonicalLine(action).utf8) }
        return hash.hexDigest()
    }

    /// How many actions of each kind, and the points extends append.
    public var counts: (adds: Int, extends: Int, moves: Int, extendedPoints: Int) {
        actions.reduce(into: (0, 0, 0, 0)) { counts, action in
            switch action {
            case .add: counts.adds += 1
            case .extend(_, let points):
                counts.extends += 1
                counts.extendedPoints += points.count / 2
            case .move: counts.moves += 1
            }
        }
    }
}

/// The spec's plain reference reducer (section 1): what every replica of a
/// workload must reduce to, and its board digest.
public struct WorkloadBoard: Sendable {
    /// One stroke.
    public struct Element: Sendable, Hashable {
        /// The palette colour's index.
        public var color: Int
        /// The offset set by moves.
        public var x = 0
        /// The offset set by moves.
        public var y = 0
        /// Flat `[x1, y1, x2, y2, …]`.
        public var points: [Int]

        /// A stroke in palette colour `color`, offset by `(x, y)`.
        public init(color: Int, x: Int = 0, y: Int = 0, points: [Int]) {
            self.color = color
            self.x = x
            self.y = y
            self.points = points
        }
    }

    /// Elements by their spec id.
    public private(set) var elements: [String: Element] = [:]

    /// An empty board.
    public init() {}

    /// A board of these elements (another engine's board, read back), for
    /// its ``digest``.
    public init(elements: [String: Element]) {
        self.elements = elements
    }

    /// Applies every action of `stream`.
    public mutating func apply(_ stream: WorkloadStream) {
        for action in stream.actions { apply(action, of: stream) }
    }

    /// Applies one action of `stream`.
    public mutating func apply(_ action: WorkloadAction, of stream: WorkloadStream) {
        switch action {
        case .add(let element, let color, let x, let y):
            elements[stream.id(of: element)] = Element(color: color, points: [x, y])
        case .extend(let element, let points):
            elements[stream.id(of: element)]?.points.append(contentsOf: points)
        case .move(let element, let x, let y):
            elements[stream.id(of: element)]?.x = x
            elements[stream.id(of: element)]?.y = y
        }
    }

    /// The spec's board digest: ids in byte order, one line each,
    /// `<id> stroke <color> <x> <y> <p1>,<p2>,…`, hashed with SHA-256.
    public var digest: String {
        var hash = SHA256()
        for id in elements.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let element = elements[id]!
            let points = element.points.map(String.init).joined(separator: ",")
            hash.update(
                "\(id) stroke \(WorkloadStream.palette[element.color]) \(element.x) \(element.y) \(points)\n".utf8)
        }
        return hash.hexDigest()
    }
}

/// W2's bounded shuffle (spec section 6): the order in which `count`
/// updates are delivered when each may arrive up to `window − 1` places
/// late or early.
/// - Returns: Indices into the in-order stream, in delivery order.
public func workloadDeliveryOrder(count: Int, window: Int, seed: UInt64) -> [Int] {
    var random = SplitMix64(seed: seed)
    let keys = (0..<count).map { $0 + random.next(below: UInt64(window)) }
    return (0..<count).sorted { (keys[$0], $0) < (keys[$1], $1) }
}

/// SHA-256 of `lines`, each followed by a newline, as 64 hex digits: how
/// the spec digests a list (the W2 delivery order).
public func workloadDigest(ofLines lines: some Sequence<String>) -> String {
    var hash = SHA256()
    for line in lines { hash.update("\(line)\n".utf8) }
    return hash.hexDigest()
}
