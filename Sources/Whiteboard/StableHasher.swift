import Scuttlebutt

/// A 64-bit FNV-1a hash over explicitly fed bytes: the same input gives the
/// same value in every process on every machine (Swift's `Hasher` is seeded
/// per process, so it cannot be used to compare replicas).
public struct StableHasher: Sendable {
    /// The hash so far.
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    /// A fresh hasher.
    public init() {}

    /// Feeds one byte.
    public mutating func combine(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    /// Feeds an integer's little-endian bytes.
    public mutating func combine<T: FixedWidthInteger>(_ integer: T) {
        var bits = integer.littleEndian
        withUnsafeBytes(of: &bits) { for byte in $0 { combine(byte) } }
    }

    /// Feeds a string's UTF-8 bytes after its length.
    public mutating func combine(_ string: String) {
        combine(UInt64(string.utf8.count))
        for byte in string.utf8 { combine(byte) }
    }

    /// Feeds a boolean.
    public mutating func combine(_ flag: Bool) {
        combine(flag ? 1 as UInt8 : 0)
    }
}

extension Board {
    /// A hash of everything that determines how the board looks and behaves
    /// next (undo histories included), stable across runs and machines.
    /// Replicas that converged have equal hashes.
    /// - Complexity: O(n log n + points).
    public var stateHash: UInt64 {
        var hasher = StableHasher()
        let byID = elements.values.sorted { ($0.id.origin, $0.id.seq) < ($1.id.origin, $1.id.seq) }
        hasher.combine(UInt64(byID.count))
        for element in byID { element.hash(into: &hasher) }
        let histories = undoHistories.sorted { $0.key < $1.key }
        hasher.combine(UInt64(histories.count))
        for (origin, history) in histories {
            hasher.combine(origin.rawValue)
            history.hash(into: &hasher)
        }
        return hasher.value
    }
}

extension StableHasher {
    mutating func combine(_ point: Point) {
        combine(point.x)
        combine(point.y)
    }

    mutating func combine(_ rect: Rect) {
        combine(rect.minX)
        combine(rect.minY)
        combine(rect.maxX)
        combine(rect.maxY)
    }

    mutating func combine(_ id: UpdateID) {
        combine(id.origin.rawValue)
        combine(id.seq)
    }

    mutating func combine(_ key: OrderKey) {
        combine(key.timestamp.rawValue)
        combine(key.origin.rawValue)
    }

    mutating func combine(_ style: Style) {
        combine(style.color)
        combine(style.filled)
        switch style.brush {
        case .solid: combine(0 as UInt32)
        case .glyph(let scalar): combine(scalar.value)
        }
    }
}

extension Element {
    func hash(into hasher: inout StableHasher) {
        hasher.combine(id)
        hasher.combine(z)
        switch shape {
        case .stroke(let points):
            hasher.combine(0 as UInt8)
            hasher.combine(UInt64(points.count))
            for point in points { hasher.combine(point) }
        case .line(let a, let b):
            hasher.combine(1 as UInt8)
            hasher.combine(a)
            hasher.combine(b)
        case .rectangle(let rect):
            hasher.combine(2 as UInt8)
            hasher.combine(rect)
        case .ellipse(let rect):
            hasher.combine(3 as UInt8)
            hasher.combine(rect)
        case .text(let origin, let text):
            hasher.combine(4 as UInt8)
            hasher.combine(origin)
            hasher.combine(text)
        }
        hasher.combine(createdStyle)
        let restyles = restyles.sorted { $0.value.key < $1.value.key }
        hasher.combine(UInt64(restyles.count))
        for (id, write) in restyles {
            hasher.combine(id)
            hasher.combine(write.key)
            hasher.combine(write.style)
        }
        // Only when set, so that boards without one hash as they always did.
        if let restyleFloor {
            hasher.combine(0xF1 as UInt8)
            hasher.combine(restyleFloor)
        }
        hasher.combine(offset)
        let hiders = hiddenBy.sorted { ($0.origin, $0.seq) < ($1.origin, $1.seq) }
        hasher.combine(UInt64(hiders.count))
        for id in hiders { hasher.combine(id) }
        hasher.combine(isOpen)
    }
}

extension UndoHistory {
    func hash(into hasher: inout StableHasher) {
        for records in [undoable, redoable] {
            hasher.combine(UInt64(records.count))
            for record in records {
                switch record {
                case .created(let id):
                    hasher.combine(0 as UInt8)
                    hasher.combine(id)
                case .moved(let id, let offset):
                    hasher.combine(1 as UInt8)
                    hasher.combine(id)
                    hasher.combine(offset)
                case .restyled(let id, let writeID, let write):
                    hasher.combine(2 as UInt8)
                    hasher.combine(id)
                    hasher.combine(writeID)
                    hasher.combine(write.key)
                    hasher.combine(write.style)
                case .hid(let ids, let by):
                    hasher.combine(3 as UInt8)
                    hasher.combine(UInt64(ids.count))
                    for id in ids { hasher.combine(id) }
                    hasher.combine(by)
                }
            }
        }
    }
}
