import HashTreeCollections
import Scuttlebutt

/// A board's elements by id: a persistent table, O(1) to snapshot, whose
/// changes after a snapshot copy little.
///
/// Elements sit in numbered slots, in the order this replica created
/// them, sixteen to a leaf; a persistent map from id to slot changes only
/// when an element is created or removed. The edits that follow a snapshot
/// go mostly to the newest strokes, which share a leaf or two, so the
/// timeline's snapshots pin a few small leaves where a map from id to
/// element pinned a path of hash-trie nodes for every element touched
/// (W4: see README, "Shared workloads").
///
/// Slot numbers are this replica's business: two replicas holding the same
/// elements may number them differently; equality, iteration's contents
/// and everything derived from them do not depend on the numbering.
/// Slots are not reused: a leaf whose elements were all removed is dropped.
public struct ElementTable: Sendable, Equatable {
    typealias Leaf = ContiguousArray<Element?>
    /// Slots per leaf: 2^leafShift.
    static let leafShift = 4
    static let leafSize = 1 << leafShift

    private var slots: TreeDictionary<ElementID, UInt32> = [:]
    private var leaves: TreeDictionary<UInt32, Leaf> = [:]
    private var nextSlot: UInt32 = 0

    /// An empty table.
    public init() {}

    /// The number of elements.
    public var count: Int { slots.count }

    /// Whether there are no elements.
    public var isEmpty: Bool { slots.isEmpty }

    /// The element with this id, if the table holds it.
    public subscript(id: ElementID) -> Element? {
        guard let slot = slots[id] else { return nil }
        return leaves[slot >> Self.leafShift]?[Self.offset(of: slot)]
    }

    /// Every element, in no particular order.
    public var values: Values { Values(leaves: leaves.values) }

    /// The elements of a table, in no particular order.
    public struct Values: Sequence {
        let leaves: TreeDictionary<UInt32, Leaf>.Values

        /// Walks the leaves, skipping empty slots.
        public struct Iterator: IteratorProtocol {
            var leaves: TreeDictionary<UInt32, Leaf>.Values.Iterator
            var leaf: Leaf = []
            var offset = 0

            /// The next element, or nil at the end.
            public mutating func next() -> Element? {
                while true {
                    while offset < leaf.count {
                        defer { offset += 1 }
                        if let element = leaf[offset] { return element }
                    }
                    guard let next = leaves.next() else { return nil }
                    leaf = next
                    offset = 0
                }
            }
        }

        /// An iterator over the elements.
        public func makeIterator() -> Iterator { Iterator(leaves: leaves.makeIterator()) }
    }

    /// Whether two tables hold equal elements under the same ids.
    public static func == (lhs: ElementTable, rhs: ElementTable) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.slots == rhs.slots && lhs.leaves == rhs.leaves { return true }
        return lhs.values.allSatisfy { rhs[$0.id] == $0 }
    }

    /// Puts `element` under its id, replacing the element there.
    /// - Returns: The element replaced, if any.
    @discardableResult
    mutating func insert(_ element: Element) -> Element? {
        if let slot = slots[element.id] {
            return leaves.mutateValue(forKey: slot >> Self.leafShift) { leaf in
                defer { leaf[Self.offset(of: slot)] = element }
                return leaf[Self.offset(of: slot)]
            } ?? nil
        }
        let slot = nextSlot
        nextSlot += 1
        slots[element.id] = slot
        leaves.updateValue(forKey: slot >> Self.leafShift, default: Leaf(repeating: nil, count: Self.leafSize)) {
            $0[Self.offset(of: slot)] = element
        }
        return nil
    }

    /// Removes the element with this id.
    /// - Returns: The element removed, if there was one.
    @discardableResult
    mutating func removeValue(forKey id: ElementID) -> Element? {
        guard let slot = slots.removeValue(forKey: id) else { return nil }
        let leafNumber = slot >> Self.leafShift
        let (removed, isEmpty) =
            leaves.mutateValue(forKey: leafNumber) { leaf in
                defer { leaf[Self.offset(of: slot)] = nil }
                return (leaf[Self.offset(of: slot)], leaf.allSatisfy { $0 == nil || $0?.id == id })
            } ?? (nil, false)
        if isEmpty { leaves.removeValue(forKey: leafNumber) }
        return removed
    }

    /// Calls `body` with the element with this id, in place, if there is one.
    /// - Returns: What `body` returned, or nil when there is no such element.
    @discardableResult
    mutating func mutateValue<Result>(forKey id: ElementID, _ body: (inout Element) -> Result) -> Result? {
        guard let slot = slots[id] else { return nil }
        return leaves.mutateValue(forKey: slot >> Self.leafShift) { leaf in body(&leaf[Self.offset(of: slot)]!) }
    }

    private static func offset(of slot: UInt32) -> Int { Int(slot & UInt32(leafSize - 1)) }
}
