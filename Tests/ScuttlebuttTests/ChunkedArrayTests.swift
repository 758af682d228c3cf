import NetworkSimulator
import Testing

@testable import Scuttlebutt

@Suite struct ChunkedArrayTests {
    /// Random inserts, removals, appends, front removals and in-place writes,
    /// mirrored on a plain array that serves as the model.
    @Test(arguments: UInt64(1)...20)
    func behavesLikeAnArray(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var chunked = ChunkedArray<Int>()
        var model: [Int] = []
        var next = 0
        for _ in 0..<4_000 {
            next += 1
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<40:
                chunked.append(next)
                model.append(next)
            case 40..<70:
                // Mostly near the end, as late updates are.
                let depth = min(model.count, Int.random(in: 0...600, using: &random))
                chunked.insert(next, at: model.count - depth)
                model.insert(next, at: model.count - depth)
            case 70..<85 where !model.isEmpty:
                let position = Int.random(in: 0..<model.count, using: &random)
                #expect(chunked.remove(at: position) == model.remove(at: position))
            case 85..<90:
                let k = Int.random(in: 0...min(model.count, 300), using: &random)
                chunked.removeFirst(k)
                model.removeFirst(k)
            case 90..<100 where !model.isEmpty:
                let position = Int.random(in: 0..<model.count, using: &random)
                chunked[position] = -next
                model[position] = -next
            default:
                break
            }
        }
        #expect(Array(chunked) == model)
        #expect(chunked.count == model.count)
        #expect(chunked.last == model.last)
        #expect(chunked.chunks.allSatisfy { !$0.isEmpty && $0.count <= ChunkedArray<Int>.chunkCapacity })
        var start = 0
        for (index, chunk) in chunked.chunks.enumerated() {
            #expect(chunked.starts[index] == start)
            start += chunk.count
        }
    }
}
