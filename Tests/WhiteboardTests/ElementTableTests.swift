import NetworkSimulator
import Scuttlebutt
import Testing

@testable import Whiteboard

@Suite struct ElementTableTests {
    func element(_ seq: UInt64, at x: Int32) -> Element {
        Element(
            id: ElementID(origin: PeerID(UInt64(seq % 3) + 1), seq: seq),
            z: OrderKey(timestamp: Timestamp(seq), origin: PeerID(1)),
            shape: .rectangle(Rect(corner: Point(x, 0), Point(x + 1, 1))),
            style: Style(color: 1))
    }

    /// Random inserts, moves and removals against a plain dictionary, with
    /// copies taken along the way that must never change.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func aTableBehavesAsADictionaryAndItsCopiesStayAsTheyWere(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var table = ElementTable()
        var model: [ElementID: Element] = [:]
        var copies: [(ElementTable, [ElementID: Element])] = []
        var nextSeq: UInt64 = 1
        for step in 0..<6_000 {
            let roll = Int.random(in: 0..<10, using: &random)
            if roll < 5 || model.isEmpty {
                let new = element(nextSeq, at: Int32(step))
                nextSeq += 1
                #expect(table.insert(new) == nil)
                model[new.id] = new
            } else if roll < 8, let id = model.keys.randomElement(using: &random) {
                let moved = table.mutateValue(forKey: id) { element -> Point in
                    element.offset = Point(element.offset.x + 1, 0)
                    return element.offset
                }
                model[id]!.offset = Point(model[id]!.offset.x + 1, 0)
                #expect(moved == model[id]!.offset)
            } else if let id = model.keys.randomElement(using: &random) {
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
                #expect(table.removeValue(forKey: id) == nil)
            }
            if step % 500 == 0 { copies.append((table, model)) }
        }
        #expect(table.count == model.count)
        #expect(Set(table.values.map(\.id)) == Set(model.keys))
        for (id, element) in model { #expect(table[id] == element) }
        for (copy, expected) in copies {
            #expect(copy.count == expected.count)
            #expect(copy.values.allSatisfy { expected[$0.id] == $0 }, "a copy changed after it was taken")
        }
    }

    @Test func tablesWithTheSameElementsAreEqualWhateverTheirSlots() {
        let elements = (1...40).map { element($0, at: Int32($0)) }
        var forwards = ElementTable()
        var backwards = ElementTable()
        for element in elements { forwards.insert(element) }
        for element in elements.reversed() { backwards.insert(element) }
        #expect(forwards == backwards)
        backwards.mutateValue(forKey: elements[3].id) { $0.offset = Point(1, 1) }
        #expect(forwards != backwards)
    }

    @Test func removingEverythingFreesTheLeavesAndLeavesAnEmptyTable() {
        var table = ElementTable()
        let elements = (1...100).map { element($0, at: 0) }
        for element in elements { table.insert(element) }
        for element in elements { table.removeValue(forKey: element.id) }
        #expect(table.isEmpty)
        #expect(Array(table.values).isEmpty)
        #expect(table == ElementTable())
    }
}
