import HashTreeCollections
import Scuttlebutt

/// A board's elements by id: a persistent table, O(1) to snapshot, whose
/// changes after a snapshot copy little.
///
/// Elements sit in numbered slots, in the order this replica created
/// them, sixteen to a leaf of a ``SlotTrie``; a persistent map from id to
/// slot changes only when an element is created or removed. The edits that follow a snapshot
/// go mostly to the newest strokes, which share a leaf or two, so the
/// timeline's snapshots pin a few small leaves where a map from id to
/// element pinned a path of hash-trie nodes for every element touched
/// (W4: see README, "Shared workloads").
///
/// Slot numbers are this replica's business: two replicas holding the same
/// elements may number them differently; equality, iteration's contents
/// and everything derived from them do not depend on the numbering.
/// Slots are not reused: a leaf whose elements were all removed is freed.
public struct ElementTable: Sendable, Equatable {
    private var slots: TreeDictionary<ElementID, UInt32> = [:]
    private var trie = SlotTrie()
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
        return trie[slot]
    }

    /// Every element, in no particular order.
    public var values: SlotTrie.Values { trie.values }

    /// Whether two tables hold equal elements under the same ids.
    public static func == (lhs: ElementTable, rhs: ElementTable) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.values.allSatisfy { rhs[$0.id] == $0 }
    }

    /// Puts `element` under its id, replacing the element there.
    /// - Returns: The element replaced, if any.
    @discardableResult
    mutating func insert(_ element: Element) -> Element? {
        // One map operation for a new id (the usual case: a creation, a
        // snapshot's decode); a second puts an existing id's slot back.
        let slot = nextSlot
        if let existing = slots.updateValue(slot, forKey: element.id) {
            slots[element.id] = existing
            return trie.update(existing) { value in
                defer { value = element }
                return value
            }
        }
        nextSlot += 1
        trie.update(slot) { $0 = element }
        return nil
    }

    /// Removes the element with this id.
    /// - Returns: The element removed, if there was one.
    @discardableResult
    mutating func removeValue(forKey id: ElementID) -> Element? {
        guard let slot = slots.removeValue(forKey: id) else { return nil }
        return trie.update(slot) { value in
            defer { value = nil }
            return value
        }
    }

    /// Calls `body` with the element with this id, in place, if there is one.
    /// - Returns: What `body` returned, or nil when there is no such element.
    @discardableResult
    mutating func mutateValue<Result>(forKey id: ElementID, _ body: (inout Element) -> Result) -> Result? {
        guard let slot = slots[id] else { return nil }
        return trie.update(slot) { body(&$0!) }
    }
}

/// Numbered slots for elements in a persistent trie: 32-way branches over
/// leaves of 16 slots, indexed by the slot number's bits (no hashing).
/// Nodes are copy-on-write arrays, so a copy of the trie shares every
/// node, and a change copies only the nodes on one path that are shared.
/// A leaf whose slots are all empty is freed.
public struct SlotTrie: Sendable {
    typealias Leaf = ContiguousArray<Element?>

    enum Node: Sendable {
        case leaf(Leaf)
        case branch(ContiguousArray<Node>)
    }

    static let leafShift: UInt32 = 4
    static let branchShift: UInt32 = 5

    private var root = Node.leaf([])
    /// Branch levels above the leaves.
    private var height: UInt32 = 0

    /// The element in `slot`.
    subscript(slot: UInt32) -> Element? {
        guard slot >> (Self.leafShift + Self.branchShift * height) == 0 else { return nil }
        return Self.value(in: root, slot: slot, level: height)
    }

    /// The element in `slot` below `node`, read through borrows: walking
    /// down copies (and retains) no node.
    private static func value(in node: borrowing Node, slot: UInt32, level: UInt32) -> Element? {
        switch node {
        case .leaf(let values):
            let offset = Int(slot & (1 << leafShift - 1))
            return offset < values.count ? values[offset] : nil
        case .branch(let children):
            let index = Int(childIndex(of: slot, level: level))
            guard index < children.count else { return nil }
            return value(in: children[index], slot: slot, level: level - 1)
        }
    }

    /// Calls `body` with `slot`'s value in place, making room first.
    mutating func update<Result>(_ slot: UInt32, _ body: (inout Element?) -> Result) -> Result {
        while slot >> (Self.leafShift + Self.branchShift * height) != 0 {
            root = .branch([root])
            height += 1
        }
        return Self.update(&root, slot: slot, level: height, body)
    }

    private static func childIndex(of slot: UInt32, level: UInt32) -> UInt32 {
        (slot >> (leafShift + branchShift * (level - 1))) & (1 << branchShift - 1)
    }

    private static func update<Result>(
        _ node: inout Node, slot: UInt32, level: UInt32, _ body: (inout Element?) -> Result
    ) -> Result {
        // Consumed, so that the payload is the only reference when nothing
        // else (a snapshot) shares it, and changes it in place.
        switch consume node {
        case .leaf(var values):
            let offset = Int(slot & (1 << leafShift - 1))
            if values.count <= offset {
                values.append(contentsOf: repeatElement(nil, count: (1 << Int(leafShift)) - values.count))
            }
            let result = body(&values[offset])
            let emptied = values[offset] == nil && values.allSatisfy { $0 == nil }
            node = .leaf(emptied ? [] : values)
            return result
        case .branch(var children):
            defer { node = .branch(children) }
            let index = Int(childIndex(of: slot, level: level))
            while children.count <= index { children.append(level == 1 ? .leaf([]) : .branch([])) }
            return update(&children[index], slot: slot, level: level - 1, body)
        }
    }

    /// Every element, in slot order.
    var values: Values { Values(root: root) }

    /// The elements of a trie, in slot order.
    public struct Values: Sequence {
        let root: Node

        /// Walks the trie depth first, skipping empty slots.
        public struct Iterator: IteratorProtocol {
            /// The branches being walked, each with its next child.
            var stack: [(children: ContiguousArray<Node>, next: Int)] = []
            var leaf: Leaf = []
            var offset = 0

            init(root: Node) {
                switch root {
                case .leaf(let values): leaf = values
                case .branch(let children): stack = [(children, 0)]
                }
            }

            /// The next element, or nil at the end.
            public mutating func next() -> Element? {
                while true {
                    while offset < leaf.count {
                        defer { offset += 1 }
                        if let element = leaf[offset] { return element }
                    }
                    guard let (children, next) = stack.last else { return nil }
                    if next == children.count {
                        stack.removeLast()
                        continue
                    }
                    stack[stack.count - 1].next += 1
                    switch children[next] {
                    case .leaf(let values):
                        leaf = values
                        offset = 0
                    case .branch(let grandchildren):
                        stack.append((grandchildren, 0))
                    }
                }
            }
        }

        /// An iterator over the elements.
        public func makeIterator() -> Iterator { Iterator(root: root) }
    }
}
