import NetworkSimulator
import Scuttlebutt
import Whiteboard

/// A random multi-origin drawing session: strokes drawn over many extends,
/// shapes, text, moves and restyles of anyone's elements (open strokes
/// too), deletes, erases by id and by area,
/// clears, undo and redo. Actions refer only to elements their origin has
/// already seen recorded, as a real client's would. Points lie within
/// 40 × 20 pixels of the origin, times `spread`.
func randomBoardSession(
    seed: UInt64, origins: Int = 3, actions: Int = 200, spread: Int32 = 1
) -> [Update<BoardAction>] {
    var random = SeededGenerator(seed: seed)
    var script = BoardScript()
    let peers = (0..<origins).map { PeerID(UInt64($0 + 1) << 20) }
    var created: [ElementID] = []
    var openStrokes: [PeerID: ElementID] = [:]
    func point() -> Point {
        Point(Int32.random(in: -40...40, using: &random) * spread, Int32.random(in: -20...20, using: &random) * spread)
    }
    func erased(from created: [ElementID]) -> [ElementID] {
        (0..<Int.random(in: 1...3, using: &random)).map { _ in created.randomElement(using: &random)! }
    }
    func style() -> Style { Style(color: UInt8.random(in: 0...255, using: &random), filled: random.chance(0.3)) }
    for _ in 0..<actions {
        let origin = peers.randomElement(using: &random)!
        if let stroke = openStrokes[origin] {
            if random.chance(0.8) {
                script.record(
                    origin,
                    .extendStroke(stroke, points: (0..<Int.random(in: 1...3, using: &random)).map { _ in point() }))
            } else {
                script.record(origin, .endStroke(stroke))
                openStrokes[origin] = nil
            }
            continue
        }
        let roll = Double.random(in: 0..<1, using: &random)
        let target = created.randomElement(using: &random)
        switch roll {
        case ..<0.2:
            let update = script.record(origin, .beginStroke(at: point(), style: style()))
            openStrokes[origin] = update.id
            created.append(update.id)
        case ..<0.35:
            let kind = ShapeKind.allCases.randomElement(using: &random)!
            created.append(script.record(origin, .addShape(kind, from: point(), to: point(), style: style())).id)
        case ..<0.42:
            created.append(script.record(origin, .addText(at: point(), text: "t\(created.count)", style: style())).id)
        case ..<0.55 where target != nil:
            script.record(origin, .move(target!, by: Point(Int32.random(in: -5...5, using: &random) * spread, spread)))
        case ..<0.62 where target != nil:
            script.record(origin, .restyle(target!, style()))
        case ..<0.68 where target != nil:
            script.record(origin, .delete(target!))
        case ..<0.70 where target != nil:
            // An eraser names what its author saw: ids already recorded.
            let first = script.record(origin, .erase(erased(from: created)))
            // Sometimes a drag: a few more cells continue the first erase.
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                script.record(origin, .continueErasing(first.id, erased(from: created)))
            }
        case ..<0.72:
            // An older peer's area erase.
            let corner = point()
            let first = script.record(origin, .eraseArea(Rect(corner: corner, corner.offset(by: Point(6, 4)))))
            if random.chance(0.5) {
                let next = corner.offset(by: Point(3, 1))
                script.record(origin, .continueErase(first.id, Rect(corner: next, next.offset(by: Point(2, 2)))))
            }
        case ..<0.74:
            script.record(origin, .clear)
        case ..<0.87:
            script.record(origin, .undo)
        default:
            script.record(origin, .redo)
        }
    }
    return script.updates
}
