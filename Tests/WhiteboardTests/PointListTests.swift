import Testing

@testable import Whiteboard

@Suite struct PointListTests {
    @Test(arguments: [0, 1, 31, 32, 33, 64, 100])
    func aListBuiltAtOnceEqualsOneBuiltPointByPoint(count: Int) {
        let points = (0..<count).map { Point(Int32($0), Int32(-$0)) }
        var appended = PointList()
        for point in points { appended.append(point) }
        let built = PointList(points)
        #expect(Array(built) == points)
        #expect(built == appended)
        #expect(built.count == count && built.last == points.last)
        // It grows on like any list.
        var grown = built
        grown.append(Point(7, 7))
        #expect(Array(grown) == points + [Point(7, 7)])
        #expect(Array(built) == points, "the copy it grew from is unchanged")
    }
}

extension PointListTests {
    @Test func everyCopyKeepsItsPointsWhileTheListGrowsPastChunkBoundaries() {
        var list = PointList()
        var copies: [PointList] = []
        for index in 0..<100 {
            copies.append(list)
            list.append(Point(Int32(index), 1))
        }
        for (count, copy) in copies.enumerated() {
            #expect(copy.count == count)
            #expect(Array(copy) == (0..<count).map { Point(Int32($0), 1) })
            #expect(copy.last == (count == 0 ? nil : Point(Int32(count - 1), 1)))
        }
    }
}
